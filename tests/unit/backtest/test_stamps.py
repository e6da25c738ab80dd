from __future__ import annotations

from datetime import UTC, datetime

from pyrt.backtest.stamps import iso_z, iso_z_many

NS = 1_000_000_000


def _ns(s: str) -> int:
    return int(datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()) * NS


def test_iso_stamps_show_fractions_only_when_there_are_any() -> None:
    t = _ns("2024-01-02T14:31:00")
    assert iso_z(t) == "2024-01-02T14:31:00Z"
    assert iso_z(t + 250_000_000) == "2024-01-02T14:31:00.250000Z"
    assert iso_z(t + 7) == "2024-01-02T14:31:00.000000007Z"
    for ns in (0, 951_782_400 * NS, 1_709_164_799 * NS, 4_102_444_800 * NS + 5_000):
        expected = datetime.fromtimestamp(ns // NS, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert iso_z(ns).startswith(expected)
    stamps = [t, t + 60 * NS, t + 86_400 * NS]
    assert iso_z_many(stamps) == [iso_z(x) for x in stamps]
    assert iso_z_many([*stamps, t + 5]) == [iso_z(x) for x in [*stamps, t + 5]]
    assert iso_z_many([]) == []
