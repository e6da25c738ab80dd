from __future__ import annotations

from pyrt.backtest.svg_charts import MAX_POINTS, Marker, line_chart, minmax_downsample


def test_minmax_downsample_keeps_extremes() -> None:
    xs = list(range(10_000))
    ys = [0.0] * 10_000
    ys[1234], ys[8765] = 50.0, -50.0
    dx, dy = minmax_downsample(xs, ys)
    assert len(dx) <= MAX_POINTS + 2
    assert (dx[0], dx[-1]) == (0, 9_999)
    assert max(dy) == 50.0 and min(dy) == -50.0
    assert dx == sorted(dx)


def test_line_chart_is_plain_svg_with_markers() -> None:
    svg = line_chart("t <&>", [0, 10, 20], [1.0, 2.0, 1.5], markers=[Marker(10, 2.0, "buy"), Marker(20, 1.5, "sell")])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "t &lt;&amp;&gt;" in svg
    assert svg.count('class="buy"') == 1 and svg.count('class="sell"') == 1
    assert "http" not in svg
    assert "no data" in line_chart("empty", [], [])
