from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.models import train_tiny


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One logistic regression trained on AAPL's shared daily bars (the real trainer)."""
    return train_tiny(tmp_path_factory.mktemp("models"))
