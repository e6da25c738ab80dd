"""The order-path stage breakdown: per-intent durations between consecutive stages."""

from pyrt.observability.stages import STAGES, breakdown


def lines_for(intent_id: str, start_ns: int, step_us: int) -> list[str]:
    return [f"{stage} {intent_id} {start_ns + i * step_us * 1000}" for i, stage in enumerate(STAGES)]


def test_breakdown_pairs_consecutive_stages_and_ignores_incomplete_or_foreign_lines():
    lines = lines_for("a", 1_000_000, 10) + lines_for("b", 2_000_000, 20)
    lines += ["signal_in c 5", "garbage", "unknown_stage a 1"]  # c never reached execution
    lines.append(f"exec_submit a {10**12}")  # a later mark of the same stage: the first one counts
    out = breakdown(lines)
    assert sorted(out["tick->signal_in"]) == [10.0, 20.0]
    assert sorted(out["total"]) == [10.0 * (len(STAGES) - 1), 20.0 * (len(STAGES) - 1)]
    assert breakdown(lines, (1_500_000, 3_000_000))["total"] == [20.0 * (len(STAGES) - 1)]
