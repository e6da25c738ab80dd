#!/usr/bin/env python3
"""Writes the five Grafana dashboards of the operations guide as JSON next to this file:

    python monitoring/grafana-dashboards/build_dashboards.py

Edit the panels here, not in the JSON (Grafana loads the JSON read-only; a test checks that
the JSON is what this script writes and that every metric name exists in
src/pyrt/observability/metrics.py). Stdlib only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
JOBS = 'job=~"market_data|risk_manager|execution_engine|signal_bridge|control"'
SERVICES = 'job=~"market_data|risk_manager|execution_engine|signal_bridge"'
RATE = "$__rate_interval"

UP_DOWN = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}}}]
BREAKER = [{"type": "value", "options": {"0": {"text": "OK", "color": "green"}, "1": {"text": "TRIPPED", "color": "red"}}}]
FEED = [{"type": "value",
         "options": {"0": {"text": "DISCONNECTED", "color": "red"}, "1": {"text": "CONNECTED", "color": "green"}}}]


def quantiles(metric: str, by: str = "", selector: str = "", qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> list[tuple[str, str]]:
    """histogram_quantile targets (expr, legend) for a histogram."""
    group = f"{by}, le" if by else "le"
    legend_prefix = f"{{{{{by}}}}} " if by else ""
    return [(f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{selector}[{RATE}])))",
             f"{legend_prefix}p{int(q * 100)}") for q in qs]


class Dashboard:
    """Panels laid out left to right in a 24-column grid, wrapping to new rows."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.panels: list[dict[str, Any]] = []
        self.x = self.y = self.row_h = 0

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title: str) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def panel(self, kind: str, title: str, targets: list[tuple[str, str]], w: int = 12, h: int = 8, unit: str = "short",
              description: str = "", mappings: list[dict[str, Any]] | None = None, options: dict[str, Any] | None = None,
              thresholds: list[tuple[float | None, str]] | None = None, fmt: str = "time_series",
              minimum: float | None = None, maximum: float | None = None) -> None:
        steps = [{"color": color, "value": value} for value, color in (thresholds or [(None, "green")])]
        defaults: dict[str, Any] = {"unit": unit, "mappings": mappings or [],
                                    "thresholds": {"mode": "absolute", "steps": steps}}
        if minimum is not None:
            defaults["min"] = minimum
        if maximum is not None:
            defaults["max"] = maximum
        if kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                                  "spanNulls": False}
        self.panels.append({
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DATASOURCE,
            "gridPos": self._place(w, h),
            "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
                         "format": fmt, **({"instant": True} if kind in ("stat", "bargauge", "gauge") else {})}
                        for i, (expr, legend) in enumerate(targets)],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or _default_options(kind),
        })

    def text(self, title: str, content: str, w: int = 12, h: int = 5) -> None:
        self.panels.append({"id": len(self.panels) + 1, "type": "text", "title": title, "gridPos": self._place(w, h),
                            "options": {"mode": "markdown", "content": content}})

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["py_rt"],
            "timezone": "utc",
            "editable": False,
            "graphTooltip": 1,
            "refresh": "10s",
            "schemaVersion": 39,
            "version": 1,
            "time": {"from": "now-1h", "to": "now"},
            "templating": {"list": []},
            "annotations": {"list": []},
            "links": [{"type": "dashboards", "tags": ["py_rt"], "asDropdown": True, "title": "py_rt dashboards",
                       "includeVars": False, "keepTime": True}],
            "panels": self.panels,
        }


def _default_options(kind: str) -> dict[str, Any]:
    if kind == "timeseries":
        return {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"}}
    if kind in ("stat", "gauge", "bargauge"):
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                "orientation": "horizontal"}
    if kind == "heatmap":
        return {"calculate": False, "yAxis": {"unit": "s"}, "color": {"scheme": "Oranges", "mode": "scheme"},
                "cellGap": 1}
    return {}


