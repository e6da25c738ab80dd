"""Fault injection for the sim broker, deterministic under a seed.

Set through the admin endpoint (`POST /admin/faults`, outside /v2) or config. Each switch is
a small record; probabilities draw from one seeded RNG, counts run down to zero.

    {"reject_next": {"count": 2, "mode": "http"|"stream", "message": "..."},
     "http_error": {"status": 500, "probability": 1.0, "count": 3, "paths": "orders"|"all"},
     "hang": {"seconds": 2.0, "probability": 1.0, "count": 1, "paths": "orders"|"all"},
     "drop_reply": {"probability": 1.0, "count": 1},       # order accepted, HTTP reply lost
     "trade_stream": {"drop": 0.1, "duplicate": 0.1, "reorder": 0.1, "stall_seconds": 0},
     "data_stream": {"stall_seconds": 0}}
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any


class FaultError(ValueError):
    """A fault specification that does not make sense; the message names the field."""


@dataclass
class _Switch:
    probability: float = 1.0
    count: int | None = None  # None: unlimited while set
    paths: str = "orders"

    def fire(self, rng: random.Random, path_kind: str) -> bool:
        if self.paths != "all" and path_kind != self.paths:
            return False
        if self.count is not None and self.count <= 0:
            return False
        if self.probability < 1.0 and rng.random() >= self.probability:
            return False
        if self.count is not None:
            self.count -= 1
        return True


@dataclass
class HttpError(_Switch):
    status: int = 500


@dataclass
class Hang(_Switch):
    seconds: float = 1.0


@dataclass
class RejectNext:
    count: int = 0
    mode: str = "http"
    message: str = "order rejected by fault injection"


@dataclass
class StreamFaults:
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    stall_seconds: float = 0.0


@dataclass
class Faults:
    seed: int = 0
    reject_next: RejectNext = field(default_factory=RejectNext)
    http_error: HttpError | None = None
    hang: Hang | None = None
    drop_reply: _Switch | None = None
    trade_stream: StreamFaults = field(default_factory=StreamFaults)
    data_stream: StreamFaults = field(default_factory=StreamFaults)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # ------------------------------------------------------------ configuration
    def update(self, spec: dict[str, Any]) -> None:
        """Merge a JSON spec; raises FaultError naming the bad field."""
        if not isinstance(spec, dict):
            raise FaultError("faults: expected a JSON object")
        builders = {
            "reject_next": RejectNext,
            "http_error": HttpError,
            "hang": Hang,
            "drop_reply": _Switch,
            "trade_stream": StreamFaults,
            "data_stream": StreamFaults,
        }
        for name, value in spec.items():
            if name == "seed":
                self.seed = int(value)
                self.rng = random.Random(self.seed)
                continue
            if name not in builders:
                raise FaultError(f"faults.{name}: unknown fault (known: {', '.join(sorted(builders))})")
            if value is None:
                setattr(
                    self, name, builders[name]() if name in ("reject_next", "trade_stream", "data_stream") else None
                )
                continue
            if not isinstance(value, dict):
                raise FaultError(f"faults.{name}: expected an object")
            try:
                built = builders[name](**value)
            except TypeError as exc:
                raise FaultError(f"faults.{name}: {exc}") from None
            for key in ("probability", "drop", "duplicate", "reorder"):
                p = getattr(built, key, None)
                if p is not None and not 0.0 <= float(p) <= 1.0:
                    raise FaultError(f"faults.{name}.{key}: must be between 0 and 1")
            if getattr(built, "paths", "orders") not in ("orders", "all"):
                raise FaultError(f"faults.{name}.paths: must be 'orders' or 'all'")
            if name == "reject_next" and built.mode not in ("http", "stream"):
                raise FaultError("faults.reject_next.mode: must be 'http' or 'stream'")
            setattr(self, name, built)

    def clear(self) -> None:
        seed = self.seed
        self.__init__(seed=seed)  # type: ignore[misc]

    def describe(self) -> dict[str, Any]:
        return dict(asdict(self))

    # ------------------------------------------------------------ decisions
    def take_reject(self) -> RejectNext | None:
        if self.reject_next.count > 0:
            self.reject_next.count -= 1
            return self.reject_next
        return None

    def http_error_status(self, path_kind: str) -> int | None:
        sw = self.http_error
        return sw.status if sw is not None and sw.fire(self.rng, path_kind) else None

    def hang_seconds(self, path_kind: str) -> float:
        sw = self.hang
        return sw.seconds if sw is not None and sw.fire(self.rng, path_kind) else 0.0

    def drop_this_reply(self) -> bool:
        sw = self.drop_reply
        return sw is not None and sw.fire(self.rng, "orders")

    def trade_event_copies(self) -> int:
        """How many times to send the next trade update: 0 (dropped), 1, or 2 (duplicated)."""
        ts = self.trade_stream
        if ts.drop and self.rng.random() < ts.drop:
            return 0
        if ts.duplicate and self.rng.random() < ts.duplicate:
            return 2
        return 1

    def reorder_next(self) -> bool:
        ts = self.trade_stream
        return bool(ts.reorder) and self.rng.random() < ts.reorder
