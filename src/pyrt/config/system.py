"""Typed model of `config/system.json`: venue, simulated broker, services, ports and paths.
Every field has a default, so `{}` is a valid (local, simulated) system.json."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from pyrt.config.errors import problems_error
from pyrt.config.types import (
    Host,
    Port,
    RelPath,
    StrictModel,
    Symbol,
    Symbols,
    Url,
    ZmqAddress,
    is_loopback_host,
    non_empty,
    zmq_tcp_host_port,
)

SERVICE_NAMES = ("market_data", "signal_bridge", "risk_manager", "execution_engine")
"""The four services, spelled as in their log file and metrics port names."""

SIM_BROKER = "sim_broker"
"""The embedded simulated broker's process (started only when venue.kind is "sim")."""
CONTROL = "control"
"""The control process: the metrics gateway and the control API."""
START_ORDER = (SIM_BROKER, "market_data", "risk_manager", "execution_engine", "signal_bridge", CONTROL)
"""Every process of a deployment, in the order `pyrt up` starts them (`pyrt down` stops them
in reverse): the venue first, then each service after the ones it talks to."""
TRADING_SERVICES = tuple(name for name in START_ORDER if name in SERVICE_NAMES)
"""The four services in start order (what the kill switch stops, the gateway scrapes)."""
assert set(TRADING_SERVICES) == set(SERVICE_NAMES), "START_ORDER must hold every service"

ALPACA_REQUESTS_PER_MINUTE = 200
DEFAULT_SYMBOLS = ("AAPL", "MSFT", "GOOGL")
SIM_LISTED_SYMBOLS = (
    "AAPL", "ABBV", "ABNB", "ADBE", "AMD", "AMZN", "AVGO", "BA", "BAC", "C", "CAT", "COST", "CRM", "CSCO",
    "CVX", "DIA", "DIS", "GE", "GOOG", "GOOGL", "GS", "HD", "IBM", "INTC", "IWM", "JNJ", "JPM", "KO", "LLY",
    "LOW", "MA", "MCD", "META", "MMM", "MRK", "MS", "MSFT", "NFLX", "NKE", "NVDA", "ORCL", "PEP", "PFE", "PG",
    "PYPL", "QCOM", "QQQ", "SBUX", "SPY", "T", "TGT", "TSLA", "TXN", "UBER", "UNH", "V", "VZ", "WFC", "WMT",
    "XOM",
)  # fmt: skip
"""What the sim broker lists (its /v2/assets) besides the symbols it is configured to serve:
a symbol outside both is refused by the config check and a reload, as a venue that does not
list it would refuse it; one inside is learnt by a running sim broker when it is subscribed to."""

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
EmailAddress = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]
EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]


class VenueConfig(StrictModel):
    """Where orders and market data go. URLs here are overridden by the environment
    (APCA_API_BASE_URL, APCA_API_DATA_URL); see `pyrt.config.venue.resolve_venue`."""

    kind: Literal["sim", "alpaca"] = "sim"
    live: bool = False
    feed: Literal["iex", "sip"] = "iex"
    trading_url: Url | None = None
    data_url: Url | None = None


REPLAY_SUFFIXES = (".csv", ".parquet", ".pq")


class ReplayConfig(StrictModel):
    """Replay recorded market data instead of generating it: `path` is a CSV/Parquet file, a
    directory of per-symbol files, or a list of files; `speed` is the multiple of real time
    (0: as fast as the market loop takes them)."""

    path: RelPath | tuple[RelPath, ...]
    speed: NonNegativeFloat = 60.0

    def files(self) -> tuple[Path, ...]:
        """The files to replay, a directory standing for its CSV/Parquet files in name order."""
        found: list[Path] = []
        for path in self.path if isinstance(self.path, tuple) else (self.path,):
            if path.is_dir():
                found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in REPLAY_SUFFIXES))
            else:
                found.append(path)
        return tuple(found)


