"""A sweep's files: `sweep.parquet` (every run: parameters as `p_<name>` columns, figures,
status), a self-contained `heatmap.html` (inline styles, no script, nothing fetched) and the
ranked table as text."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pyrt.research.grid import set_label
from pyrt.research.sweep import METRICS

TOP_SHOWN = 10


def write_parquet(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    names: list[str] = []
    for r in rows:
        for k in r["params"]:
            if k not in names:
                names.append(k)
    cols: dict[str, list[Any]] = {"key": [], "tag": [], "status": [], "error": [], "window_lo": [], "window_hi": []}
    for n in names:
        cols[f"p_{n}"] = []
    for m in (*METRICS, "sharpe_daily", "t_pvalue", "days"):
        cols[m] = []
    for r in rows:
        cols["key"].append(r["key"])
        cols["tag"].append(r.get("tag", ""))
        cols["status"].append(r.get("status"))
        cols["error"].append(r.get("error"))
        w = r.get("window") or [None, None]
        cols["window_lo"].append(w[0])
        cols["window_hi"].append(w[1])
        for n in names:
            v = r["params"].get(n)
            cols[f"p_{n}"].append(None if v is None else str(v) if _mixed(rows, n) else v)
        for m in (*METRICS, "sharpe_daily", "t_pvalue", "days"):
            v = r.get(m)
            cols[m].append(None if v is None else float(v) if m not in ("trades", "days") else int(v))
    pq.write_table(pa.table(cols), path)


def _mixed(rows: Sequence[Mapping[str, Any]], name: str) -> bool:
    """A parameter with any word among its values is written as text (one column type)."""
    return any(isinstance(r["params"].get(name), str) for r in rows)


def ranked_table(ranked: Sequence[Mapping[str, Any]], metric: str, n: int = TOP_SHOWN) -> str:
    cols = ("sharpe", "total_return", "max_drawdown", "trades", "t_pvalue")
    head = f"{'#':>3}  {'parameters':<32} {metric:>13}" + "".join(f" {c:>13}" for c in cols if c != metric)
    lines = [head]
    for i, r in enumerate(ranked[:n], 1):
        cells = "".join(f" {_fmt(r.get(c)):>13}" for c in cols if c != metric)
        lines.append(f"{i:>3}  {set_label(r['params']):<32} {_fmt(r.get(metric)):>13}{cells}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4f}"


def _colour(v: float | None, lo: float, hi: float) -> str:
    if v is None or not math.isfinite(v):
        return "#eeeeee"
    x = 0.5 if hi <= lo else (v - lo) / (hi - lo)
    r, g = (230, int(90 + 140 * 2 * x)) if x < 0.5 else (int(230 - 160 * (2 * x - 1)), 200)
    return f"rgb({r},{g},110)"


def heatmap_html(rows: Sequence[Mapping[str, Any]], metric: str, title: str) -> str:
    """The metric over the first two parameters (the best over any others); one row when
    there is one parameter. Every cell has a title with its set and value."""
    ok = [r for r in rows if r.get("status") == "ok"]
    names = list(ok[0]["params"]) if ok else []
    xs_name = names[0] if names else ""
    ys_name = names[1] if len(names) > 1 else ""
    cells: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    for r in ok:
        k = (r["params"].get(xs_name), r["params"].get(ys_name) if ys_name else "")
        v = r.get(metric)
        cur: Mapping[str, Any] | None = cells.get(k)
        if cur is None or (v is not None and (cur.get(metric) is None or v > cur[metric])):
            cells[k] = r
    xs = sorted({k[0] for k in cells}, key=_sort_key)
    ys = sorted({k[1] for k in cells}, key=_sort_key)
    vals = [float(r[metric]) for r in cells.values() if r.get(metric) is not None]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 0.0)
    esc = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>" + esc(title) + "</title>",
        ("<style>body{font:13px system-ui,sans-serif;margin:20px}table{border-collapse:collapse}"
        "td,th{border:1px solid #fff;padding:4px 6px;text-align:right;min-width:44px}"
        "th{background:#f4f4f4}caption{text-align:left;margin-bottom:8px}</style></head><body>"),
        f"<h1>{esc(title)}</h1>",
        f"<p>{esc(metric)} by {esc(xs_name)} (columns)" + (f" and {esc(ys_name)} (rows)" if ys_name else "")
        + (f"; the best over {esc(', '.join(names[2:]))}" if len(names) > 2 else "")
        + f". {len(ok)} run(s); range {lo:.4f} to {hi:.4f}; grey: no result.</p>",
        "<table><tr><th>" + esc(ys_name or "") + " \\ " + esc(xs_name) + "</th>"
        + "".join(f"<th>{esc(str(x))}</th>" for x in xs) + "</tr>",
    ]  # fmt: skip
    for y in ys:
        tds = []
        for x in xs:
            cell = cells.get((x, y))
            v = None if cell is None else cell.get(metric)
            tip = (
                ""
                if cell is None
                else f"{set_label(cell['params'])}: {metric} {_fmt(v)}, trades {_fmt(cell.get('trades'))}"
            )
            tds.append(f"<td style='background:{_colour(v, lo, hi)}' title='{esc(tip)}'>{_fmt(v)}</td>")
        out.append(f"<tr><th>{esc(str(y))}</th>{''.join(tds)}</tr>")
    out.append("</table></body></html>\n")
    return "\n".join(out)


def _sort_key(v: Any) -> tuple[int, float, str]:
    return (0, float(v), "") if isinstance(v, (int, float)) else (1, 0.0, str(v))
