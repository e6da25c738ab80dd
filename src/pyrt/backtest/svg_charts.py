"""Small inline-SVG line charts for the HTML report: no library, no script, no external file.

Long series are thinned for drawing by `minmax_downsample` (per bucket, the lowest and the
highest point, in time order, plus the first and last points), so a 100k-bar curve draws with ~2000 points and keeps every
spike. Coordinates are written with one decimal: the same inputs give the same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from pyrt.backtest.stamps import iso_z

MAX_POINTS = 2000
WIDTH, HEIGHT = 900, 240
PAD_L, PAD_R, PAD_T, PAD_B = 70, 10, 24, 22


@dataclass(frozen=True, slots=True)
class Marker:
    ts_ns: int
    price: float
    side: str  # "buy" | "sell"


def minmax_downsample(
    xs: Sequence[int], ys: Sequence[float], max_points: int = MAX_POINTS
) -> tuple[list[int], list[float]]:
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    buckets = max_points // 2
    out_x: list[int] = []
    out_y: list[float] = []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        if lo >= hi:
            continue
        i_min = i_max = lo
        for i in range(lo + 1, hi):
            if ys[i] < ys[i_min]:
                i_min = i
            elif ys[i] > ys[i_max]:
                i_max = i
        keep = {i_min, i_max}
        if b == 0:
            keep.add(0)  # the curve starts and ends where the data does
        if b == buckets - 1:
            keep.add(n - 1)
        for i in sorted(keep):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y


def _fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:,.2f}"
    return f"{v:.4f}"


def line_chart(
    title: str,
    xs: Sequence[int],
    ys: Sequence[float],
    *,
    percent: bool = False,
    area: bool = False,
    markers: Sequence[Marker] = (),
    color: str = "#1f77b4",
) -> str:
    """An SVG line of (time ns, value); `percent` labels the axis as % of a fraction;
    `area` shades between the line and 0 (drawdown); markers are buy/sell triangles."""
    dx, dy = minmax_downsample(xs, ys)
    head = f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">'
    head += f'<text x="{PAD_L}" y="16" class="t">{escape(title)}</text>'
    if not dx:
        return head + f'<text x="{PAD_L}" y="60">no data</text></svg>'
    x0, x1 = dx[0], dx[-1]
    values = list(dy) + [mk.price for mk in markers]
    y0, y1 = min(values), max(values)
    if area:
        y1 = max(y1, 0.0)
    if y1 == y0:
        y0, y1 = y0 - 1.0, y1 + 1.0
    span_x = (x1 - x0) or 1
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def px(x: int) -> float:
        return PAD_L + (x - x0) * plot_w / span_x

    def py(y: float) -> float:
        return PAD_T + (y1 - y) * plot_h / (y1 - y0)

    pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(dx, dy, strict=True))
    parts = [head]
    parts.append(f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" class="frame"/>')
    label = (lambda v: f"{v * 100:.2f}%") if percent else _fmt
    for v in (y0, (y0 + y1) / 2, y1):
        parts.append(f'<text x="{PAD_L - 4}" y="{py(v) + 4:.1f}" class="yl">{label(v)}</text>')
    parts.append(f'<text x="{PAD_L}" y="{HEIGHT - 6}" class="xl">{iso_z(x0)}</text>')
    parts.append(f'<text x="{WIDTH - PAD_R}" y="{HEIGHT - 6}" class="xl" text-anchor="end">{iso_z(x1)}</text>')
    if area:
        base = py(0.0)
        poly = f"{px(dx[0]):.1f},{base:.1f} {pts} {px(dx[-1]):.1f},{base:.1f}"
        parts.append(f'<polygon points="{poly}" fill="{color}" fill-opacity="0.25"/>')
    parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.2"/>')
    for mk in markers:
        x, y = px(mk.ts_ns), py(mk.price)
        if mk.side == "buy":
            tri = f"{x:.1f},{y:.1f} {x - 4:.1f},{y + 7:.1f} {x + 4:.1f},{y + 7:.1f}"
            parts.append(f'<polygon points="{tri}" class="buy"/>')
        else:
            tri = f"{x:.1f},{y:.1f} {x - 4:.1f},{y - 7:.1f} {x + 4:.1f},{y - 7:.1f}"
            parts.append(f'<polygon points="{tri}" class="sell"/>')
    parts.append("</svg>")
    return "".join(parts)
