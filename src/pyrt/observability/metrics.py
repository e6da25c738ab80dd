"""The metrics registry: every metric name of py_rt is declared once, here, grouped by the
service that updates it. Each service process builds its own CollectorRegistry with
`new_registry()` (process metrics included), declares its groups on it, and serves it with
`serve_metrics`. Names are exactly those of the operations guide; prometheus_client adds
`_total` to counters, so counters are declared without it.

    registry = new_registry()
    md = market_data_metrics(registry)
    md.symbols.set(3)
    server = serve_metrics(registry, "127.0.0.1", 9090)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from pyrt.domain.enums import BreakerTrigger

PROCESSING_LATENCY_BUCKETS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
"""10 µs to 1 s: processing of one message inside a service."""

FEED_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""0.5 ms to 10 s: market data event time to receipt, and broker round trips."""

MESSAGE_TYPES = ("quote", "trade", "bar")
RELOAD_STATUSES = ("success", "failed")
NOTIFICATION_CHANNELS = ("webhook", "email")
NOTIFICATION_OUTCOMES = ("ok", "error", "deduplicated", "dropped")


def new_registry(process_metrics: bool = True) -> CollectorRegistry:
    """A fresh registry for one service process, with process_* (CPU, memory),
    python_info and python_gc_* metrics unless `process_metrics` is false."""
    registry = CollectorRegistry(auto_describe=True)
    if process_metrics:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry


@dataclass(frozen=True)
class CommonMetrics:
    """Metrics of every service; `messages_processed` and errors are bound to the service."""

    service: str
    messages_processed: Any  # trading_messages_processed_total{service}
    processing_latency: Histogram  # trading_processing_latency_seconds
    errors: Counter  # trading_errors_total{service,kind}
    bus_messages_dropped: Counter  # bus_messages_dropped_total{reason}
    bus_seq_gaps: Counter  # bus_seq_gaps_total
    config_reload: Counter  # config_reload_total{status}
    notifications_sent: Counter  # notifications_sent_total{channel,outcome}
    bus_auth_failures: Counter  # bus_auth_failures_total{side,reason} (peers without the bus key)

    def error(self, kind: str) -> None:
        """Count one error of this service."""
        self.errors.labels(service=self.service, kind=kind).inc()


def common_metrics(registry: CollectorRegistry, service: str) -> CommonMetrics:
    """Declare the metrics every service has."""
    processed = Counter("trading_messages_processed", "Messages processed", ["service"], registry=registry)
    reload = Counter("config_reload", "Configuration reloads by outcome", ["status"], registry=registry)
    for status in RELOAD_STATUSES:
        reload.labels(status=status)
    return CommonMetrics(
        service=service,
        messages_processed=processed.labels(service=service),
        processing_latency=Histogram(
            "trading_processing_latency_seconds",
            "Time to process one message",
            buckets=PROCESSING_LATENCY_BUCKETS,
            registry=registry,
        ),
        errors=Counter("trading_errors", "Errors by service and kind", ["service", "kind"], registry=registry),
        bus_messages_dropped=Counter(
            "bus_messages_dropped",
            "Bus messages dropped (malformed, unknown version, oversized)",
            ["reason"],
            registry=registry,
        ),
        bus_seq_gaps=Counter("bus_seq_gaps", "Sequence gaps seen by bus subscribers", registry=registry),
        config_reload=reload,
        notifications_sent=notification_metrics(registry),
        bus_auth_failures=Counter(
            "bus_auth_failures",
            "Bus handshakes refused (side=server: a peer without the bus key; side=client: a server refused our key)",
            ["side", "reason"],
            registry=registry,
        ),
    )


def notification_metrics(registry: CollectorRegistry) -> Counter:
    """Declare `notifications_sent_total{channel,outcome}` (alert deliveries of
    `pyrt.ops.notify`); part of the common group, or alone for a process without it."""
    sent = Counter(
        "notifications_sent", "Alert notifications by channel and outcome", ["channel", "outcome"], registry=registry
    )
    for channel in NOTIFICATION_CHANNELS:
        for outcome in NOTIFICATION_OUTCOMES:
            sent.labels(channel=channel, outcome=outcome)
    return sent