# --------------------------------------------------------------------------- dashboards
def overview() -> Dashboard:
    d = Dashboard("trading-overview", "Trading System Overview",
                  "Health, uptime, throughput, errors and resources of every py_rt process.")
    d.row("Health")
    d.panel("stat", "Service status", [(f"up{{{JOBS}}}", "{{job}}")], w=10, h=5, mappings=UP_DOWN,
            thresholds=[(None, "red"), (1, "green")], description="Prometheus can scrape the process (1) or not (0).")
    d.panel("stat", "Circuit breaker", [("max(risk_circuit_breaker_active)", "breaker")], w=4, h=5, mappings=BREAKER,
            thresholds=[(None, "green"), (1, "red")])
    d.panel("stat", "Market data feed", [("max(market_data_websocket_connected)", "feed")], w=4, h=5, mappings=FEED,
            thresholds=[(None, "red"), (1, "green")])
    d.panel("stat", "Total P&L", [("sum(trading_realized_pnl_total) + sum(trading_unrealized_pnl)", "P&L")], w=3, h=5,
            unit="currencyUSD", thresholds=[(None, "red"), (0, "green")])
    d.panel("stat", "Open positions", [("sum(trading_open_positions)", "positions")], w=3, h=5)
    d.panel("stat", "Uptime", [(f"time() - process_start_time_seconds{{{JOBS}}}", "{{job}}")], w=24, h=4,
            unit="dtdurations", options={**_default_options("stat"), "colorMode": "none"})
    d.row("Throughput and errors")
    d.panel("timeseries", "Messages processed / s",
            [(f"sum by (service) (rate(trading_messages_processed_total[{RATE}]))", "{{service}}")], w=8, unit="ops")
    d.panel("timeseries", "Processing latency p99",
            quantiles("trading_processing_latency_seconds", by="job", qs=(0.99,)), w=8, unit="s")
    d.panel("timeseries", "Errors / s", [(f"sum by (service, kind) (rate(trading_errors_total[{RATE}]))",
                                          "{{service}} {{kind}}")], w=8, unit="ops",
            description="HighErrorRate fires above 10/s for 5 minutes.")
    d.panel("timeseries", "Bus messages dropped and sequence gaps / s",
            [(f"sum by (job, reason) (rate(bus_messages_dropped_total[{RATE}]))", "{{job}} dropped {{reason}}"),
             (f"sum by (job) (rate(bus_seq_gaps_total[{RATE}]))", "{{job}} gaps")], w=12, unit="ops")
    d.panel("timeseries", "Configuration reloads",
            [("sum by (job, status) (increase(config_reload_total[5m]))", "{{job}} {{status}}")], w=12)
    d.row("Resources")
    d.panel("timeseries", "CPU (share of one core)",
            [(f"rate(process_cpu_seconds_total{{{JOBS}}}[{RATE}])", "{{job}}")], w=12, unit="percentunit")
    d.panel("timeseries", "Resident memory", [(f"process_resident_memory_bytes{{{JOBS}}}", "{{job}}")], w=12,
            unit="bytes")
    return d


