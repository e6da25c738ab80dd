"""The one exception tree of py_rt, grouped by what the caller should do about an error
rather than by where it was raised. A front end (the control API, the CLI) maps errors to
answers once, by group; a new error class only has to pick its group.

    PyrtError
    ├── NeedsOperator         stop and call a human: retrying cannot help
    │     ConfigError, BusSecurityError, AccountLockHeld, JournalError (JournalWriteError),
    │     AuthFailed (a VenueError), ApiRefused, BackupError (SystemRunning),
    │     TargetUnavailable, StartFailed
    ├── Retryable             transient: the same call may succeed later
    │     VenueUnavailable, RateLimited (VenueErrors), RequestTimeout (a BusError),
    │     ReadThrottled
    ├── Refused               understood and refused: do not repeat it as it is
    │     OrderRejectedByVenue (DuplicateClientOrderId), NotFound (VenueErrors),
    │     ActionError, ChaosRefused
    ├── BadInput              the input is malformed: fix the input
    │     WireError (a BusError), MalformedFeedMessage, StrategyConfigError,
    │     MalformedBarCache, ReplayDataError, BadEvent
    ├── VenueError            base of the venue adapters' errors (each in its group above);
    │     OutcomeUnknown is in none: the engine resolves it by looking the order up
    └── BusError              base of the bus's errors (each in its group above)

Each class keeps its own module and the base its callers catch (``VenueError``,
``BusError``, ``ValueError``, ``RuntimeError``); the group is an extra base. The groups are
plain markers: they add no state, so an ``except Retryable`` sees every retryable error."""

from __future__ import annotations


class PyrtError(Exception):
    """Base of every error py_rt raises on purpose."""


class NeedsOperator(PyrtError):
    """Stop and call a human: the configuration, the keys, a lock or the disk need fixing."""


class Retryable(PyrtError):
    """A transient failure (a timeout, a rate limit, an unavailable peer): try again later."""


class Refused(PyrtError):
    """The request was understood and refused: repeating it unchanged gets the same answer."""


class BadInput(PyrtError):
    """The input (a frame, a feed message, a config value, a file) is malformed."""


GROUPS: tuple[type[PyrtError], ...] = (NeedsOperator, Retryable, Refused, BadInput)
"""The four groups, in the order a front end checks them."""


def group_of(exc: BaseException) -> type[PyrtError] | None:
    """The group of `exc`, or None for an error outside the groups."""
    for group in GROUPS:
        if isinstance(exc, group):
            return group
    return None
