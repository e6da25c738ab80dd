"""The `pyrt` command line (typer). Thin: every command calls one implementation
elsewhere (the control facade, the supervisor, the sim broker)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="py_rt: algorithmic trading through Alpaca.")


@app.callback()
def _root() -> None:
    """py_rt: algorithmic trading through Alpaca (or its built-in simulated broker)."""


def _keys_from_env() -> dict[str, str]:
    """The key pair the sim broker accepts: the system's own variables (also from .env),
    else the documented local default pair."""
    from dotenv import dotenv_values

    from pyrt.simbroker.broker import DEFAULT_KEY_ID, DEFAULT_SECRET

    env = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
    key = env.get("ALPACA_API_KEY") or env.get("APCA_API_KEY_ID")
    secret = env.get("ALPACA_SECRET_KEY") or env.get("APCA_API_SECRET_KEY")
    if key and secret:
        return {key: secret}
    return {DEFAULT_KEY_ID: DEFAULT_SECRET}


@app.command("sim-broker")
def sim_broker(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8787, help="Port to bind (0 picks a free one)."),
    data_dir: Path = typer.Option(Path("data/sim_broker"), help="Where the durable state lives."),
    seed: int = typer.Option(42, help="Seed of the synthetic market, ids and faults."),
    symbols: str = typer.Option("AAPL,MSFT,GOOGL", help="Comma-separated tradable symbols."),
    reset: bool = typer.Option(False, help="Start fresh: delete the saved state."),
    allow_shorting: bool = typer.Option(False, help="Allow short sales."),
    latency_ms: float = typer.Option(0.0, help="Simulated order latency before matching."),
    slippage_bps: float = typer.Option(0.0, help="Slippage on market fills, in basis points."),
    fee_per_share: float = typer.Option(0.0, help="Fee per share filled, USD."),
    initial_cash: float = typer.Option(100_000.0, help="Starting cash of the paper account."),
    quotes_per_second: float = typer.Option(20.0, help="Quotes per second per symbol."),
    tick_ms: float = typer.Option(50.0, help="Market loop period."),
    session_calendar: bool = typer.Option(False, help="NYSE hours 09:30-16:00 ET instead of 24/7."),
    rate_limit: int = typer.Option(200, help="REST requests per minute per key (0 disables)."),
    replay: list[Path] = typer.Option([], help="Replay these historical CSV/Parquet files."),
    replay_speed: float = typer.Option(60.0, help="Replay speed factor (0 = as fast as possible)."),
    history: list[Path] = typer.Option([], help="Serve historical bars from these CSV/Parquet files."),
    ready_file: Optional[Path] = typer.Option(None, help="Write the bound port here once listening."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Run the simulated broker: Alpaca's REST v2, trade_updates and market data streams."""
    from pyrt.simbroker.app import serve
    from pyrt.simbroker.broker import SimBrokerOptions

    syms = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if not syms:
        raise typer.BadParameter("at least one symbol is required", param_hint="--symbols")
    opts = SimBrokerOptions(
        host=host,
        port=port,
        data_dir=data_dir,
        seed=seed,
        symbols=syms,
        reset=reset,
        keys=_keys_from_env(),
        allow_shorting=allow_shorting,
        latency_ms=latency_ms,
        slippage_bps=Decimal(str(slippage_bps)),
        fee_per_share=Decimal(str(fee_per_share)),
        initial_cash=Decimal(str(initial_cash)),
        quotes_per_second=quotes_per_second,
        tick_ms=tick_ms,
        session_calendar=session_calendar,
        rate_limit_per_minute=rate_limit,
        replay_paths=tuple(replay),
        replay_speed=replay_speed,
        history_paths=tuple(history),
    )
    serve(opts, ready_file=ready_file, log_level=log_level)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