def market_data() -> Dashboard:
    d = Dashboard("market-data", "Market Data Performance",
                  "Feed connection, message rates by type, feed lag (event time to receipt) and reconnects.")
    d.panel("stat", "WebSocket", [("market_data_websocket_connected", "{{instance}}")], w=6, h=5, mappings=FEED,
            thresholds=[(None, "red"), (1, "green")])
    d.panel("stat", "Symbols", [("market_data_symbols", "symbols")], w=6, h=5,
            options={**_default_options("stat"), "colorMode": "none"})
    d.panel("stat", "Reconnects (24 h)", [("sum(increase(market_data_websocket_reconnects_total[24h]))", "reconnects")],
            w=6, h=5, thresholds=[(None, "green"), (1, "orange"), (10, "red")])
    d.panel("stat", "Feed lag p99 (5 m)",
            [("histogram_quantile(0.99, sum by (le) (rate(market_data_latency_seconds_bucket[5m])))", "p99")],
            w=6, h=5, unit="s", thresholds=[(None, "green"), (0.5, "orange"), (1, "red")])
    d.panel("timeseries", "Messages received / s by type",
            [(f"sum by (type) (rate(market_data_messages_received_total[{RATE}]))", "{{type}}")], w=12, unit="ops")
    d.panel("timeseries", "Feed lag (event time to receipt)", quantiles("market_data_latency_seconds"), w=12, unit="s")
    d.panel("heatmap", "Feed lag distribution",
            [(f"sum by (le) (increase(market_data_latency_seconds_bucket[{RATE}]))", "{{le}}")], w=12, fmt="heatmap",
            description="Count of feed messages per latency bucket.")
    d.panel("timeseries", "Reconnects by reason",
            [("sum by (reason) (increase(market_data_websocket_reconnects_total[5m]))", "{{reason}}")], w=12)
    d.panel("timeseries", "Bars gap-filled after a (re)connect",
            [("sum(increase(market_data_bars_gap_filled_total[5m]))", "bars")], w=12,
            description="Minute bars missed while the feed was down, fetched over REST and published in order.")
    d.panel("timeseries", "Processing time per message (market data)",
            quantiles("trading_processing_latency_seconds", selector='{job="market_data"}', qs=(0.5, 0.99)), w=12,
            unit="s")
    d.panel("timeseries", "Bus drops and gaps seen by subscribers",
            [(f"sum by (job, reason) (rate(bus_messages_dropped_total[{RATE}]))", "{{job}} dropped {{reason}}"),
             (f"sum by (job) (rate(bus_seq_gaps_total[{RATE}]))", "{{job}} gaps")], w=12, unit="ops")
    return d


def execution() -> Dashboard:
    d = Dashboard("order-execution", "Order Execution Metrics",
                  "Order flow to the broker: submissions, fills, rejects, latency and the request budget.")
    d.panel("stat", "Fill rate (1 h)",
            [("sum(increase(execution_orders_filled_total[1h])) / sum(increase(execution_orders_submitted_total[1h]))",
              "filled / submitted")], w=6, h=5, unit="percentunit", thresholds=[(None, "red"), (0.9, "green")])
    d.panel("stat", "Orders submitted (24 h)", [("sum(increase(execution_orders_submitted_total[24h]))", "submitted")],
            w=6, h=5, options={**_default_options("stat"), "colorMode": "none"})
    d.panel("stat", "Rejected (24 h)", [("sum(increase(execution_orders_rejected_total[24h]))", "rejected")], w=6, h=5,
            thresholds=[(None, "green"), (1, "orange")])
    d.panel("stat", "Broker requests left this minute", [("min(execution_rate_limit_remaining)", "left")], w=6, h=5,
            thresholds=[(None, "red"), (10, "orange"), (30, "green")])
    d.panel("timeseries", "Orders / s",
            [(f"sum(rate(execution_orders_submitted_total[{RATE}]))", "submitted"),
             (f"sum(rate(execution_orders_filled_total[{RATE}]))", "filled"),
             (f"sum(rate(execution_orders_rejected_total[{RATE}]))", "rejected"),
             (f"sum(rate(execution_orders_cancelled_total[{RATE}]))", "cancelled")], w=12, unit="ops")
    d.panel("timeseries", "Fill rate (15 m window)",
            [("sum(rate(execution_orders_filled_total[15m])) / sum(rate(execution_orders_submitted_total[15m]))",
              "filled / submitted")], w=12, unit="percentunit", minimum=0, maximum=1)
    d.panel("timeseries", "Submit latency (broker round trip)", quantiles("execution_submit_latency_seconds"), w=12,
            unit="s", description="OrderSubmitLatencyHigh fires when p99 > 500 ms for 5 minutes.")
    d.panel("timeseries", "Tick to submit (quote receipt to broker call)",
            quantiles("execution_tick_to_submit_seconds", qs=(0.5, 0.99)), w=12, unit="s")
    d.panel("timeseries", "Rejections by reason",
            [("sum by (reason) (increase(execution_orders_rejected_total[5m]))", "{{reason}}")], w=12)
    d.panel("timeseries", "Signals and risk denials / s",
            [(f"sum by (strategy) (rate(signal_bridge_signals_generated_total[{RATE}]))", "signals {{strategy}}"),
             (f"sum by (reason) (rate(signal_bridge_intents_denied_total[{RATE}]))", "denied {{reason}}")], w=12,
            unit="ops")
    d.row("Model health (onnx_model strategies)")
    d.panel("stat", "Served model", [("signal_model_info", "{{strategy}} {{model}} v{{version}} {{sha256}}")], w=6,
            h=5, mappings=[{"type": "value", "options": {"0": {"text": "SWAPPED OUT", "color": "orange"},
                                                        "1": {"text": "SERVING", "color": "green"}}}])
    d.panel("stat", "Model healthy", [("signal_model_healthy", "{{strategy}}")], w=6, h=5,
            mappings=[{"type": "value", "options": {"0": {"text": "STOPPED (reduce-only)", "color": "red"},
                                                    "1": {"text": "HEALTHY", "color": "green"}}}],
            description="ModelUnhealthy fires at 0: NaN output, missing feature, expired, drift or slow inference.")
    d.panel("timeseries", "Model inference (one row)",
            quantiles("signal_model_inference_seconds", by="strategy", qs=(0.5, 0.99)), w=12, unit="s")
    d.panel("timeseries", "Drift: PSI against training",
            [("max by (strategy, series) (signal_model_psi)", "{{strategy}} {{series}}")], w=12,
            thresholds=[(None, "green"), (0.1, "orange"), (0.25, "red")],
            description="Warn at 0.1 (ModelDrift after 30 min); at 0.25 the strategy stops and risk goes reduce-only.")
    d.panel("timeseries", "Predictions P(up)",
            quantiles("signal_model_prediction", by="strategy", qs=(0.1, 0.5, 0.9)), w=12, minimum=0, maximum=1)
    d.text("Slippage and order book depth",
           "py_rt does not measure slippage or order book depth yet: `src/pyrt/observability/metrics.py` "
           "declares no such metric, so these panels of the guide are left out rather than shown empty. "
           "On the simulated broker, slippage is the configured `sim_broker.slippage_bps`.", w=24, h=3)
    return d


