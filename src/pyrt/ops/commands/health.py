"""`pyrt health` (liveness of every service, the guide's health check) and `pyrt monitor`
(message rates and latencies on the bus, the guide's ZeroMQ connection monitor)."""

from __future__ import annotations

from pathlib import Path

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION, load_or_exit


def register(app: typer.Typer) -> None:
    """Add `health` and `monitor` to the CLI."""

    @app.command("health")
    def health_cmd(
        config_dir: Path = CONFIG_DIR_OPTION,
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
        memory_threshold: float = typer.Option(75.0, help="Warn when a service's RSS exceeds this % of memory."),
        cpu_threshold: float = typer.Option(90.0, help="Warn when a service uses more than this % of a core."),
        probe: float = typer.Option(2.0, help="Seconds to listen for heartbeats on the bus at most."),
    ) -> None:
        """Check that every service is alive and working: exit 0 healthy, 1 if one is
        unhealthy, 4 if all are alive but trading is blocked or degraded (execution halted,
        circuit breaker active, a service degraded), with the reason and the next command."""
        import json

        from pyrt.ops.health import Thresholds, report_dict, report_lines, run_health

        cfg = load_or_exit(config_dir)
        report = run_health(cfg, Thresholds(memory_percent=memory_threshold, cpu_percent=cpu_threshold), probe)
        if as_json:
            typer.echo(json.dumps(report_dict(report), indent=2, ensure_ascii=False))
        else:
            for line in report_lines(report):
                typer.echo(line)
        raise typer.Exit(report.exit_code)

    @app.command("monitor")
    def monitor_cmd(
        port: int | None = typer.Option(None, help="Market data PUB port (default: from the config)."),
        interval: float = typer.Option(1.0, min=0.05, help="Seconds between refreshes."),
        count: int = typer.Option(0, min=0, help="Stop after this many refreshes (0: until Ctrl-C)."),
        config_dir: Path = CONFIG_DIR_OPTION,
    ) -> None:
        """Show messages per second and average bus latency of market data, signals, risk
        checks and executions, refreshed every interval."""
        import sys

        from pyrt.bus.security import for_config
        from pyrt.ops.monitor import Monitor, monitor_endpoints

        cfg = load_or_exit(config_dir)
        monitor = Monitor(monitor_endpoints(cfg, port), security=for_config(cfg))
        try:
            monitor.run(interval, count, sys.stdout)
        except KeyboardInterrupt:
            sys.stdout.write("\n")
        finally:
            monitor.close()
