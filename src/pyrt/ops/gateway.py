"""The metrics gateway: one /metrics (the guide's `curl localhost:9090/metrics`) that
scrapes every service's own /metrics and serves them merged as one valid Prometheus text
exposition (format 0.0.4).

Merging rules:
- samples are grouped by family, each family once with one HELP and one TYPE line;
- a family exposed by more than one service (process_*, python_*, trading_messages_processed_total
  ...) gets a `service="<name>"` label on each sample that has none yet, so samples stay
  distinct; a family exposed by one service keeps its samples unchanged;
- integral values are written without ".0" (`market_data_websocket_connected 1`), every other
  value exactly as the service wrote it;
- a service that cannot be scraped is skipped and reported by `pyrt_gateway_scrape_up{service} 0`.
"""

from __future__ import annotations

import http.server
import logging
import math
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

log = logging.getLogger("pyrt.gateway")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total", "_info")
_EXACT_INT_LIMIT = 2**53


# --------------------------------------------------------------------------- parsing
@dataclass
class Sample:
    """One sample line; label values are kept escaped exactly as read."""

    name: str
    labels: list[tuple[str, str]]
    value: str
    timestamp: str | None = None


@dataclass
class Family:
    """A metric family: its HELP and TYPE (as read; None when absent) and its samples."""

    name: str
    help: str | None = None
    type: str | None = None
    samples: list[Sample] = field(default_factory=list)


def _parse_labels(text: str, start: int) -> tuple[list[tuple[str, str]], int]:
    """Labels from text[start] == '{'; returns them and the index after the closing '}'."""
    labels: list[tuple[str, str]] = []
    i = start + 1
    while True:
        while i < len(text) and text[i] in " ,":
            i += 1
        if i >= len(text):
            raise ValueError("unterminated label set")
        if text[i] == "}":
            return labels, i + 1
        eq = text.index("=", i)
        name = text[i:eq].strip()
        i = eq + 1
        while text[i] == " ":
            i += 1
        if text[i] != '"':
            raise ValueError(f"label {name} value is not quoted")
        i += 1
        chars: list[str] = []
        while text[i] != '"':
            if text[i] == "\\":
                chars.append(text[i : i + 2])
                i += 2
            else:
                chars.append(text[i])
                i += 1
        labels.append((name, "".join(chars)))
        i += 1


def parse_sample(line: str) -> Sample:
    """One exposition sample line: `name{labels} value [timestamp]`."""
    line = line.strip()
    cut = len(line)
    for stop in ("{", " ", "\t"):
        pos = line.find(stop)
        if pos != -1:
            cut = min(cut, pos)
    name = line[:cut]
    labels: list[tuple[str, str]] = []
    rest_at = cut
    if cut < len(line) and line[cut] == "{":
        labels, rest_at = _parse_labels(line, cut)
    rest = line[rest_at:].split()
    if not name or not rest or len(rest) > 2:
        raise ValueError(f"malformed sample line: {line!r}")
    return Sample(name, labels, rest[0], rest[1] if len(rest) == 2 else None)


def _belongs(sample_name: str, family: Family | None) -> bool:
    if family is None:
        return False
    if sample_name == family.name:
        return True
    return sample_name.startswith(family.name) and sample_name[len(family.name) :] in SAMPLE_SUFFIXES


def parse_exposition(text: str) -> list[Family]:
    """Families of a Prometheus text exposition, in order. Malformed lines are skipped."""
    families: dict[str, Family] = {}
    current: Family | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                current = families.setdefault(parts[2], Family(parts[2]))
                value = parts[3] if len(parts) == 4 else ""
                if parts[1] == "HELP":
                    current.help = value
                else:
                    current.type = value
            continue
        try:
            sample = parse_sample(line)
        except (ValueError, IndexError):
            log.debug("skipping malformed exposition line %r", line)
            continue
        if not _belongs(sample.name, current):
            current = families.setdefault(sample.name, Family(sample.name))
        assert current is not None
        current.samples.append(sample)
    return list(families.values())


# --------------------------------------------------------------------------- rendering
def format_value(raw: str) -> str:
    """An integral value without its fraction ("1.0" -> "1", "2.5e+07" -> "25000000");
    anything else (1.5, 1e-05, +Inf, NaN) exactly as given."""
    try:
        number = float(raw)
    except ValueError:
        return raw
    if math.isfinite(number) and number.is_integer() and abs(number) < _EXACT_INT_LIMIT:
        return str(int(number))
    return raw


def render_sample(sample: Sample) -> str:
    """One exposition line of `sample` (value formatted by `format_value`)."""
    labels = ""
    if sample.labels:
        labels = "{" + ",".join(f'{k}="{v}"' for k, v in sample.labels) + "}"
    line = f"{sample.name}{labels} {format_value(sample.value)}"
    return f"{line} {sample.timestamp}" if sample.timestamp else line