def risk() -> Dashboard:
    d = Dashboard("risk-management", "Risk Management Dashboard",
                  "Positions, P&L, limit utilisation, drawdown and the circuit breaker.")
    d.panel("stat", "Circuit breaker", [("max(risk_circuit_breaker_active)", "breaker")], w=6, h=5, mappings=BREAKER,
            thresholds=[(None, "green"), (1, "red")])
    d.panel("stat", "Open positions", [("sum(trading_open_positions)", "positions")], w=6, h=5,
            options={**_default_options("stat"), "colorMode": "none"})
    d.panel("stat", "Realized P&L", [("sum(trading_realized_pnl_total)", "realized")], w=4, h=5, unit="currencyUSD",
            thresholds=[(None, "red"), (0, "green")])
    d.panel("stat", "Unrealized P&L", [("sum(trading_unrealized_pnl)", "unrealized")], w=4, h=5, unit="currencyUSD",
            thresholds=[(None, "red"), (0, "green")])
    d.panel("stat", "Total P&L", [("sum(trading_realized_pnl_total) + sum(trading_unrealized_pnl)", "total")], w=4, h=5,
            unit="currencyUSD", thresholds=[(None, "red"), (0, "green")])
    d.panel("timeseries", "P&L",
            [("sum(trading_realized_pnl_total)", "realized"), ("sum(trading_unrealized_pnl)", "unrealized"),
             ("sum(trading_realized_pnl_total) + sum(trading_unrealized_pnl)", "total")], w=12, unit="currencyUSD")
    d.panel("timeseries", "Drawdown from the 24 h peak of total P&L",
            [("(sum(trading_realized_pnl_total) + sum(trading_unrealized_pnl)) - max_over_time("
              "(sum(trading_realized_pnl_total) + sum(trading_unrealized_pnl))[1d:1m])", "drawdown")],
            w=12, unit="currencyUSD", description="0 at a new high; negative below the best total P&L of the last day.")
    d.panel("timeseries", "Positions (shares, negative = short)",
            [('sum by (symbol) (trading_position_size{job="execution_engine"})', "{{symbol}}")], w=12)
    d.panel("bargauge", "Position limit utilisation (of max_shares)",
            [("abs(trading_position_size / risk_max_position_size)", "{{symbol}}")], w=12,
            unit="percentunit", minimum=0, maximum=1, thresholds=[(None, "green"), (0.75, "orange"), (0.9, "red")],
            options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                     "orientation": "horizontal", "displayMode": "gradient"})
    d.panel("timeseries", "Risk checks / s",
            [(f"sum(rate(risk_checks_performed_total[{RATE}]))", "performed"),
             (f"sum by (reason) (rate(risk_checks_failed_total[{RATE}]))", "denied {{reason}}")], w=12, unit="ops")
    d.panel("timeseries", "Circuit breaker activations (24 h) by trigger",
            [("sum by (trigger) (increase(risk_circuit_breaker_activations_total[1d]))", "{{trigger}}")], w=12)
    d.panel("stat", "Position limit (max_shares)", [("max(risk_max_position_size)", "max_shares")], w=6, h=4,
            options={**_default_options("stat"), "colorMode": "none"})
    d.text("Value at Risk",
           "py_rt computes no VaR: the risk manager enforces hard limits instead (position, notional, "
           "exposure, daily loss and drawdown in `config/risk_limits.toml`), and drawdown is shown above.",
           w=18, h=4)
    return d


