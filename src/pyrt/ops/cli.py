"""The `pyrt` command line (typer). Thin: every command calls one implementation
elsewhere (the control facade, the supervisor, the sim broker)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    pass

app = typer.Typer(add_completion=False, no_args_is_help=True, help="py_rt: algorithmic trading through Alpaca.")


@app.callback()
def _root() -> None:
    """py_rt: algorithmic trading through Alpaca (or its built-in simulated broker)."""


def _keys_from_env() -> dict[str, str]:
    """The key pair the sim broker accepts: the system's own variables (also from .env),
    else the documented local default pair."""
    from dotenv import dotenv_values

    from pyrt.simbroker.broker import LOCAL_KEYS

    env = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
    key = env.get("ALPACA_API_KEY") or env.get("APCA_API_KEY_ID")
    secret = env.get("ALPACA_SECRET_KEY") or env.get("APCA_API_SECRET_KEY")
    if key and secret:
        return {key: secret}
    return dict(LOCAL_KEYS)


SIM_FLAGS = {
    "host": "--host",
    "port": "--port",
    "data_dir": "--data-dir",
    "seed": "--seed",
    "symbols": "--symbols",
    "allow_shorting": "--allow-shorting",
    "latency_ms": "--latency-ms",
    "slippage_bps": "--slippage-bps",
    "fee_per_share": "--fee-per-share",
    "initial_cash": "--initial-cash",
    "quotes_per_second": "--quotes-per-second",
    "tick_ms": "--tick-ms",
    "session_calendar": "--session-calendar",
    "rate_limit_per_minute": "--rate-limit",
    "replay": "--replay",
    "history_paths": "--history",
}
"""The flag of each SimBrokerConfig field `pyrt sim-broker` can set (for error messages)."""


def sim_broker_config(given: dict[str, Any]) -> Any:
    """A SimBrokerConfig from the flags given (a field not given takes the config's
    default); a bad value is a usage error naming its flag."""
    from pydantic import ValidationError

    from pyrt.config.errors import flatten_errors
    from pyrt.config.system import SimBrokerConfig

    try:
        return SimBrokerConfig.model_validate(given)
    except ValidationError as exc:
        loc, reason = flatten_errors(exc)[0]
        raise typer.BadParameter(reason, param_hint=SIM_FLAGS.get(loc[0], loc[0]) if loc else None) from None


@app.command("sim-broker")
def sim_broker(
    host: str | None = typer.Option(None, help="Address to bind."),
    port: int | None = typer.Option(None, help="Port to bind (0 picks a free one)."),
    data_dir: Path | None = typer.Option(None, help="Where the durable state lives."),
    seed: int | None = typer.Option(None, help="Seed of the synthetic market, ids and faults."),
    symbols: str | None = typer.Option(None, help="Comma-separated tradable symbols."),
    reset: bool = typer.Option(False, help="Start fresh: delete the saved state."),
    allow_shorting: bool | None = typer.Option(None, "--allow-shorting/--no-allow-shorting", help="Allow short sales."),
    latency_ms: float | None = typer.Option(None, help="Simulated order latency before matching."),
    slippage_bps: float | None = typer.Option(None, help="Slippage on market fills, in basis points."),
    fee_per_share: float | None = typer.Option(None, help="Fee per share filled, USD."),
    initial_cash: float | None = typer.Option(None, help="Starting cash of the paper account."),
    quotes_per_second: float | None = typer.Option(None, help="Quotes per second per symbol."),
    tick_ms: float | None = typer.Option(None, help="Market loop period (quotes leave in batches per tick)."),
    session_calendar: bool | None = typer.Option(
        None, "--session-calendar/--no-session-calendar", help="NYSE hours 09:30-16:00 ET instead of 24/7."
    ),
    rate_limit: int | None = typer.Option(None, help="REST requests per minute per key (0 disables)."),
    replay: list[Path] = typer.Option([], help="Replay these historical CSV/Parquet files."),
    replay_speed: float = typer.Option(60.0, help="Replay speed factor (0 = as fast as possible)."),
    history: list[Path] = typer.Option([], help="Serve historical bars from these CSV/Parquet files."),
    ready_file: Path | None = typer.Option(None, help="Write the bound port here once listening."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Run the simulated broker: Alpaca's REST v2, trade_updates and market data streams.
    A flag left out takes the default of the sim_broker section of system.json."""
    from pyrt.simbroker.app import serve, write_port_file

    syms = None
    if symbols is not None:
        syms = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
        if not syms:
            raise typer.BadParameter("at least one symbol is required", param_hint="--symbols")
    flags: dict[str, Any] = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "seed": seed,
        "symbols": syms,
        "allow_shorting": allow_shorting,
        "latency_ms": latency_ms,
        "slippage_bps": slippage_bps,
        "fee_per_share": None if fee_per_share is None else Decimal(str(fee_per_share)),
        "initial_cash": None if initial_cash is None else Decimal(str(initial_cash)),
        "quotes_per_second": quotes_per_second,
        "tick_ms": tick_ms,
        "session_calendar": session_calendar,
        "replay": {"path": tuple(replay), "speed": replay_speed} if replay else None,
        "history_paths": tuple(history) or None,
    }
    given: dict[str, Any] = {field: value for field, value in flags.items() if value is not None}
    if rate_limit is not None:
        given["rate_limit_per_minute"] = rate_limit or None  # 0 disables the limit: None in the config
    config = sim_broker_config(given)
    serve(
        config,
        _keys_from_env(),
        reset=reset,
        on_ready=write_port_file(ready_file) if ready_file else None,
        log_level=log_level,
    )


