"""Fixtures of the control API tests: the order path (one for the whole package:
starting it takes a few seconds; tests leave the breaker off, automatic trading on and the
engine running) and a TestClient over build_api with known admin and read-only tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pyrt.ops.api import build_api
from pyrt.ops.auth import TokenSet
from pyrt.ops.facade import ControlFacade

from .order_path import OrderPath, order_path

ADMIN = "admin-token-" + "a" * 32
READ = "read-token-" + "r" * 32
WRONG = "wrong-token-" + "w" * 32


def auth(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderPath]:
    with order_path(tmp_path_factory.mktemp("api")) as s:
        yield s


@pytest.fixture(scope="package")
def client(system: OrderPath) -> Iterator[TestClient]:
    facade = ControlFacade(system.cfg)
    app = build_api(system.cfg, facade, TokenSet(ADMIN, READ, from_env=True))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="package")
def facade(system: OrderPath) -> ControlFacade:
    """A facade of the same system, for arranging and checking state directly."""
    return ControlFacade(system.cfg)