@dataclass(frozen=True)
class MarketDataMetrics:
    """market-data service."""

    websocket_connected: Gauge  # market_data_websocket_connected (0/1)
    messages_received: Counter  # market_data_messages_received_total{type}
    latency: Histogram  # market_data_latency_seconds (event time to receipt)
    symbols: Gauge  # market_data_symbols (number of configured symbols)
    symbols_streaming: Gauge  # market_data_symbols_streaming{symbol} 1 per subscribed symbol (set_symbols)
    websocket_reconnects: Counter  # market_data_websocket_reconnects_total{reason}
    bars_gap_filled: Counter  # market_data_bars_gap_filled_total (missed bars fetched after a (re)connect)

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """The subscribed symbols: their count (market_data_symbols) and one series each
        (market_data_symbols_streaming{symbol} 1; a removed symbol's series goes), so
        `curl .../metrics | grep market_data_symbols` shows which."""
        wanted = set(symbols)
        self.symbols.set(len(wanted))
        for labels in list(_label_values(self.symbols_streaming)):
            if labels not in wanted:
                self.symbols_streaming.remove(labels)
        for symbol in sorted(wanted):
            self.symbols_streaming.labels(symbol=symbol).set(1)


def _label_values(gauge: Gauge, label: str = "symbol") -> list[str]:
    """The value of `label` of each series of `gauge`."""
    return [sample.labels[label] for metric in gauge.collect() for sample in metric.samples]


def market_data_metrics(registry: CollectorRegistry) -> MarketDataMetrics:
    """Declare the market-data metrics."""
    received = Counter("market_data_messages_received", "Feed messages by type", ["type"], registry=registry)
    for kind in MESSAGE_TYPES:
        received.labels(type=kind)
    return MarketDataMetrics(
        websocket_connected=Gauge(
            "market_data_websocket_connected", "1 if the feed websocket is up", registry=registry
        ),
        messages_received=received,
        latency=Histogram(
            "market_data_latency_seconds", "Event time to receipt", buckets=FEED_LATENCY_BUCKETS, registry=registry
        ),
        symbols=Gauge("market_data_symbols", "Number of configured symbols", registry=registry),
        symbols_streaming=Gauge(
            "market_data_symbols_streaming",
            "1 for each symbol subscribed on the feed (what market_data_symbols counts)",
            ["symbol"],
            registry=registry,
        ),
        websocket_reconnects=Counter(
            "market_data_websocket_reconnects", "Feed reconnects by reason", ["reason"], registry=registry
        ),
        bars_gap_filled=Counter(
            "market_data_bars_gap_filled",
            "Missed minute bars fetched over REST after a (re)connect",
            registry=registry,
        ),
    )


@dataclass(frozen=True)
class RiskMetrics:
    """risk-manager service."""

    checks_performed: Counter  # risk_checks_performed_total
    checks_failed: Counter  # risk_checks_failed_total{reason}
    max_position_size: Gauge  # risk_max_position_size{symbol} (shares, position_limits.max_shares)
    position_size: Gauge  # trading_position_size{symbol}: the risk book's position, beside its limit
    circuit_breaker_active: Gauge  # risk_circuit_breaker_active (0/1)
    circuit_breaker_activations: Counter  # risk_circuit_breaker_activations_total{trigger}


def risk_metrics(registry: CollectorRegistry) -> RiskMetrics:
    """Declare the risk-manager metrics."""
    activations = Counter(
        "risk_circuit_breaker_activations", "Circuit breaker trips by trigger", ["trigger"], registry=registry
    )
    for trigger in BreakerTrigger:
        activations.labels(trigger=trigger.value)
    return RiskMetrics(
        checks_performed=Counter("risk_checks_performed", "Order intents checked", registry=registry),
        checks_failed=Counter("risk_checks_failed", "Order intents denied by reason", ["reason"], registry=registry),
        # per symbol, beside the risk book's trading_position_size{symbol} with the same labels, so the
        # guide's `trading_position_size / risk_max_position_size` matches within the risk manager's job
        max_position_size=Gauge("risk_max_position_size", "Position limit in shares", ["symbol"], registry=registry),
        position_size=Gauge(
            "trading_position_size", "Position in shares (negative: short)", ["symbol"], registry=registry
        ),
        circuit_breaker_active=Gauge(
            "risk_circuit_breaker_active", "1 while the breaker is tripped", registry=registry
        ),
        circuit_breaker_activations=activations,
    )