class SimBrokerConfig(StrictModel):
    """The built-in Alpaca-compatible simulated broker: the one type of its settings, read
    from system.json by `pyrt run sim-broker` and built from flags by `pyrt sim-broker`."""

    host: Host = "127.0.0.1"
    port: Port = 8787
    data_dir: RelPath = "data/sim_broker"  # type: ignore[assignment]
    seed: int = 42  # of the synthetic market, ids and faults
    symbols: tuple[Symbol, ...] | None = None  # None: the market_data symbols (see `served_symbols`)
    listed_symbols: tuple[Symbol, ...] = SIM_LISTED_SYMBOLS  # also tradable, learnt when first subscribed
    allow_shorting: bool = False
    latency_ms: NonNegativeFloat = 0  # simulated order latency before matching
    slippage_bps: NonNegativeFloat = 0  # on market fills
    fee_per_share: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    initial_cash: Annotated[Decimal, Field(gt=0)] = Decimal(100000)
    quotes_per_second: PositiveFloat = 20  # per symbol
    tick_ms: Annotated[float, Field(gt=0, le=1000)] = 10  # market loop period (quotes leave in batches per tick)
    session_calendar: bool = False  # False: open 24/7; True: 09:30-16:00 America/New_York
    rate_limit_per_minute: PositiveInt | None = ALPACA_REQUESTS_PER_MINUTE  # per key; None: no limit (tests)
    replay: ReplayConfig | None = None
    history_paths: tuple[RelPath, ...] = ()  # serve historical bars from these CSV/Parquet files
    drift_annual: float = 0.0  # of the synthetic market's random walk
    vol_annual: NonNegativeFloat = 0.25
    max_queue_frames: PositiveInt = 2000  # per websocket client; a slower client is dropped

    @property
    def served_symbols(self) -> tuple[str, ...]:
        """The tradable symbols: `symbols`, else the market-data default (a SystemConfig
        fills `symbols` from market_data.symbols)."""
        return self.symbols or DEFAULT_SYMBOLS

    def lists(self, symbol: str) -> bool:
        """Whether this sim broker lists `symbol` (serves it, or may learn it)."""
        return symbol in self.listed_symbols or symbol in self.served_symbols


class ReconnectConfig(StrictModel):
    """Exponential backoff with jitter for the market data websocket."""

    initial_delay_s: PositiveFloat = 0.5
    max_delay_s: PositiveFloat = 30
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.2

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectConfig:
        if self.max_delay_s < self.initial_delay_s:
            raise problems_error([("max_delay_s", f"must be >= initial_delay_s ({self.initial_delay_s})")])
        return self


class RecordConfig(StrictModel):
    """`market_data.record`: the market-data service writes what it publishes (quotes,
    trades, bars) to Parquet under `path`, one folder per New York date, in batches of
    `flush_rows` rows or every `flush_interval_s` seconds (off the publishing path). Beyond
    `max_disk_mb` the oldest files are deleted. `pyrt backtest replay` reads them."""

    enabled: bool = False
    path: RelPath = "data/market_data"  # type: ignore[assignment]
    max_disk_mb: Annotated[float, Field(gt=0)] = 1024
    flush_rows: Annotated[int, Field(gt=0, le=1_000_000)] = 20_000
    flush_interval_s: Annotated[float, Field(gt=0, le=3600)] = 5.0


class MarketDataConfig(StrictModel):
    """The market-data service."""

    symbols: Symbols = DEFAULT_SYMBOLS
    zmq_publish_address: ZmqAddress = "tcp://127.0.0.1:5555"
    stale_after_seconds: PositiveFloat = 5
    idle_timeout_s: Annotated[float, Field(ge=0)] = 15.0  # no data this long: reconnect (0: never)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    cache_dir: RelPath = "cache/market_data"  # type: ignore[assignment]
    bars_to_keep: PositiveInt = 500
    # after each (re)connect, fetch the minute bars missed since the newest one kept (REST)
    gap_fill: bool = True
    record: RecordConfig = Field(default_factory=RecordConfig)

    @model_validator(mode="after")
    def _unique(self) -> MarketDataConfig:
        dupes = sorted({s for s in self.symbols if self.symbols.count(s) > 1})
        if dupes:
            raise problems_error([("symbols", f"duplicate symbols {dupes}")])
        return self


