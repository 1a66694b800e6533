"""Every head's attention as one heatmap: the panels tiled into a single image, gaps between them.

Why one trace instead of a panel per head (`viz.attention.pattern_grid`): plotly lays out, draws
and links an axis pair per panel, which for 4 x 4 heads was most of the Explore page's first
paint in the browser (120-330 ms against 25-40 ms for one trace of the same cells, measured in
Chromium on this machine). One axis pair also carries token labels once for all panels: the keys
under the bottom row, the queries left of the first column.

Each row and column has its own category label ("L1 · q 5 ␣a", "H2 · k 3 t"), so the hover box
names the layer, head, query and key from the axes alone, with no per-cell text to ship.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.colors import (
    PATTERN_SCALE,
    SIGNED_SCALE,
    explicit_colorscale,
    power_colorscale,
    symmetric_range,
)
from viz.figure import figure, title_with_note
from viz.labels import block_labels, plotly_text, thinned_ticks
from viz.pooling import compact, pool_factor, pool_last2
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float

PANEL_PX = 150  # height of one layer's row of panels
TICK_PX = 11  # least room per token label on an axis; denser labels are thinned


def _gap(n: int) -> int:
    """Blank cells between two panels: visible at any prompt length, small against the panel."""
    return max(1, round(n * 0.05))


def _labels(
    prefix: str, names: Sequence[str], n: int, gap: int, groups: int, first: int = 0
) -> list[str]:
    """Unique category labels along one axis: `groups` panels of `n` cells, `gap` blank ones
    between (blank labels are made of zero-width spaces, unique and invisible); the panels are
    numbered from `first`."""
    out: list[str] = []
    for g in range(groups):
        out += [f"{prefix}{g + first} · {plotly_text(name)}" for name in names]
        if g < groups - 1:
            out += ["\u200b" * (len(out) + 1) for _ in range(gap)]
    return out


def tile(values: np.ndarray, gap: int) -> np.ndarray:
    """[layer, head, q, k] -> one [layer*(q+gap)-gap, head*(k+gap)-gap] image, NaN in the gaps."""
    n_layers, n_heads, n_q, n_k = values.shape
    out = np.full(
        (n_layers * (n_q + gap) - gap, n_heads * (n_k + gap) - gap), np.nan, dtype=np.float32
    )
    for layer in range(n_layers):
        for head in range(n_heads):
            r, c = layer * (n_q + gap), head * (n_k + gap)
            out[r : r + n_q, c : c + n_k] = values[layer, head]
    return out


def _ticks(labels: list[str], names: Sequence[str], n: int, gap: int, groups: int, px: int) -> dict:
    """Token ticks under every panel, thinned to fit `px` pixels per panel."""
    keep = thinned_ticks(n, max(2, px // TICK_PX))
    vals = [labels[g * (n + gap) + i] for g in range(groups) for i in keep]
    text = [plotly_text(names[i]) for _ in range(groups) for i in keep]
    return {"tickmode": "array", "tickvals": vals, "ticktext": text, "tickfont": {"size": 8}}


def pattern_mosaic(
    patterns: Float[np.ndarray, "layer head q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "Attention patterns",
    max_positions: int | None = 64,
    gamma: float = 1.0,
    marked: Sequence[tuple[int, int]] = (),
    width_px: int = 1100,
    first_layer: int = 0,
    signed: bool = False,
    value_name: str | None = None,
) -> go.Figure:
    """Layers as rows and heads as columns of one heatmap, one shared colour scale in [0, 1].

    Long prompts are pooled to `max_positions` (block maximum, as in `pattern_grid`). marked:
    (layer, head) panels flagged as knocked out. width_px: the width the labels are thinned for.
    first_layer: the layer of `patterns`' first row, when it holds a window of a deeper model.
    """
    s = Shapes("pattern_mosaic")
    p = s.array(patterns, "layer head q_pos k_pos", "patterns", dtype=np.float32)
    if signed:
        p = np.where(np.isfinite(p), p, np.nan)
    toks = s.tokens(tokens, "q_pos", "k_pos")
    n_layers, n_heads = p.shape[:2]
    factor = pool_factor(len(toks), max_positions)
    z = compact(pool_last2(p, factor, "absmax" if signed else "max"))
    n = z.shape[-1]
    names = block_labels(toks, factor)
    gap = _gap(n)
    x = _labels("H", [f"k {nm}" for nm in names], n, gap, n_heads)
    y = _labels("L", [f"q {nm}" for nm in names], n, gap, n_layers, first_layer)
    value_name = value_name or ("max weight" if factor > 1 else "weight")
    trace = {
        "type": "heatmap",
        "z": tile(z, gap),
        "x": x,
        "y": y,
        "coloraxis": "coloraxis",
        "hoverongaps": False,
        "hovertemplate": f"%{{y}}<br>%{{x}}<br>{value_name} %{{z:.4f}}<extra></extra>",
    }
    cols, rows = len(x), len(y)
    annotations = [
        _note(f"H{h}", (h * (n + gap) + n / 2) / cols, 1.0, "bottom", 14) for h in range(n_heads)
    ]
    annotations += [
        _note(
            f"L{i + first_layer}",
            1.0,
            1 - (i * (n + gap) + n / 2) / rows,
            "middle",
            14,
            x_anchor="left",
        )
        for i in range(n_layers)
    ]
    annotations += [
        {
            **_note("knocked out", (h * (n + gap)) / cols, 1 - (i * (n + gap)) / rows, "top", 11),
            "xanchor": "left",
            "font": {"size": 11, "color": "white"},
            "bgcolor": "#b00020",
        }
        for i, h in ((i - first_layer, h) for i, h in marked)
        if 0 <= i < n_layers and 0 <= h < n_heads
    ]
    panel_w = width_px // max(n_heads, 1)
    kept = "the value of largest magnitude" if signed else "the largest weight"
    note = f"each cell: {kept} in a {factor}×{factor} block of positions" if factor > 1 else None
    layout = {
        "title": title_with_note(title, note),
        "height": PANEL_PX * n_layers + 170,
        "margin": {"l": 60, "r": 40, "t": 90, "b": 70},
        "annotations": annotations,
        "xaxis": {
            "type": "category",
            "title": {"text": "key →"},
            "tickangle": -90,
            "showgrid": False,
            **_ticks(x, names, n, gap, n_heads, panel_w),
        },
        "yaxis": {
            "type": "category",
            "autorange": "reversed",
            "title": {"text": "query ↓"},
            "showgrid": False,
            **_ticks(y, names, n, gap, n_layers, PANEL_PX),
        },
        "coloraxis": {
            "colorscale": explicit_colorscale(SIGNED_SCALE)
            if signed
            else power_colorscale(PATTERN_SCALE, gamma),
            "cmin": -symmetric_range(z) if signed else 0.0,
            "cmax": symmetric_range(z) if signed else 1.0,
            "colorbar": {"title": {"text": value_name}, "thickness": 12, "x": 1.04},
        },
    }
    return figure([trace], layout)


def _note(
    text: str, x: float, y: float, y_anchor: str, size: int, x_anchor: str = "center"
) -> dict:
    return {
        "text": text,
        "x": x,
        "y": y,
        "xref": "paper",
        "yref": "paper",
        "xanchor": x_anchor,
        "yanchor": y_anchor,
        "showarrow": False,
        "font": {"size": size},
    }