@dataclass(frozen=True)
class ExecutionMetrics:
    """execution-engine service."""

    orders_submitted: Counter  # execution_orders_submitted_total
    orders_filled: Counter  # execution_orders_filled_total (orders completely filled)
    orders_rejected: Counter  # execution_orders_rejected_total{reason}
    orders_cancelled: Counter  # execution_orders_cancelled_total
    submit_latency: Histogram  # execution_submit_latency_seconds (broker round trip)
    tick_to_submit: Histogram  # execution_tick_to_submit_seconds (market-data receipt -> submit call)
    trade_stream_connected: Gauge  # execution_trade_stream_connected (0/1, broker trade_updates stream)
    rate_limit_remaining: Gauge  # execution_rate_limit_remaining (broker requests this minute)
    submit_queue_depth: Gauge  # execution_submit_queue_depth (sends waiting for the budget or a retry)
    submit_queue_oldest_seconds: Gauge  # execution_submit_queue_oldest_seconds (age of the oldest waiting order)


def execution_metrics(registry: CollectorRegistry) -> ExecutionMetrics:
    """Declare the execution-engine metrics."""
    return ExecutionMetrics(
        orders_submitted=Counter("execution_orders_submitted", "Orders sent to the broker", registry=registry),
        orders_filled=Counter("execution_orders_filled", "Orders completely filled", registry=registry),
        orders_rejected=Counter(
            "execution_orders_rejected", "Orders rejected by reason", ["reason"], registry=registry
        ),
        orders_cancelled=Counter("execution_orders_cancelled", "Orders cancelled", registry=registry),
        submit_latency=Histogram(
            "execution_submit_latency_seconds",
            "Order submit round trip",
            buckets=FEED_LATENCY_BUCKETS,
            registry=registry,
        ),
        trade_stream_connected=Gauge(
            "execution_trade_stream_connected",
            "1 while the broker trade_updates stream is connected",
            registry=registry,
        ),
        tick_to_submit=Histogram(
            "execution_tick_to_submit_seconds",
            "Market-data receipt of the triggering quote to the broker submit call",
            buckets=FEED_LATENCY_BUCKETS,
            registry=registry,
        ),
        rate_limit_remaining=Gauge(
            "execution_rate_limit_remaining", "Broker requests left in the current minute", registry=registry
        ),
        submit_queue_depth=Gauge(
            "execution_submit_queue_depth", "Orders waiting to be sent (budget or retry time)", registry=registry
        ),
        submit_queue_oldest_seconds=Gauge(
            "execution_submit_queue_oldest_seconds", "Age of the oldest order waiting to be sent", registry=registry
        ),
    )


@dataclass(frozen=True)
class TradingMetrics:
    """Positions and P&L, served by the process that owns them (the execution engine)."""

    open_positions: Gauge  # trading_open_positions
    realized_pnl: Gauge  # trading_realized_pnl_total (a gauge: P&L goes down too)
    unrealized_pnl: Gauge  # trading_unrealized_pnl
    position_size: Gauge  # trading_position_size{symbol} (signed shares)


def trading_metrics(registry: CollectorRegistry) -> TradingMetrics:
    """Declare the position and P&L metrics."""
    return TradingMetrics(
        open_positions=Gauge("trading_open_positions", "Number of open positions", registry=registry),
        realized_pnl=Gauge("trading_realized_pnl_total", "Realized P&L in USD", registry=registry),
        unrealized_pnl=Gauge("trading_unrealized_pnl", "Unrealized P&L in USD", registry=registry),
        position_size=Gauge(
            "trading_position_size", "Position in shares (negative: short)", ["symbol"], registry=registry
        ),
    )


