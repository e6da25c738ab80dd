"""Cheap deterministic mutations for the fuzz batches: of bytes (bit flips, interesting
bytes, truncation, splices), of text (lines dropped, duplicated, swapped, stray tokens) and
of JSON-like structures (keys dropped, renamed or added, values swapped for another type or
for a value that is known to hurt decoders: huge ints, NaN, "1e999999", empty strings ...).
All take a `random.Random`, so a batch is reproducible from its seed."""

from __future__ import annotations

import random
from typing import Any

NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 7, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63),
    0.0, -0.0, 0.5, -2.5, 1e308, -1e308, 5e-324, float("nan"), float("inf"), float("-inf"),
    "", " ", "0", "-0", "1", "-1", "0.1", "1e999999", "-1e999999", "1e-999999", "1E+1000000000",
    "NaN", "-nan", "sNaN", "Infinity", "-Infinity", "inf", "1_000", "0x10", "1,5", " 12 ", "abc",
    "\x00", "\t\n", "é", "𝔘", "A" * 300, "null", "true", "{}", "[]",
    [], [0], ["a", 1], [[[]]], {}, {"a": 1}, {"": None}, {"type": "quote"},
]  # fmt: skip
"""Values that have broken decoders before: every one is valid JSON and msgpack."""

INTERESTING_BYTES = bytes([0x00, 0x01, 0x7F, 0x80, 0xC0, 0xC1, 0xC2, 0xC3, 0xC7, 0xCC, 0xCF, 0xD3,
                           0xD4, 0xD6, 0xD7, 0xD8, 0xD9, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xE0, 0xFF])  # fmt: skip

TOKENS = ['"', "'", "[", "]", "{", "}", "=", ",", ":", "\n", "#", ".", "nan", "inf", "-", "1e999",
          "true", "null", '"x"', "[[a]]", "[a.b]", "\\", "\\u0000", "0x7f", "1979-05-27T07:32:00Z",
          '"""', "\t", "é", "9" * 40]  # fmt: skip


def nasty(rng: random.Random) -> Any:
    return rng.choice(NASTY)


def mutate_bytes(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """1-4 byte-level edits."""
    buf = bytearray(data)
    for _ in range(rounds if rounds is not None else rng.randint(1, 4)):
        op = rng.randrange(9)
        n = len(buf)
        if op == 0 and n:  # flip a bit
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # an interesting byte
            buf[rng.randrange(n)] = rng.choice(INTERESTING_BYTES)
        elif op == 2:  # insert random bytes
            i = rng.randint(0, n)
            buf[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and n:  # delete a span
            i = rng.randrange(n)
            del buf[i : i + rng.randint(1, 16)]
        elif op == 4 and n:  # truncate
            del buf[rng.randrange(n) :]
        elif op == 5 and n:  # duplicate a span
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 32))
            buf[j:j] = buf[i:j]
        elif op == 6:  # append garbage
            buf += rng.randbytes(rng.randint(1, 16))
        elif op == 7 and n:  # a random byte
            buf[rng.randrange(n)] = rng.randrange(256)
        elif n:  # overwrite with an interesting byte run
            i = rng.randrange(n)
            buf[i : i + 2] = bytes([rng.choice(INTERESTING_BYTES)]) * 2
    return bytes(buf)


def mutate_text(text: str, rng: random.Random) -> str:
    """1-3 line- or character-level edits of a text document."""
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        op = rng.randrange(7)
        i = rng.randrange(len(lines))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:
            text = text[: rng.randint(0, len(text))]
            continue
        elif op == 4:
            line = lines[i]
            k = rng.randint(0, len(line))
            lines[i] = line[:k] + rng.choice(TOKENS) + line[k:]
        elif op == 5:  # change one digit or letter
            line = lines[i]
            if line:
                k = rng.randrange(len(line))
                lines[i] = line[:k] + rng.choice('0123456789-.eE_xX aZ"') + line[k + 1 :]
        else:
            line = lines[i]
            k = rng.randint(0, len(line))
            lines[i] = line[:k]
        text = "\n".join(lines)
    return text


def mutate_value(value: Any, rng: random.Random, rounds: int | None = None) -> Any:
    """1-3 structural edits of a JSON-like value (returns a new value; the input is not
    changed)."""
    for _ in range(rounds if rounds is not None else rng.randint(1, 3)):
        value = _mutate_once(value, rng, 0)
    return value


def _swap_type(value: Any, rng: random.Random) -> Any:
    op = rng.randrange(6)
    if op == 0:
        return str(value)
    if op == 1:
        return [value]
    if op == 2:
        return {"value": value}
    if op == 3 and isinstance(value, str):
        return value + rng.choice(["e999999", "x", ".5", "0" * 30, " ", "\x00"])
    if op == 4 and isinstance(value, str) and value:
        return value[: rng.randrange(len(value))]
    if op == 5 and isinstance(value, (int, float)) and not isinstance(value, bool):
        return -value if rng.random() < 0.5 else value * 10 ** rng.randint(1, 30)
    return nasty(rng)


def _mutate_once(value: Any, rng: random.Random, depth: int) -> Any:
    if isinstance(value, dict) and value and depth < 6:
        out = dict(value)
        keys = list(out)
        key = rng.choice(keys)
        op = rng.randrange(10)
        if op <= 3:  # go deeper (most edits land inside)
            out[key] = _mutate_once(out[key], rng, depth + 1)
        elif op == 4:
            del out[key]
        elif op == 5:
            out[key] = nasty(rng)
        elif op == 6:
            out[rng.choice(["extra", "", "type", "T", key.upper(), key + "_"])] = nasty(rng)
        elif op == 7:
            out[key + rng.choice(["_", "x", " "])] = out.pop(key)
        elif op == 8:
            out[key] = _swap_type(out[key], rng)
        else:
            return nasty(rng) if rng.random() < 0.3 else out
        return out
    if isinstance(value, list) and value and depth < 6:
        out_list = list(value)
        i = rng.randrange(len(out_list))
        op = rng.randrange(6)
        if op <= 2:
            out_list[i] = _mutate_once(out_list[i], rng, depth + 1)
        elif op == 3:
            del out_list[i]
        elif op == 4:
            out_list.insert(i, out_list[rng.randrange(len(out_list))])
        else:
            out_list[i] = nasty(rng)
        return out_list
    return _swap_type(value, rng) if rng.random() < 0.6 else nasty(rng)
