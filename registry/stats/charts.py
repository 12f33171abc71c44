"""Charts of standard tables, drawn only from protected cells (suppressed cells stay marked)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from registry.stats.sdc import TOTAL

SERIES = ("never_treated", "previously_treated", "not_known")
SUPPRESSED_MARK = "×"


def render(definition: dict, parts: dict[str, list[dict]], fmt: str) -> bytes:
    """Draw a standard table as PNG or SVG bytes."""
    dims = definition["dimensions"]
    fig = _bars(definition, parts, dims[0]) if len(dims) == 1 else _heatmap(definition, parts)
    out = io.BytesIO()
    # A fixed date keeps the bytes of the same protected table the same (cacheable, hashable).
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(out, format=fmt, bbox_inches="tight", metadata=metadata)
    return out.getvalue()


def _figure(width: float, height: float) -> Figure:
    """Return a figure on the Agg canvas: no display, no pyplot global state between threads."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _inner(cells: list[dict], dims: list[str]) -> list[dict]:
    """Return the cells without margins."""
    return [c for c in cells if all(c["key"][d] != TOTAL for d in dims)]


def _title(definition: dict) -> str:
    through = definition.get("through", definition["year"])
    return f"{definition['title']} — {through} (persons; × = suppressed)"


def _bars(definition: dict, parts: dict[str, list[dict]], dim: str) -> Figure:
    """Draw one bar group per category, one bar per treatment status."""
    categories = [c["key"][dim] for c in _inner(parts["all"], [dim])]
    fig = _figure(max(6, 0.9 * len(categories)), 4)
    ax = fig.subplots()
    width = 0.8 / len(SERIES)
    x = np.arange(len(categories))
    for s, series in enumerate(SERIES):
        by_code = {c["key"][dim]: c for c in parts.get(series, [])}
        values = [by_code.get(code, {}).get("value") for code in categories]
        pos = x + (s - 1) * width
        ax.bar(pos, [v or 0 for v in values], width, label=series.replace("_", " "))
        for p, v in zip(pos, values, strict=True):
            if v is None:
                ax.text(p, 0, SUPPRESSED_MARK, ha="center", va="bottom", color="firebrick")
    ax.set_xticks(x, categories, rotation=45, ha="right")
    ax.set_ylabel("persons")
    ax.set_title(_title(definition), fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _heatmap(definition: dict, parts: dict[str, list[dict]]) -> Figure:
    """Draw the 'all' part as a grid; suppressed cells are hatched and marked."""
    rows_dim, cols_dim = definition["dimensions"][:2]
    cells = _inner(parts["all"], [rows_dim, cols_dim])
    rows = list(dict.fromkeys(c["key"][rows_dim] for c in cells))
    cols = list(dict.fromkeys(c["key"][cols_dim] for c in cells))
    grid = np.full((len(rows), len(cols)), np.nan)
    hidden = []
    for c in cells:
        i, j = rows.index(c["key"][rows_dim]), cols.index(c["key"][cols_dim])
        if c["value"] is None:
            hidden.append((i, j))
        else:
            grid[i, j] = c["value"]
    fig = _figure(max(5, 0.7 * len(cols) + 2), max(3, 0.3 * len(rows) + 1))
    ax = fig.subplots()
    ax.imshow(np.ma.masked_invalid(grid), cmap="Blues", aspect="auto")
    for i, j in hidden:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", lw=0))
        ax.text(j, i, SUPPRESSED_MARK, ha="center", va="center", color="firebrick")
    for (i, j), v in np.ndenumerate(grid):
        if not np.isnan(v):
            ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_xlabel(cols_dim)
    ax.set_ylabel(rows_dim)
    ax.set_title(_title(definition), fontsize=9)
    return fig