# --------------------------------------------------------------------------- processes
from pyrt.ops.commands.common import CONFIG_DIR_OPTION  # noqa: E402
from pyrt.ops.commands.common import load_or_exit as _load  # noqa: E402


def _module_overrides(pairs: list[str]) -> dict[str, str]:
    from pyrt.ops.status import canonical_target

    found = {}
    for pair in pairs:
        name, sep, module = pair.partition("=")
        if not sep or not module:
            raise typer.BadParameter(f"{pair!r}: expected NAME=MODULE", param_hint="--service-module")
        found[canonical_target(name)] = module.strip()
    return found


@app.command("run")
def run_cmd(
    service: str = typer.Argument(
        ..., help="market-data, risk-manager, execution-engine, signal-bridge, control or sim-broker."
    ),
    config_dir: Path = CONFIG_DIR_OPTION,
    module: str | None = typer.Option(None, hidden=True, help="Run this module's run(config_dir) instead."),
) -> None:
    """Run one service in the foreground and exit with its code (for systemd and docker)."""
    from pyrt.bootstrap import load_app
    from pyrt.config import ConfigError
    from pyrt.ops.status import canonical_target
    from pyrt.ops.supervisor import TargetUnavailable, run_target

    try:
        target = canonical_target(service)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="SERVICE") from exc
    try:
        load_app(config_dir)  # the whole application's checks (strategy specs too) before the process starts
        code = run_target(target, config_dir, module)
    except ConfigError as exc:
        typer.echo(f"configuration error in {config_dir}:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    except TargetUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command("up")
def up_cmd(
    config_dir: Path = CONFIG_DIR_OPTION,
    safe_mode: bool = typer.Option(False, "--safe-mode", help="Start with PYRT_SAFE_MODE=1 (no new orders)."),
    detach: bool = typer.Option(False, "--detach", help="Return once everything is ready; processes keep running."),
    ready_timeout: float = typer.Option(60.0, help="Seconds each process has to become ready."),
    grace: float = typer.Option(10.0, help="Seconds a process has to exit after SIGTERM before SIGKILL."),
    stop_on_exit: bool = typer.Option(
        True,
        "--stop-on-exit/--keep-on-exit",
        help="Stop everything when a process cannot be restarted (system.json supervisor: restart limit).",
    ),
    background: bool = typer.Option(False, "--background", hidden=True, help="The supervisor of `up --detach`."),
    service_module: list[str] = typer.Option([], hidden=True, help="NAME=MODULE: run a fake module (tests)."),
    chaos: str = typer.Option(
        "",
        "--chaos",
        metavar="PROFILE",
        help="Inject a sim-broker fault profile (flaky_network, slow_broker, stream_drops, "
        "rejections) and check the order invariants; `pyrt chaos status`.",
    ),
) -> None:
    """Start the whole system in order (sim broker, market data, risk, execution, signals, control)
    and keep it running: a process that dies is restarted with backoff (see `pyrt restart`)."""
    from pyrt.ops.chaos import ChaosRefused, validate
    from pyrt.ops.supervisor import Supervisor, SupervisorOptions

    cfg = _load(config_dir)
    if chaos:
        try:
            validate(cfg, chaos)
        except ChaosRefused as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    opts = SupervisorOptions(
        ready_timeout_s=ready_timeout,
        stop_grace_s=grace,
        stop_on_exit=stop_on_exit,
        safe_mode=safe_mode,
        detach=detach,
        modules=_module_overrides(service_module),
        chaos=chaos,
        background=background,
    )
    raise typer.Exit(Supervisor(cfg, config_dir, opts).run())


@app.command("down")
def down_cmd(
    config_dir: Path = CONFIG_DIR_OPTION,
    grace: float = typer.Option(10.0, help="Seconds each process has to exit after SIGTERM before SIGKILL."),
) -> None:
    """Stop the running system in reverse order (SIGTERM, drain, SIGKILL after the grace)."""
    from pyrt.ops.supervisor import down

    raise typer.Exit(down(_load(config_dir), grace, say=typer.echo))


@app.command("status")
def status_cmd(
    config_dir: Path = CONFIG_DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show each process (running, pid, uptime, ready, port, key metrics); exit 3 if one is down."""
    from pyrt.ops.status import status_json, status_table, supervisor_pid, system_status

    cfg = _load(config_dir)
    statuses = system_status(cfg)
    sup = supervisor_pid(cfg)
    typer.echo(status_json(statuses, sup) if as_json else status_table(statuses, sup))
    raise typer.Exit(0 if all(s.running for s in statuses) else 3)


@app.command("logs")
def logs_cmd(
    service: str | None = typer.Argument(None, help="One service (default: all logs merged)."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines."),
    lines: int = typer.Option(50, "-n", "--lines", help="Lines to show from the end of each log."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Print (and follow) logs/<service>.log, or every log merged in time order."""
    import signal
    import sys
    import threading

    from pyrt.ops.logs import follow as follow_logs
    from pyrt.ops.logs import log_files, merged_tail
    from pyrt.ops.status import canonical_target

    cfg = _load(config_dir)
    name = None
    if service is not None:
        try:
            name = "supervisor" if service == "supervisor" else canonical_target(service)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="SERVICE") from exc
    files = log_files(cfg.system.paths.logs_dir, name)
    for line in merged_tail(files, lines):
        typer.echo(line)
    if follow:
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        follow_logs(files, sys.stdout, stop)


chaos_app = typer.Typer(no_args_is_help=True, help="Fault profiles against the sim broker (`pyrt up --chaos`).")
app.add_typer(chaos_app, name="chaos")


@chaos_app.command("status")
def chaos_status_cmd(config_dir: Path = CONFIG_DIR_OPTION) -> None:
    """The latest invariant check of the chaos run; exit 1 if one was violated, 3 if none runs."""
    from pyrt.ops.chaos import status_text

    text, code = status_text(_load(config_dir))
    typer.echo(text)
    raise typer.Exit(code)


def _register_topic_commands() -> None:
    from pyrt.ops.commands import register_all

    register_all(app)


_register_topic_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