@dataclass(frozen=True)
class SignalBridgeMetrics:
    """signal-bridge service."""

    signals_generated: Counter  # signal_bridge_signals_generated_total{strategy}
    intents_denied: Counter  # signal_bridge_intents_denied_total{reason}
    risk_timeouts: Counter  # signal_bridge_risk_timeouts_total: requests the risk manager left unanswered
    intents_unanswered: Gauge  # signal_bridge_intents_unanswered: intents kept pending, asked again
    model_info: Gauge  # signal_model_info{strategy,model,version,sha256} = 1 for the served model
    model_inference: Histogram  # signal_model_inference_seconds{strategy}: one row, in the bridge
    model_prediction: Histogram  # signal_model_prediction{strategy}: P(up) distribution
    model_psi: Gauge  # signal_model_psi{strategy,series}: drift of a feature or the predictions
    model_healthy: Gauge  # signal_model_healthy{strategy}: 0 once the model stopped its strategy


def signal_bridge_metrics(registry: CollectorRegistry) -> SignalBridgeMetrics:
    """Declare the signal-bridge metrics."""
    return SignalBridgeMetrics(
        signals_generated=Counter(
            "signal_bridge_signals_generated", "Signals by strategy", ["strategy"], registry=registry
        ),
        intents_denied=Counter(
            "signal_bridge_intents_denied", "Intents the risk manager denied, by reason", ["reason"], registry=registry
        ),
        risk_timeouts=Counter(
            "signal_bridge_risk_timeouts",
            "Intent requests the risk manager did not answer in time (the intent stays pending and is asked again)",
            registry=registry,
        ),
        intents_unanswered=Gauge(
            "signal_bridge_intents_unanswered",
            "Intents whose risk decision is unknown: pending, asked again until answered",
            registry=registry,
        ),
        model_info=Gauge(
            "signal_model_info", "The served model", ["strategy", "model", "version", "sha256"], registry=registry
        ),
        model_inference=Histogram(
            "signal_model_inference_seconds",
            "One model inference (one feature row)",
            ["strategy"],
            buckets=MODEL_INFERENCE_BUCKETS,
            registry=registry,
        ),
        model_prediction=Histogram(
            "signal_model_prediction",
            "Model output P(up)",
            ["strategy"],
            buckets=[i / 10 for i in range(1, 10)],
            registry=registry,
        ),
        model_psi=Gauge(
            "signal_model_psi", "PSI against the training reference", ["strategy", "series"], registry=registry
        ),
        model_healthy=Gauge(
            "signal_model_healthy", "1 healthy, 0 stopped by a health check", ["strategy"], registry=registry
        ),
    )


MODEL_INFERENCE_BUCKETS = [5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025]


@dataclass(frozen=True)
class ServiceMetrics:
    """Everything one service process exposes. Only the groups of that service are set."""

    registry: CollectorRegistry
    common: CommonMetrics
    market_data: MarketDataMetrics | None = None
    risk: RiskMetrics | None = None
    execution: ExecutionMetrics | None = None
    trading: TradingMetrics | None = None
    signal_bridge: SignalBridgeMetrics | None = None


G = TypeVar("G")


def required(group: G | None, name: str) -> G:
    """A service's own metric group: `service_metrics(service)` sets it, so None means the
    process was built with another service's metrics."""
    if group is None:
        raise RuntimeError(f"metrics group {name!r} missing: these are another service's metrics")
    return group


def service_metrics(service: str, registry: CollectorRegistry | None = None) -> ServiceMetrics:
    """The metrics of a service ("market_data", "risk_manager", "execution_engine",
    "signal_bridge") on a new registry (or `registry`)."""
    registry = registry if registry is not None else new_registry()
    common = common_metrics(registry, service)
    if service == "market_data":
        return ServiceMetrics(registry, common, market_data=market_data_metrics(registry))
    if service == "risk_manager":
        return ServiceMetrics(registry, common, risk=risk_metrics(registry))
    if service == "execution_engine":
        return ServiceMetrics(
            registry, common, execution=execution_metrics(registry), trading=trading_metrics(registry)
        )
    if service == "signal_bridge":
        return ServiceMetrics(registry, common, signal_bridge=signal_bridge_metrics(registry))
    raise ValueError(f"unknown service {service!r}")


class MetricsServer:
    """A running /metrics HTTP server (daemon thread). `port` is the bound port."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host: str = server.server_address[0]
        self.port: int = server.server_address[1]

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
    """Serve `registry` on http://host:port/metrics; port 0 picks a free port."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
