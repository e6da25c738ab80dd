"""Fixtures of the CLI and control-process tests: the real order path (shared with the API
tests' helper) and the `pyrt` CLI run in process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import Result
from typer.testing import CliRunner

from pyrt.observability.logging import reset_logging
from tests.integration.api.order_path import OrderPath, order_path


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderPath]:
    with order_path(tmp_path_factory.mktemp("cli")) as s:
        yield s


@pytest.fixture
def pyrt(system: OrderPath) -> Iterator[Callable[..., Result]]:
    """Run `pyrt <args> --config-dir <the system's>` in process; returns click's Result."""
    from pyrt.ops.cli import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:  # noqa: A002
        return runner.invoke(app, [*args, "--config-dir", str(system.config_dir)], input=input)

    yield run
    reset_logging()  # the CLI logs to logs/cli.log: detach it from this process