def resources() -> Dashboard:
    d = Dashboard("system-resources", "System Resources",
                  "CPU, memory, garbage collection and file descriptors of each py_rt process.")
    d.panel("timeseries", "CPU per service (share of one core)",
            [(f"rate(process_cpu_seconds_total{{{JOBS}}}[{RATE}])", "{{job}}")], w=12, unit="percentunit")
    d.panel("timeseries", "Resident memory", [(f"process_resident_memory_bytes{{{JOBS}}}", "{{job}}")], w=12,
            unit="bytes")
    d.panel("timeseries", "Virtual memory", [(f"process_virtual_memory_bytes{{{JOBS}}}", "{{job}}")], w=12,
            unit="bytes")
    d.panel("timeseries", "GC collections / s by generation",
            [(f"sum by (job, generation) (rate(python_gc_collections_total{{{JOBS}}}[{RATE}]))",
              "{{job}} gen {{generation}}")], w=12, unit="ops")
    d.panel("timeseries", "GC objects collected / s",
            [(f"sum by (job) (rate(python_gc_objects_collected_total{{{JOBS}}}[{RATE}]))", "{{job}} collected"),
             (f"sum by (job) (rate(python_gc_objects_uncollectable_total{{{JOBS}}}[{RATE}]))", "{{job}} uncollectable")],
            w=12, unit="ops")
    d.panel("timeseries", "Open file descriptors (share of the limit)",
            [(f"process_open_fds{{{JOBS}}} / process_max_fds{{{JOBS}}}", "{{job}}")], w=12, unit="percentunit")
    d.panel("stat", "Python", [(f"python_info{{{SERVICES}}}", "{{job}} {{implementation}} {{version}}")], w=12, h=5,
            options={**_default_options("stat"), "colorMode": "none", "textMode": "name"})
    d.text("Network and disk I/O",
           "The py_rt processes export CPU, memory, garbage collection and file descriptors only. Network "
           "and disk I/O are host metrics: they need a node exporter, which this deployment does not run.",
           w=12, h=5)
    return d


DASHBOARDS = {
    "trading-overview.json": overview,
    "market-data.json": market_data,
    "order-execution.json": execution,
    "risk-management.json": risk,
    "system-resources.json": resources,
}


def render() -> dict[str, str]:
    """{file name: JSON text} of every dashboard."""
    return {name: json.dumps(build().to_json(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main() -> None:
    for name, text in render().items():
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