def _with_service(sample: Sample, service: str) -> Sample:
    if any(k == "service" for k, _ in sample.labels):
        return sample
    return Sample(sample.name, [("service", service), *sample.labels], sample.value, sample.timestamp)


def merge_families(per_service: Mapping[str, Iterable[Family]]) -> list[Family]:
    """Merge the families of several services (in the mapping's order) into one list, each
    family once; families of more than one service get a `service` label on their samples."""
    owners: dict[str, list[tuple[str, Family]]] = {}
    for service, families in per_service.items():
        for family in families:
            owners.setdefault(family.name, []).append((service, family))
    merged: list[Family] = []
    for name, owned in owners.items():
        shared = len({service for service, _ in owned}) > 1
        first = owned[0][1]
        out = Family(name, first.help, first.type)
        for service, family in owned:
            out.help = out.help if out.help is not None else family.help
            out.type = out.type if out.type is not None else family.type
            out.samples.extend(_with_service(s, service) if shared else s for s in family.samples)
        merged.append(out)
    return merged


def render_families(families: Iterable[Family]) -> str:
    """Text exposition of `families` (ends with a newline unless empty)."""
    lines: list[str] = []
    for family in families:
        if family.help is not None:
            lines.append(f"# HELP {family.name} {family.help}".rstrip())
        if family.type is not None:
            lines.append(f"# TYPE {family.name} {family.type}")
        lines.extend(render_sample(s) for s in family.samples)
    return "".join(f"{line}\n" for line in lines)


def merge_expositions(texts: Mapping[str, str | None], durations_s: Mapping[str, float] | None = None) -> str:
    """The merged exposition of several services' texts (None: the service could not be
    scraped), followed by the gateway's own `pyrt_gateway_scrape_up` (and, when given,
    `pyrt_gateway_scrape_duration_seconds`) per service."""
    parsed = {service: parse_exposition(text) for service, text in texts.items() if text is not None}
    families = merge_families(parsed)
    up = Family("pyrt_gateway_scrape_up", "1 if the service's /metrics could be scraped", "gauge")
    up.samples = [Sample(up.name, [("service", s)], "1" if t is not None else "0") for s, t in texts.items()]
    families.append(up)
    if durations_s:
        took = Family("pyrt_gateway_scrape_duration_seconds", "Time to scrape the service's /metrics", "gauge")
        took.samples = [Sample(took.name, [("service", s)], f"{d:.6f}") for s, d in durations_s.items()]
        families.append(took)
    return render_families(families)


# --------------------------------------------------------------------------- serving
@dataclass(frozen=True)
class ScrapeTarget:
    """A service's /metrics URL."""

    service: str
    url: str


def scrape(url: str, timeout_s: float) -> str | None:
    """GET `url` as text, or None if it fails for any reason (the service is down)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body: bytes = response.read()
            return body.decode("utf-8")
    except (OSError, ValueError) as exc:
        log.debug("scrape of %s failed: %s", url, exc)
        return None


class MetricsGateway:
    """An HTTP server (stdlib, daemon thread) answering GET /metrics with the merged
    metrics of `targets()` (called at each request, so ports can change), then the families
    of `extra()` when given. Port 0 picks a
    free port; `port` is the bound one. Use as a context manager or call `close()`."""

    def __init__(
        self,
        targets: Callable[[], list[ScrapeTarget]],
        host: str = "127.0.0.1",
        port: int = 0,
        timeout_s: float = 2.0,
        extra: Callable[[], list[Family]] | None = None,
    ) -> None:
        self.targets = targets
        self.extra = extra  # the gateway's own families besides the services' (the supervisor's)
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gateway-scrape")
        self._server = http.server.ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self.host: str = str(self._server.server_address[0])
        self.port: int = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="metrics-gateway", daemon=True
        )
        self._thread.start()

    def collect(self) -> str:
        """Scrape every target (in parallel) and return the merged exposition."""
        targets = self.targets()

        def timed(target: ScrapeTarget) -> tuple[str | None, float]:
            started = time.perf_counter()
            text = scrape(target.url, self.timeout_s)
            return text, time.perf_counter() - started

        results = list(self._pool.map(timed, targets))
        texts = {t.service: text for t, (text, _) in zip(targets, results, strict=True)}
        durations = {t.service: took for t, (_, took) in zip(targets, results, strict=True)}
        merged = merge_expositions(texts, durations)
        return merged + render_families(self.extra()) if self.extra is not None else merged

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server API
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, status, ctype = gateway.collect().encode(), 200, CONTENT_TYPE
                elif path in ("/", "/healthz"):
                    body, status, ctype = b"ok\n", 200, "text/plain; charset=utf-8"
                else:
                    body, status, ctype = b"not found\n", 404, "text/plain; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # http.server API
                log.debug("gateway %s", format % args)

        return Handler

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> MetricsGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
