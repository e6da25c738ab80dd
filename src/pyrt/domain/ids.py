"""Deterministic identifiers.

`client_order_id` is the idempotency key of an order at Alpaca: it is written to the
journal before the HTTP call, so it must be computable again from the same inputs in any
process, fit Alpaca's 48-character limit and differ for different inputs.
"""

from __future__ import annotations

import hashlib
import re

MAX_CLIENT_ORDER_ID_LEN = 48
MAX_ATTEMPT = 999

_PLAIN_PART = re.compile(r"[A-Za-z0-9_.]+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.]")
_HASH_HEX_CHARS = 16  # 64 bits of blake2b
_STRATEGY_PREFIX_MAX = 12


def client_order_id(strategy: str, intent_id: str, attempt: int = 0) -> str:
    """The client_order_id of attempt `attempt` of intent `intent_id` of `strategy`.

    Two shapes, which can never be equal to each other:

    * plain, `<strategy>-<intent_id>-<attempt>` (three fields), when both parts use only
      ``[A-Za-z0-9_.]`` and the result fits in 48 characters;
    * hashed, `<strategy prefix>-<intent prefix>-<attempt>-<16 hex>` (four fields), where
      the prefixes are sanitised and shortened for humans and the hash (blake2b of the
      length-prefixed parts) is what makes the id unique.

    Raises ValueError for an empty strategy or intent_id or an attempt outside 0..999,
    TypeError for an attempt that is not an int.
    """
    if not strategy or not intent_id:
        raise ValueError("strategy and intent_id must be non-empty")
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise TypeError(f"attempt must be an int, got {type(attempt).__name__}")
    if not 0 <= attempt <= MAX_ATTEMPT:
        raise ValueError(f"attempt must be in 0..{MAX_ATTEMPT}, got {attempt}")

    plain = f"{strategy}-{intent_id}-{attempt}"
    if len(plain) <= MAX_CLIENT_ORDER_ID_LEN and _PLAIN_PART.fullmatch(strategy) and _PLAIN_PART.fullmatch(intent_id):
        return plain

    digest = _digest(strategy, intent_id, attempt)
    room = MAX_CLIENT_ORDER_ID_LEN - _HASH_HEX_CHARS - 3 - len(str(attempt))
    strategy_prefix = _sanitise(strategy)[:_STRATEGY_PREFIX_MAX]
    intent_prefix = _sanitise(intent_id)[: room - len(strategy_prefix)]
    return f"{strategy_prefix}-{intent_prefix}-{attempt}-{digest}"


def _sanitise(text: str) -> str:
    return _NOT_ALLOWED.sub("_", text)


def _digest(strategy: str, intent_id: str, attempt: int) -> str:
    # Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
    parts = [strategy.encode("utf-8"), intent_id.encode("utf-8"), str(attempt).encode()]
    material = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hashlib.blake2b(material, digest_size=_HASH_HEX_CHARS // 2).hexdigest()
