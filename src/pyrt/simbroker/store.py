"""Durable sim broker state in SQLite: orders, fills, positions, the account and the id
counter. Every change is committed before the HTTP reply or stream event that reveals it,
so a SIGKILL never loses an acknowledged order (WAL survives a process crash)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from pyrt.domain.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from pyrt.persistence.checkpoint import WalCheckpointer
from pyrt.venues.simulated.matching import Changes, MatchingEngine
from pyrt.venues.simulated.models import SimOrder, SimPosition

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, client_order_id TEXT UNIQUE NOT NULL,
    seq INTEGER NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (execution_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,
    ts_ns INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_DECIMAL_FIELDS = ("qty", "notional", "limit_price", "stop_price", "filled_qty", "filled_avg_price", "fees")


_json = msgspec.json.Encoder(enc_hook=lambda obj: _encode(obj))  # noqa: PLW0108 - _encode is defined below


def _dumps(obj: Any) -> str:
    fields = obj.__dataclass_fields__
    return _json.encode({name: getattr(obj, name) for name in fields}).decode()


def _encode(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if hasattr(obj, "value"):
        return obj.value
    raise TypeError(type(obj).__name__)


def _order_from_row(body: str) -> SimOrder:
    raw = json.loads(body)
    for name in _DECIMAL_FIELDS:
        if raw.get(name) is not None:
            raw[name] = Decimal(raw[name])
    raw["side"] = OrderSide(raw["side"])
    raw["type"] = OrderType(raw["type"])
    raw["time_in_force"] = TimeInForce(raw["time_in_force"])
    raw["status"] = OrderStatus(raw["status"])
    return SimOrder(**raw)


class SimStore:
    def __init__(self, data_dir: Path, reset: bool = False) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "sim_broker.db"
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # checkpoints (the only fsyncs in WAL+NORMAL) run on a background thread, not in a request
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)
        self._checkpointer = WalCheckpointer(self.path, "sim-checkpoint", interval_s=2.0)
        self._checkpointer.start()

    def save(self, changes: Changes) -> None:
        """Persist one batch of changes atomically."""
        if not (changes.orders or changes.fills or changes.positions or changes.account):
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO orders (id, client_order_id, seq, status, body) VALUES (?,?,?,?,?)",
                [(o.id, o.client_order_id, o.seq, o.status.value, _dumps(o)) for o in changes.orders],
            )
            db.executemany(
                "INSERT OR IGNORE INTO fills (execution_id, order_id, ts_ns, body) VALUES (?,?,?,?)",
                [(f.execution_id, f.order_id, f.ts_ns, _dumps(f)) for f in changes.fills],
            )
            for symbol, pos in changes.positions.items():
                if pos is None:
                    db.execute("DELETE FROM positions WHERE symbol=?", (symbol,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO positions (symbol, body) VALUES (?,?)",
                        (symbol, _dumps(pos)),
                    )
            meta = {"id_counter": str(changes.id_counter), "seq": str(changes.seq)}
            if changes.account is not None:
                meta["account"] = json.dumps(changes.account)
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)", list(meta.items()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def load_into(self, engine: MatchingEngine) -> int:
        """Restore saved state into a fresh engine; returns the number of orders loaded."""
        orders = [_order_from_row(b) for (b,) in self._db.execute("SELECT body FROM orders ORDER BY seq")]
        positions = []
        for (body,) in self._db.execute("SELECT body FROM positions"):
            raw = json.loads(body)
            positions.append(
                SimPosition(
                    symbol=raw["symbol"],
                    asset_id=raw["asset_id"],
                    qty=Decimal(raw["qty"]),
                    cost_basis=Decimal(raw["cost_basis"]),
                    realized_pnl=Decimal(raw["realized_pnl"]),
                )
            )
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        account = json.loads(meta["account"]) if "account" in meta else None
        engine.load(orders, positions, account, int(meta.get("id_counter", 0)), int(meta.get("seq", 0)))
        return len(orders)

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)", (key, value))

    def close(self) -> None:
        self._checkpointer.stop()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
