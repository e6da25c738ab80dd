"""`pyrt cache clear` empties cache/market_data/."""

from pathlib import Path

from typer.testing import CliRunner

from pyrt.ops.cli import app
from tests.support.deploy import make_deployment


def test_cache_clear_removes_cached_files(tmp_path: Path):
    config_dir = make_deployment(tmp_path / "root")
    cache = tmp_path / "root" / "cache" / "market_data"
    cache.mkdir(parents=True)
    (cache / "AAPL.json").write_text("[]")
    (cache / "MSFT.json").write_text("[]")
    result = CliRunner().invoke(app, ["cache", "clear", "--config-dir", str(config_dir)])
    assert result.exit_code == 0, result.output
    assert "cleared 2 cached files" in result.output
    assert list(cache.iterdir()) == []
