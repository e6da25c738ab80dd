"""Tiny local receivers for notification tests: an HTTP webhook that records JSON posts, an
SMTP server (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that records
messages, and a port that accepts connections but never answers. All on 127.0.0.1, port 0."""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def wait_for(condition: Any, timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll `condition()` until true, failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


class WebhookReceiver:
    """Records each POST (path, JSON body) and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        """The webhook URL with `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class Mail:
    """One message as received: envelope and parsed content."""

    mail_from: str
    rcpt_to: list[str]
    data: bytes
    auth: tuple[str, str] | None = None

    @property
    def message(self) -> EmailMessage:
        """The parsed message."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Session:
    mail_from: str = ""
    rcpt_to: list[str] = field(default_factory=list)
    auth: tuple[str, str] | None = None


class SmtpReceiver:
    """A minimal SMTP server. With `accept_auth=False` it refuses AUTH and, to prove the
    client redacts what a hostile server says, echoes the password it got in the refusal."""

    def __init__(self, accept_auth: bool = True) -> None:
        self.mails: list[Mail] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                session = _Session()
                self.reply("220 localhost test SMTP")
                for raw in self.rfile:
                    command, _, arg = raw.decode().rstrip("\r\n").partition(" ")
                    verb = command.upper()
                    if verb == "EHLO":
                        self.reply("250-localhost")
                        self.reply("250-AUTH PLAIN")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 localhost")
                    elif verb == "AUTH":
                        _, _, initial = arg.partition(" ")
                        _, user, password = base64.b64decode(initial).decode().split("\0")
                        if accept_auth:
                            session.auth = (user, password)
                            self.reply("235 2.7.0 Authentication successful")
                        else:
                            self.reply(f"535 5.7.8 bad credentials {user}/{password}")
                    elif verb == "MAIL":
                        session.mail_from = arg.partition(":")[2].strip("<> ").split(">")[0]
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        session.rcpt_to.append(arg.partition(":")[2].strip("<> ").split(">")[0])
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        for data_line in self.rfile:
                            if data_line == b".\r\n":
                                break
                            lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                        receiver.mails.append(Mail(session.mail_from, session.rcpt_to, b"".join(lines), session.auth))
                        session = _Session(auth=session.auth)
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class SilentPort:
    """A port whose connections are accepted by the kernel (listen backlog) but never
    answered: an HTTP or SMTP client waits until its timeout."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        """Free the port (pending connections are reset)."""
        self._sock.close()


class RefusingPort:
    """A port nobody listens on (bound, so no one else takes it): connections are refused."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        """Free the port."""
        self._sock.close()
