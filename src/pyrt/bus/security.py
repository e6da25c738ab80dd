"""Who may talk on the bus: ZeroMQ CURVE with one key pair per deployment.

Why: without it any local process could send an order straight to the execution engine
(past the risk manager) or switch the circuit breaker off (order-safety review, S1).

Scheme (one place, used by every bus socket of ``pyrt.bus.zmq``):

- One system key pair in ``<data_dir>/bus_keys/``: ``bus.key`` (public) and
  ``bus.key_secret`` (public + secret, mode 0600; the directory is 0700). It is created at
  first start by whichever process needs it first: written into a private temporary
  directory, then renamed into place, so a reader sees all of it or nothing and two
  processes starting together agree on one pair.
- A socket that binds is a CURVE server, one that connects a CURVE client; both use the
  system pair, so a client proves that it holds the secret key. One ZAP handler per zmq
  context (``zmq.auth.thread.ThreadAuthenticator``) admits only client public keys found
  in the keys directory (every ``*.key`` file there).
- A peer without the key never completes the handshake: nothing it sends is delivered.
  Every failed handshake is seen through a socket monitor, counted (``refusals`` and the
  listeners, e.g. ``bus_auth_failures_total`` of the service) and logged (rate-limited).

The secret never leaves this module: ``BusKeys`` and ``BusSecurity`` do not show it in
``repr`` and no error message contains it. Processes pick their security in one call:
services through ``ServiceRuntime``, the control process at start, tools through
``for_config(cfg)``; a socket created with ``security=PROCESS`` (the default) uses the
one activated in its process, or none (unit tests, benchmarks).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import queue
import shutil
import stat
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import parse_monitor_message

from pyrt.domain.errors import NeedsOperator

log = logging.getLogger("pyrt.bus.auth")

KEYS_DIRNAME = "bus_keys"
PUBLIC_FILE = "bus.key"
SECRET_FILE = "bus.key_secret"

SERVER = "server"  # we refused a peer
CLIENT = "client"  # a server refused us (our key is not the one it knows)

_FAILED_EVENTS: dict[int, str] = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "unknown_key",  # CURVE, but a key the ZAP handler does not know
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol",  # no CURVE at all, or a wrong server key
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake",
}
_MONITOR_EVENTS = sum(_FAILED_EVENTS) | zmq.EVENT_MONITOR_STOPPED
LOG_EVERY_S = 60.0


class BusSecurityError(NeedsOperator):
    """The bus keys cannot be created or loaded; the message names the file, never a key."""


# --------------------------------------------------------------------------- keys


def keys_dir_for(paths: Any) -> Path:
    """The keys directory of a deployment: ``<paths.data_dir>/bus_keys``."""
    return Path(paths.data_dir) / KEYS_DIRNAME


@dataclass(frozen=True, repr=False)
class BusKeys:
    """The system key pair (z85 bytes) and where it lives."""

    keys_dir: Path
    public: bytes
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"BusKeys({str(self.keys_dir)!r}, public={self.public.decode()!r})"


def _cert_text(public: bytes, secret: bytes | None) -> str:
    """zmq's certificate format (``zmq.auth.load_certificate`` reads it)."""
    kind = "Secret" if secret is not None else "Public"
    lines = [
        f"#   ZeroMQ CURVE {kind} Certificate (py_rt bus key)",
        "#   Copy the whole directory to every host of the deployment, mode 0600.",
        "metadata",
        "curve",
        f'    public-key = "{public.decode()}"',
    ]
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"')
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def create_keys(keys_dir: Path) -> bool:
    """Create the key pair in ``keys_dir`` unless it exists. Race-free: the files are
    written into a private temporary directory that is then renamed to ``keys_dir``; a
    process that loses the race drops its own. Returns True if this call created them."""
    keys_dir = Path(keys_dir)
    if (keys_dir / SECRET_FILE).exists():
        return False
    try:
        keys_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{KEYS_DIRNAME}-", dir=keys_dir.parent))  # mode 0700
    except OSError as exc:
        raise BusSecurityError(f"cannot create the bus keys directory {keys_dir}: {exc.strerror}") from None
    try:
        public, secret = zmq.curve_keypair()
        _write(tmp / PUBLIC_FILE, _cert_text(public, None), 0o644)
        _write(tmp / SECRET_FILE, _cert_text(public, secret), 0o600)
        try:
            os.rename(tmp, keys_dir)  # atomic; replaces keys_dir only if it is an empty directory
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False  # another process was first: use its pair
            raise BusSecurityError(f"cannot create the bus keys in {keys_dir}: {exc.strerror}") from None
        log.warning("bus keys created in %s (copy this directory, mode 0600, to every host)", keys_dir)
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_keys(keys_dir: Path) -> BusKeys:
    """Read and check the key pair: the secret file must be private (no group/other
    access) and hold the secret of the public key next to it."""
    keys_dir = Path(keys_dir)
    secret_path = keys_dir / SECRET_FILE
    try:
        mode = secret_path.stat().st_mode
    except FileNotFoundError:
        raise BusSecurityError(
            f"bus secret key {secret_path} is missing (copy the keys directory from the host "
            "that created it, or remove the directory to create a new pair)"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BusSecurityError(
            f"bus secret key {secret_path} is accessible by other users "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {secret_path}"
        )
    try:
        public, secret = zmq.auth.load_certificate(secret_path)
        listed, _ = zmq.auth.load_certificate(keys_dir / PUBLIC_FILE)
    except (OSError, ValueError) as exc:
        name = getattr(exc, "filename", None) or keys_dir
        raise BusSecurityError(f"bus key file in {name} is unreadable or malformed ({type(exc).__name__})") from None
    if secret is None or len(secret) != 40 or len(public) != 40:
        raise BusSecurityError(f"bus secret key {secret_path} is malformed (expected z85 public-key and secret-key)")
    try:
        derived = zmq.curve_public(secret)
    except (zmq.ZMQError, ValueError):
        raise BusSecurityError(f"bus secret key {secret_path} is malformed") from None
    if derived != public or listed != public:
        raise BusSecurityError(f"bus keys in {keys_dir} do not match: {SECRET_FILE} is not the pair of {PUBLIC_FILE}")
    return BusKeys(keys_dir, public, secret)


def ensure_keys(keys_dir: Path) -> BusKeys:
    """Create the pair if it does not exist yet, then load it."""
    create_keys(keys_dir)
    return load_keys(keys_dir)


# --------------------------------------------------------------------------- sockets


class BusSecurity:
    """CURVE settings for bus sockets with one key pair. ``apply(sock, server)`` must be
    called before the socket binds or connects."""

    def __init__(self, keys: BusKeys) -> None:
        self.keys = keys
        self.keys_dir = keys.keys_dir
        self.public = keys.public
        self.domain = "pyrt-" + hashlib.sha256(keys.public).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"BusSecurity({str(self.keys_dir)!r})"

    def apply(self, sock: zmq.Socket[Any], server: bool) -> None:
        if server:
            _zap_for(sock.context).admit(self)
            sock.curve_server = True
            sock.curve_secretkey = self.keys.secret
            sock.curve_publickey = self.keys.public
            sock.zap_domain = self.domain.encode()
        else:
            sock.curve_serverkey = self.keys.public
            sock.curve_publickey = self.keys.public
            sock.curve_secretkey = self.keys.secret
        _watcher().watch(sock, SERVER if server else CLIENT)


class _Zap:
    """The one ZAP handler of a zmq context; each BusSecurity is a domain of it, admitting
    the public keys of its keys directory."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        self.auth = ThreadAuthenticator(context, log=logging.getLogger("pyrt.bus.zap"))
        try:
            self.auth.start()
        except zmq.ZMQError as exc:
            raise BusSecurityError(f"cannot start the bus authenticator (ZAP handler): {exc}") from None
        self.domains: set[str] = set()

    def admit(self, sec: BusSecurity) -> None:
        if sec.domain in self.domains:
            return
        try:
            self.auth.configure_curve(domain=sec.domain, location=str(sec.keys_dir))
        except OSError as exc:
            raise BusSecurityError(f"cannot read the allowed bus keys in {sec.keys_dir}: {exc.strerror}") from None
        self.domains.add(sec.domain)


_lock = threading.RLock()
_zaps: dict[int, tuple[zmq.Context[Any], _Zap]] = {}


def _zap_for(context: zmq.Context[Any]) -> _Zap:
    with _lock:
        entry = _zaps.get(id(context))
        if entry is None or entry[0] is not context:
            entry = (context, _Zap(context))
            _zaps[id(context)] = entry
        return entry[1]


# --------------------------------------------------------------------------- refusals

RefusalListener = Callable[[str, str, str], None]
"""Called with (side, reason, endpoint) for every failed handshake."""

refusals: Counter[tuple[str, str]] = Counter()
"""Failed handshakes in this process by (side, reason) since start."""

_listeners: list[RefusalListener] = []


def add_refusal_listener(fn: RefusalListener) -> None:
    with _lock:
        _listeners.append(fn)


def remove_refusal_listener(fn: RefusalListener) -> None:
    with _lock:
        if fn in _listeners:
            _listeners.remove(fn)


def _record(side: str, reason: str, endpoint: str, last_logged: dict[tuple[str, str, str], tuple[float, int]]) -> None:
    with _lock:
        refusals[(side, reason)] += 1
        listeners = list(_listeners)
    for fn in listeners:
        try:
            fn(side, reason, endpoint)
        except Exception:  # a broken listener must not stop the counting
            log.exception("bus refusal listener failed")
    key = (side, reason, endpoint)
    now = time.monotonic()
    logged_at, suppressed = last_logged.get(key, (-LOG_EVERY_S, 0))
    if now - logged_at < LOG_EVERY_S:
        last_logged[key] = (logged_at, suppressed + 1)
        return
    last_logged[key] = (now, 0)
    more = f" ({suppressed} more since the last report)" if suppressed else ""
    if side == SERVER:
        log.warning("bus: refused a peer on %s without the system key (%s)%s", endpoint, reason, more)
    else:
        log.error("bus: %s refused our key (%s): are the bus keys the same on every host?%s", endpoint, reason, more)


class _Watcher(threading.Thread):
    """Reads the monitor events of every secured socket of the process (one thread)."""

    def __init__(self) -> None:
        super().__init__(name="bus-auth-watch", daemon=True)
        self._new: queue.SimpleQueue[tuple[zmq.Socket[Any], str]] = queue.SimpleQueue()
        self._seq = 0

    def watch(self, sock: zmq.Socket[Any], side: str) -> None:
        with _lock:
            self._seq += 1
            addr = f"inproc://pyrt-bus-auth-{os.getpid()}-{self._seq}"
        sock.monitor(addr, _MONITOR_EVENTS)
        pair = sock.context.socket(zmq.PAIR)  # handed to the watcher thread (the queue is the barrier)
        pair.connect(addr)
        self._new.put((pair, side))

    def run(self) -> None:
        poller = zmq.Poller()
        sides: dict[zmq.Socket[Any], str] = {}
        last_logged: dict[tuple[str, str, str], tuple[float, int]] = {}
        while True:
            while True:
                try:
                    # nothing to watch: block here (zmq's poll returns at once on no sockets,
                    # which made this thread spin a whole core)
                    pair, side = self._new.get(timeout=0.1) if not sides else self._new.get_nowait()
                except queue.Empty:
                    break
                sides[pair] = side
                poller.register(pair, zmq.POLLIN)
            if not sides:
                continue
            for pair, _ in poller.poll(100):
                try:
                    event = parse_monitor_message(pair.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    continue
                if event["event"] == zmq.EVENT_MONITOR_STOPPED:
                    poller.unregister(pair)
                    pair.close(0)
                    del sides[pair]
                    continue
                reason = _FAILED_EVENTS.get(event["event"])
                if reason is not None:
                    endpoint = (
                        event["endpoint"].decode(errors="replace")
                        if isinstance(event["endpoint"], bytes)
                        else str(event["endpoint"])
                    )
                    _record(sides[pair], reason, endpoint, last_logged)


_the_watcher: _Watcher | None = None


def _watcher() -> _Watcher:
    global _the_watcher
    with _lock:
        if _the_watcher is None or not _the_watcher.is_alive():
            _the_watcher = _Watcher()
            _the_watcher.start()
        return _the_watcher


# --------------------------------------------------------------------------- processes


class _Process:
    def __repr__(self) -> str:
        return "PROCESS"


PROCESS: Any = _Process()
"""Default of the bus classes' ``security``: the security activated in this process."""

_active: list[BusSecurity] = []
_by_dir: dict[Path, BusSecurity] = {}


def for_keys_dir(keys_dir: Path) -> BusSecurity:
    """The security of one keys directory (created if missing, loaded once per process)."""
    key = Path(keys_dir).resolve()
    with _lock:
        sec = _by_dir.get(key)
        if sec is None:
            sec = BusSecurity(ensure_keys(key))
            _by_dir[key] = sec
        return sec


def for_config(cfg: Any) -> BusSecurity:
    """The security of a deployment (its keys in ``<data_dir>/bus_keys``)."""
    return for_keys_dir(keys_dir_for(cfg.system.paths))


def activate(sec: BusSecurity) -> None:
    """Make ``sec`` the default of the sockets created from now on in this process."""
    with _lock:
        _active.append(sec)


def deactivate(sec: BusSecurity) -> None:
    """Undo one ``activate(sec)`` (a service thread that ends in a test process)."""
    with _lock:
        for i in range(len(_active) - 1, -1, -1):
            if _active[i] is sec:
                del _active[i]
                return


def active() -> BusSecurity | None:
    with _lock:
        return _active[-1] if _active else None


def resolve(security: BusSecurity | None) -> BusSecurity | None:
    """What a socket uses: ``PROCESS`` -> the active one (or plain), else as given."""
    return active() if security is PROCESS else security
