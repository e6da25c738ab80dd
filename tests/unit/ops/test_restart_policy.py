"""The supervisor's restart policy as a pure core: backoff, window, limit, exit code 2."""

from __future__ import annotations

import pytest

from pyrt.ops.restart_policy import RestartPolicy


def test_backoff_doubles_within_the_window_up_to_the_maximum() -> None:
    policy = RestartPolicy(delay_s=0.5, max_delay_s=3.0, limit=10, window_s=600)
    delays = [policy.on_exit("risk_manager", -9, now=float(t)).delay_s for t in range(6)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    first = RestartPolicy(delay_s=0.5).on_exit("risk_manager", 1, now=100.0)
    assert (first.give_up, first.at, first.restarts) == (False, 100.5, 1)


def test_the_limit_counts_restarts_within_the_window_only() -> None:
    policy = RestartPolicy(delay_s=0.1, max_delay_s=1, limit=3, window_s=60)
    assert [policy.on_exit("market_data", 1, now=t).give_up for t in (0.0, 10.0, 20.0)] == [False] * 3
    last = policy.on_exit("market_data", 1, now=30.0)
    assert last.give_up and last.restarts == 3
    assert "after 3 restarts within 60s (limit 3)" in last.reason
    # the first restart has left the window at 60 s: one more is allowed, with the backoff of two
    again = policy.on_exit("market_data", 1, now=60.5)
    assert (again.give_up, again.restarts, again.delay_s) == (False, 3, 0.4)
    assert policy.totals == {"market_data": 4}


def test_each_process_has_its_own_count() -> None:
    policy = RestartPolicy(limit=1, window_s=60)
    assert not policy.on_exit("market_data", 1, now=0).give_up
    assert not policy.on_exit("signal_bridge", 1, now=1).give_up
    assert policy.on_exit("market_data", 1, now=2).give_up
    assert policy.recent("signal_bridge", now=2) == 1


def test_a_configuration_error_is_never_restarted() -> None:
    policy = RestartPolicy()
    decision = policy.on_exit("execution_engine", 2, now=0)
    assert decision.give_up and "configuration error" in decision.reason
    assert policy.totals == {}


def test_limit_zero_gives_up_at_the_first_death() -> None:
    assert RestartPolicy(limit=0).on_exit("control", -9, now=0).give_up


@pytest.mark.parametrize("kwargs", [{"delay_s": 2, "max_delay_s": 1}, {"delay_s": -1}, {"limit": -1}, {"window_s": 0}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RestartPolicy(**kwargs)  # type: ignore[arg-type]