class StrategyConfig(StrictModel):
    """One strategy instance. `kind` and `params` are checked against the strategy registry
    of the signal bridge (the one place each strategy's parameters are defined) where config
    and strategies meet: `pyrt.bootstrap.load_app`, so that config imports no strategy code."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,15}$")]
    kind: str
    symbols: Symbols
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class SizingConfig(StrictModel):
    """How many shares a signal trades, and the most a strategy may hold per symbol."""

    max_position_shares: PositiveInt = 100
    order_qty: PositiveInt = 10

    @model_validator(mode="after")
    def _ordered(self) -> SizingConfig:
        if self.order_qty > self.max_position_shares:
            raise problems_error([("order_qty", f"must be <= max_position_shares ({self.max_position_shares})")])
        return self


def _default_strategies() -> tuple[StrategyConfig, ...]:
    return (
        StrategyConfig(name="ema_cross", kind="ema_crossover", symbols=("AAPL", "MSFT")),
        StrategyConfig(name="rsi_revert", kind="rsi_mean_reversion", symbols=("GOOGL",)),
    )


class SignalsConfig(StrictModel):
    """The signal bridge: strategies, sizing and an optional model file."""

    strategies: tuple[StrategyConfig, ...] = Field(default_factory=_default_strategies)
    sizing: SizingConfig = Field(default_factory=SizingConfig)
    publish_address: ZmqAddress = "tcp://127.0.0.1:5560"  # signals, for monitors
    control_endpoint: ZmqAddress = "tcp://127.0.0.1:5561"  # operator commands (safe mode on/off)
    risk_timeout_ms: int = Field(default=5000, gt=0)  # must exceed risk.execution_timeout_ms
    # a bar that ended longer ago than this (gap fill, cache) warms strategies up but never trades
    max_bar_age_s: PositiveFloat = 120.0
    model_path: RelPath | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> SignalsConfig:
        seen: set[str] = set()
        problems = []
        for i, strategy in enumerate(self.strategies):
            if strategy.name in seen:
                problems.append((f"strategies.{i}.name", f"duplicate strategy name {strategy.name!r}"))
            seen.add(strategy.name)
        if problems:
            raise problems_error(problems)
        return self


class RiskServiceConfig(StrictModel):
    """The risk manager process (its limits live in risk_limits.toml)."""

    intent_endpoint: ZmqAddress = "tcp://127.0.0.1:5557"  # REP: order intents in, decisions out
    publish_address: ZmqAddress = "tcp://127.0.0.1:5559"  # PUB: risk state (breaker, exposure)
    state_path: RelPath = "data/risk_state.json"  # type: ignore[assignment]
    # how long risk waits for the execution engine's journalled accept of an approved intent;
    # the signal bridge waits on risk longer (signals.risk_timeout_ms), or it would give up
    # on an intent risk still forwards
    execution_timeout_ms: int = Field(default=3000, gt=0)


SIM_REQUESTS_PER_MINUTE = 1_000_000  # only a sim broker (not an Alpaca host) may be asked for more than 200


class ExecutionConfig(StrictModel):
    """The execution engine. `request_budget_per_minute` caps all broker REST calls of the
    process (at most Alpaca's 200/minute against Alpaca; higher only against a sim broker); within it `cancel_reserve_per_minute` is
    kept for cancels only and `read_reserve_per_minute` for reads and cancels, so that a
    kill switch can always cancel and reconcile."""

    order_endpoint: ZmqAddress = "tcp://127.0.0.1:5558"  # REP: approved orders in
    report_publish_address: ZmqAddress = "tcp://127.0.0.1:5556"  # PUB: reports, positions, P&L
    journal_path: RelPath = "data/journal.db"  # type: ignore[assignment]
    lock_path: RelPath = "run/execution_engine.lock"  # type: ignore[assignment]
    request_budget_per_minute: Annotated[int, Field(gt=0, le=SIM_REQUESTS_PER_MINUTE)] = 150
    cancel_reserve_per_minute: Annotated[int, Field(ge=0)] = 30
    read_reserve_per_minute: Annotated[int, Field(ge=0)] = 10
    submit_timeout_s: PositiveFloat = 10
    journal_synchronous: Literal["FULL", "NORMAL"] = "FULL"  # FULL survives power loss; NORMAL only process crashes
    max_resend_age_s: PositiveFloat = 30  # an intent journalled but never sent is re-sent on restart only if younger
    watchdog_risk_silence_s: PositiveFloat = 3  # no risk-manager heartbeat this long: stop new orders
    watchdog_cancel_after_s: PositiveFloat = 30  # risk manager and market data both silent this long: cancel all

    @model_validator(mode="after")
    def _budget(self) -> ExecutionConfig:
        reserves = self.cancel_reserve_per_minute + self.read_reserve_per_minute
        if reserves >= self.request_budget_per_minute:
            raise problems_error(
                [
                    (
                        "cancel_reserve_per_minute",
                        (
                            f"plus read_reserve_per_minute ({reserves}) leaves nothing of "
                            f"request_budget_per_minute ({self.request_budget_per_minute}) for submits"
                        ),
                    )
                ]
            )
        return self


class MetricsConfig(StrictModel):
    """Each service serves its own /metrics on host:<its port>; the control process serves
    all of them merged on `gateway` (the guide's `curl localhost:9090/metrics`)."""

    host: Host = "127.0.0.1"
    gateway: Port = 9090
    scrape_hosts: dict[str, str] = Field(default_factory=dict)  # service -> host the gateway scrapes (docker)
    market_data: Port = 9091
    execution_engine: Port = 9092
    risk_manager: Port = 9093
    signal_bridge: Port = 9094

    def port_for(self, service: str) -> int:
        """The metrics port of a service in SERVICE_NAMES."""
        if service not in SERVICE_NAMES:
            raise KeyError(f"unknown service {service!r}; expected one of {SERVICE_NAMES}")
        return int(getattr(self, service))


class ApiConfig(StrictModel):
    """The control API."""

    host: Host = "127.0.0.1"
    port: Port = 8080


class PathsConfig(StrictModel):
    """Directories of the deployment (relative ones are under the root)."""

    logs_dir: RelPath = "logs"  # type: ignore[assignment]
    data_dir: RelPath = "data"  # type: ignore[assignment]
    cache_dir: RelPath = "cache"  # type: ignore[assignment]
    models_dir: RelPath = "models"  # type: ignore[assignment]
    backups_dir: RelPath = "backups"  # type: ignore[assignment]
    run_dir: RelPath = "run"  # type: ignore[assignment]

    def pid_file(self, process: str) -> Path:
        """run/<process>.pid: exists from the process's start to its exit."""
        return self.run_dir / f"{process}.pid"

    def ready_file(self, process: str) -> Path:
        """run/<process>.ready: written once the process accepts work."""
        return self.run_dir / f"{process}.ready"


class LoggingConfig(StrictModel):
    """Log level and format of every service."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"  # text: one greppable line per event


class SmtpConfig(StrictModel):
    """E-mail alerts. The password is read from the environment variable `password_env`."""

    host: Host
    port: Port = 587
    from_addr: EmailAddress
    to_addrs: Annotated[tuple[EmailAddress, ...], AfterValidator(non_empty)]
    username: str | None = None
    password_env: EnvVarName | None = None
    starttls: bool = True


class NotificationsConfig(StrictModel):
    """Where alerts (breaker trips, kill switch) are sent."""

    webhook_url: Url | None = None
    smtp: SmtpConfig | None = None


class SecurityConfig(StrictModel):
    """Every listener binds to loopback unless this is set explicitly (e.g. in docker,
    behind TLS and auth)."""

    allow_non_loopback: bool = False


class SupervisorConfig(StrictModel):
    """How `pyrt up` heals (pyrt.ops.restart_policy; the systemd units' Restart=on-failure):
    a process that dies is started again after `restart_delay_s`, doubled for each further
    restart within `restart_window_s` up to `restart_max_delay_s`; one more death after
    `restart_limit` restarts within the window (or an exit with code 2, a configuration
    error) stops the whole system and alerts. `restart: false` stops the system at the
    first death."""

    restart: bool = True
    restart_delay_s: NonNegativeFloat = 0.5
    restart_max_delay_s: NonNegativeFloat = 30.0
    restart_limit: Annotated[int, Field(ge=0)] = 5
    restart_window_s: PositiveFloat = 600.0

    @model_validator(mode="after")
    def _ordered(self) -> SupervisorConfig:
        if self.restart_max_delay_s < self.restart_delay_s:
            raise problems_error([("restart_max_delay_s", f"must be >= restart_delay_s ({self.restart_delay_s})")])
        return self


class MetadataConfig(StrictModel):
    """Free description of this deployment. Informational only: no code reads it."""

    environment: str = "development"
    version: str = ""
    description: str = ""


class Listener(NamedTuple):
    """A TCP listener: the dotted fields setting its host and its port (the same field for a
    bus address), the host and the port."""

    host_field: str
    port_field: str
    host: str
    port: int


class SystemConfig(StrictModel):
    """The whole of system.json."""

    venue: VenueConfig = Field(default_factory=VenueConfig)
    sim_broker: SimBrokerConfig = Field(default_factory=SimBrokerConfig)
    market_data: MarketDataConfig = Field(default_factory=MarketDataConfig)
    signals: SignalsConfig = Field(default_factory=SignalsConfig)
    risk: RiskServiceConfig = Field(default_factory=RiskServiceConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    supervisor: SupervisorConfig = Field(default_factory=SupervisorConfig)
    metadata: MetadataConfig = Field(default_factory=MetadataConfig)

    @model_validator(mode="after")
    def _cross_checks(self) -> SystemConfig:
        unlisted = [s for s in self.market_data.symbols if not self.sim_broker.lists(s)]
        if self.sim_broker.symbols is None:
            sim = self.sim_broker.model_copy(update={"symbols": self.market_data.symbols})
            object.__setattr__(self, "sim_broker", sim)
        listing = (
            [("market_data.symbols", f"{unlisted} not listed by the venue (the sim broker's listed_symbols)")]
            if unlisted and self.venue.kind == "sim"
            else []
        )
        problems = [*listing, *self._symbol_problems(), *self._listener_problems(), *self._timeout_problems()]
        if problems:
            raise problems_error(problems)
        return self

    def _symbol_problems(self) -> Iterator[tuple[str, str]]:
        known = set(self.market_data.symbols)
        for i, strategy in enumerate(self.signals.strategies):
            missing = [s for s in strategy.symbols if s not in known]
            if missing:
                yield f"signals.strategies.{i}.symbols", f"{missing} not in market_data.symbols"
        served = set(self.sim_broker.symbols or ())
        missing = [s for s in self.market_data.symbols if s not in served]
        if self.venue.kind == "sim" and missing:
            yield "sim_broker.symbols", f"does not include market_data symbols {missing}"

    def _timeout_problems(self) -> Iterator[tuple[str, str]]:
        if self.signals.risk_timeout_ms <= self.risk.execution_timeout_ms:
            yield "signals.risk_timeout_ms", f"must be > risk.execution_timeout_ms ({self.risk.execution_timeout_ms})"

    def listeners(self) -> list[Listener]:
        """Every TCP listener this config sets up, with the fields that set its host and port."""
        found = [
            Listener("sim_broker.host", "sim_broker.port", self.sim_broker.host, self.sim_broker.port),
            Listener("api.host", "api.port", self.api.host, self.api.port),
            Listener("metrics.host", "metrics.gateway", self.metrics.host, self.metrics.gateway),
            *(
                Listener("metrics.host", f"metrics.{s}", self.metrics.host, self.metrics.port_for(s))
                for s in SERVICE_NAMES
            ),
        ]
        for field, address in (
            ("market_data.zmq_publish_address", self.market_data.zmq_publish_address),
            ("risk.intent_endpoint", self.risk.intent_endpoint),
            ("risk.publish_address", self.risk.publish_address),
            ("execution.order_endpoint", self.execution.order_endpoint),
            ("execution.report_publish_address", self.execution.report_publish_address),
            ("signals.publish_address", self.signals.publish_address),
            ("signals.control_endpoint", self.signals.control_endpoint),
        ):
            host_port = zmq_tcp_host_port(address)
            if host_port:
                found.append(Listener(field, field, *host_port))
        return found

    def _listener_problems(self) -> Iterator[tuple[str, str]]:
        used: dict[int, str] = {}
        reported: set[str] = set()  # a host shared by several listeners is one problem
        for listener in self.listeners():
            host, port = listener.host, listener.port
            if (
                not self.security.allow_non_loopback
                and not is_loopback_host(host)
                and listener.host_field not in reported
            ):
                reported.add(listener.host_field)
                yield (
                    listener.host_field,
                    f"binds to non-loopback host {host!r}; set security.allow_non_loopback to allow",
                )
            if port == 0:
                continue  # ephemeral
            if port in used:
                yield listener.port_field, f"port {port} already used by {used[port]}"
            else:
                used[port] = listener.port_field
