"""The exception tree (pyrt.domain.errors): every error py_rt raises on purpose is in the
group that says what its caller does, keeps the base its callers already catch, and the
API and the CLI each map errors once, by group."""

from __future__ import annotations

import pytest
import typer

from pyrt.bus.bar_cache import MalformedBarCache
from pyrt.bus.schema import BusError, RequestTimeout, WireError
from pyrt.bus.security import BusSecurityError
from pyrt.config.errors import ConfigError
from pyrt.domain.errors import BadInput, NeedsOperator, PyrtError, Refused, Retryable, group_of
from pyrt.domain.events import BadEvent
from pyrt.ops.api import ApiRefused, http_answer
from pyrt.ops.backup import BackupError, SystemRunning
from pyrt.ops.chaos import ChaosRefused
from pyrt.ops.commands.common import cli_answer, guarded
from pyrt.ops.facade import ActionError
from pyrt.ops.reads import ReadThrottled
from pyrt.ops.supervisor import StartFailed, TargetUnavailable
from pyrt.persistence.journal import JournalError, JournalWriteError
from pyrt.services.execution.lock import AccountLockHeld
from pyrt.services.signals.strategy import StrategyConfigError
from pyrt.simbroker.replay import ReplayDataError
from pyrt.venues.alpaca.feed import MalformedFeedMessage
from pyrt.venues.port import (
    AuthFailed,
    DuplicateClientOrderId,
    NotFound,
    OrderRejectedByVenue,
    OutcomeUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

TREE: dict[type[PyrtError], list[type[Exception]]] = {
    NeedsOperator: [
        ConfigError,
        BusSecurityError,
        AccountLockHeld,
        JournalError,
        JournalWriteError,
        AuthFailed,
        ApiRefused,
        BackupError,
        SystemRunning,
        TargetUnavailable,
        StartFailed,
    ],
    Retryable: [VenueUnavailable, RateLimited, RequestTimeout, ReadThrottled],
    Refused: [OrderRejectedByVenue, DuplicateClientOrderId, NotFound, ActionError, ChaosRefused],
    BadInput: [WireError, MalformedFeedMessage, StrategyConfigError, MalformedBarCache, ReplayDataError, BadEvent],
}
KEPT_BASES: dict[type[Exception], type[Exception]] = {
    AuthFailed: VenueError,
    VenueUnavailable: VenueError,
    RateLimited: VenueError,
    OrderRejectedByVenue: VenueError,
    NotFound: VenueError,
    OutcomeUnknown: VenueError,
    WireError: BusError,
    RequestTimeout: BusError,
    MalformedFeedMessage: ValueError,
    StrategyConfigError: ValueError,
    MalformedBarCache: ValueError,
    ReplayDataError: ValueError,
    BadEvent: ValueError,
    ChaosRefused: ValueError,
    AccountLockHeld: RuntimeError,
    ApiRefused: RuntimeError,
    TargetUnavailable: RuntimeError,
    StartFailed: RuntimeError,
}


@pytest.mark.parametrize(
    ("group", "cls"),
    [(g, c) for g, classes in TREE.items() for c in classes],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
def test_each_error_is_in_exactly_its_group(group: type[PyrtError], cls: type[Exception]) -> None:
    assert issubclass(cls, group)
    assert [g for g in (NeedsOperator, Retryable, Refused, BadInput) if issubclass(cls, g)] == [group]


@pytest.mark.parametrize(("cls", "base"), list(KEPT_BASES.items()), ids=lambda x: getattr(x, "__name__", str(x)))
def test_each_error_keeps_the_base_its_callers_catch(cls: type[Exception], base: type[Exception]) -> None:
    assert issubclass(cls, base) and issubclass(cls, PyrtError)


def test_outcome_unknown_is_in_no_group() -> None:
    """The engine resolves it by looking the order up: neither retry it nor give up."""
    assert group_of(OutcomeUnknown("timeout")) is None


@pytest.mark.parametrize(
    ("exc", "status", "detail"),
    [
        (OrderRejectedByVenue(422, 40010001, "qty must be > 0"), 409, "broker error: 422 qty must be > 0"),
        (NotFound("no such order"), 409, "broker error: no such order"),
        (ActionError("no order 'x'", 404), 404, "no order 'x'"),
        (ActionError("the risk manager did not answer", 503), 503, "the risk manager did not answer"),
        (WireError("malformed", "bad frame"), 422, "malformed: bad frame"),
        (StrategyConfigError("fast must be < slow"), 422, "fast must be < slow"),
        (RequestTimeout("abc", 500), 503, "a service did not answer (is the system running?)"),
        (VenueUnavailable("502 from broker"), 503, "broker error: 502 from broker"),
        (AuthFailed("401"), 503, "broker error: 401"),
        (OutcomeUnknown("timeout"), 503, "broker error: timeout"),
    ],
)
def test_the_api_maps_errors_by_group(exc: PyrtError, status: int, detail: str) -> None:
    assert http_answer(exc) == (status, detail)


@pytest.mark.parametrize(
    ("exc", "code", "start"),
    [
        (ActionError("already active", 409), 1, "refused: already active"),
        (ActionError("the engine is not running", 503), 3, "refused: the engine is not running"),
        (OrderRejectedByVenue(403, None, "insufficient buying power"), 1, "refused: broker error: 403"),
        (RequestTimeout("abc", 500), 3, "a service did not answer"),
        (RateLimited(None), 3, "broker error: rate limited by the venue (try again later)"),
        (AuthFailed("401 unauthorized"), 2, "broker error: 401 unauthorized"),
        (JournalWriteError("disk full"), 2, "error: disk full"),
        (StrategyConfigError("bad"), 2, "error: bad"),
    ],
)
def test_the_cli_maps_errors_by_group(exc: PyrtError, code: int, start: str) -> None:
    got_code, message = cli_answer(exc)
    assert got_code == code and message.startswith(start)


def test_guarded_exits_with_the_mapped_code(capsys: pytest.CaptureFixture[str]) -> None:
    def refused() -> None:
        raise NotFound("no position in MSFT")

    with pytest.raises(typer.Exit) as info:
        guarded(refused)
    assert info.value.exit_code == 1
    assert "refused: broker error: no position in MSFT" in capsys.readouterr().err
    assert guarded(lambda: 7) == 7
