"""Fault decisions are deterministic under a seed."""

from pyrt.simbroker.faults import Faults


def decisions(seed: int) -> list[int]:
    f = Faults(seed=seed)
    f.update({"trade_stream": {"drop": 0.3, "duplicate": 0.3}, "http_error": {"status": 500, "probability": 0.5}})
    return [f.trade_event_copies() for _ in range(200)] + [int(f.http_error_status("orders") or 0) for _ in range(200)]


def test_same_seed_same_faults():
    assert decisions(3) == decisions(3)
    assert decisions(3) != decisions(4)
    assert {0, 1, 2} <= set(decisions(3))


def test_counts_run_down():
    f = Faults(seed=1)
    f.update({"reject_next": {"count": 2}, "http_error": {"status": 503, "count": 1}})
    assert f.take_reject() and f.take_reject() and f.take_reject() is None
    assert f.http_error_status("orders") == 503 and f.http_error_status("orders") is None
    assert f.http_error_status("other") is None
