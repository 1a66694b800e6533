"""Attention-pattern figures: the layer x head grid, one head, the score pipeline, a difference.

Every heatmap puts queries on y (top to bottom) and keys on x, so a causal pattern is a lower
triangle. Axis categories are position-prefixed token labels ('12 ␣the'), which keeps repeated tokens
apart and gives the hover box its text without a separate hover-text array.
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
from viz.figure import axis_id, column_spans, figure, panel_title, row_spans, title_with_note
from viz.labels import block_labels, plotly_text
from viz.pooling import Reduce, compact, pool_factor, pool_last2
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

# Scores at or below this count as masked too: some implementations fill with finfo.min, not -inf.
MASK_FLOOR = -1e9


def _blank_masked(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores with masked cells (-inf, NaN or <= MASK_FLOOR) as NaN, which plotly leaves blank."""
    hidden = ~np.isfinite(scores) | (scores <= MASK_FLOOR)
    return np.where(hidden, np.nan, scores), hidden


def _hover(value_name: str, fmt: str, name: str) -> str:
    return (
        f"query %{{y}}<br>key %{{x}}<br>{value_name} %{{z:{fmt}}}<extra>{plotly_text(name)}</extra>"
    )


def _axis_labels(tokens: Sequence[str], factor: int) -> list[str]:
    return [plotly_text(label) for label in block_labels(tokens, factor)]


def _pooled(
    z: np.ndarray, tokens: Sequence[str], max_positions: int | None, how: Reduce
) -> tuple[np.ndarray, list[str], int]:
    factor = pool_factor(len(tokens), max_positions)
    return compact(pool_last2(z, factor, how)), _axis_labels(tokens, factor), factor


def _pool_note(factor: int, how: Reduce = "max") -> str:
    kept = "the value of largest magnitude" if how == "absmax" else "the largest value"
    return f"each cell: {kept} in a {factor}×{factor} block of positions (open one head for full detail)"


def _stacked_colorbar(title: str, upper: bool) -> dict:
    """Two colour bars on the right, one above the other, for figures with two colour axes."""
    return {
        "title": {"text": title},
        "thickness": 10,
        "len": 0.45,
        "y": 0.77 if upper else 0.23,
        "yanchor": "middle",
    }


def _linked_panels(
    panels: Sequence[tuple[np.ndarray, str, str, str]],
    labels: list[str],
    *,
    n_cols: int,
    gap: float,
    row_titles: Sequence[str],
    x_title: str | None = None,
    bottom_x_title: str | None = None,
) -> tuple[list[dict], dict, list[list[float]]]:
    """Heatmap panels in rows of `n_cols`, every axis zooming with the first panel's (what
    make_subplots' shared_xaxes="all", shared_yaxes="all" give), queries top to bottom.

    panels: (z, name, coloraxis, hovertemplate) per panel, row by row; the x and y categories
    are `labels` for all of them. Returns the traces, the layout's axes and the column spans.
    """
    n_rows = len(panels) // n_cols
    cols, rows = column_spans([1] * n_cols, gap), row_spans([1] * n_rows, gap)
    data: list[dict] = []
    axes: dict = {}
    for i, (z, name, coloraxis, hover) in enumerate(panels):
        row, col = divmod(i, n_cols)
        n = axis_id(i + 1)
        data.append(
            {
                "type": "heatmap",
                "z": z,
                "x": labels,
                "y": labels,
                "name": name,
                "coloraxis": coloraxis,
                "hovertemplate": hover,
                "xaxis": f"x{n}",
                "yaxis": f"y{n}",
            }
        )
        x_axis: dict = {"domain": cols[col], "anchor": f"y{n}", "showticklabels": False}
        y_axis: dict = {"domain": rows[row], "anchor": f"x{n}", "showticklabels": False}
        x_axis["type"] = y_axis["type"] = "category"  # labels like "14 5" must not become numbers
        y_axis["autorange"] = "reversed"
        if i:
            x_axis["matches"], y_axis["matches"] = "x", "y"
        if x_title:
            x_axis["title"] = {"text": x_title}
        elif bottom_x_title and row == n_rows - 1:
            x_axis["title"] = {"text": bottom_x_title}
        if col == 0:
            y_axis["title"] = {"text": row_titles[row]}
        axes[f"xaxis{n}"], axes[f"yaxis{n}"] = x_axis, y_axis
    return data, axes, cols


def pattern_grid(
    patterns: Float[np.ndarray, "layer head q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "Attention patterns",
    max_positions: int | None = 128,
    zmax: float = 1.0,
    gamma: float = 1.0,
    colorscale: str = PATTERN_SCALE,
    cell_px: int = 190,
    marked: Sequence[tuple[int, int]] = (),
    first_layer: int = 0,
) -> go.Figure:
    """Every layer (rows) x head (columns) in one figure with one shared colour scale.

    Queries run down each panel and keys across (the axis titles say so). marked: (layer, head)
    panels to flag as knocked out, so a grid under head ablations shows which heads were removed.
    first_layer: the layer of `patterns`' first row, when it holds a window of a deeper model.

    Axes are linked, so zooming one head zooms all of them to the same positions. Prompts longer
    than `max_positions` are pooled (block maximum) to keep the figure light: at 4 x 4 heads and
    256 tokens the full-resolution grid would be ~6 MB of JSON. gamma < 1 brightens small weights.
    """
    s = Shapes("pattern_grid")
    # float32 throughout: the browser gets float32 anyway and a block maximum is exact in it
    p = s.array(patterns, "layer head q_pos k_pos", "patterns", dtype=np.float32)
    toks = s.tokens(tokens, "q_pos", "k_pos")
    n_layers, n_heads = p.shape[:2]
    z, labels, factor = _pooled(p, toks, max_positions, "max")
    value_name = "max weight" if factor > 1 else "weight"
    names = [
        f"L{layer + first_layer} H{head}" for layer in range(n_layers) for head in range(n_heads)
    ]
    panels = [
        (z[i // n_heads, i % n_heads], name, "coloraxis", _hover(value_name, ".4f", name))
        for i, name in enumerate(names)
    ]
    data, layout, cols = _linked_panels(
        panels,
        labels,
        n_cols=n_heads,
        gap=0.015,
        row_titles=[f"L{layer + first_layer} · query ↓" for layer in range(n_layers)],
        bottom_x_title="key →",
    )
    rows = row_spans([1] * n_layers, 0.015)
    flags = [
        {
            **panel_title("knocked out", cols[head], rows[layer]),
            "y": rows[layer][1],
            "yanchor": "top",
            "font": {"size": 11, "color": "white"},
            "bgcolor": "#b00020",
        }
        for layer, head in ((layer - first_layer, head) for layer, head in marked)
        if 0 <= layer < n_layers and 0 <= head < n_heads
    ]
    layout.update(
        title=title_with_note(title, _pool_note(factor) if factor > 1 else None),
        annotations=[panel_title(f"H{h}", cols[h], [0.0, 1.0]) for h in range(n_heads)] + flags,
        height=cell_px * n_layers + 120,
        margin={"l": 50, "r": 20, "t": 90, "b": 30},
        coloraxis={
            "colorscale": power_colorscale(colorscale, gamma),
            "cmin": 0.0,
            "cmax": zmax,
            "colorbar": {"title": {"text": value_name}, "thickness": 12},
        },
    )
    return figure(data, layout)


def head_heatmap(
    pattern: Float[np.ndarray, "q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "",
    zmin: float | None = 0.0,
    zmax: float | None = 1.0,
    zmid: float | None = None,
    colorscale: str = PATTERN_SCALE,
    gamma: float = 1.0,
    value_name: str = "weight",
    max_positions: int | None = None,
    height: int = 620,
) -> go.Figure:
    """One head's pattern (or any [q_pos, k_pos] map) with token labels on both axes.

    Full resolution by default. For scores pass zmin=zmax=None, zmid=0, colorscale=SIGNED_SCALE;
    -inf (masked) cells are drawn blank.
    """
    s = Shapes("head_heatmap")
    p = s.array(pattern, "q_pos k_pos", "pattern")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    z, labels, factor = _pooled(_blank_masked(p)[0], toks, max_positions, "max")
    shown = f"max {value_name}" if factor > 1 else value_name
    trace: dict = {
        "type": "heatmap",
        "z": z,
        "x": labels,
        "y": labels,
        "colorscale": power_colorscale(colorscale, gamma),
        "colorbar": {"title": {"text": shown}, "thickness": 12},
        "hovertemplate": _hover(shown, ".4f", title or value_name),
    }
    trace.update(
        {k: v for k, v in (("zmin", zmin), ("zmax", zmax), ("zmid", zmid)) if v is not None}
    )
    note = _pool_note(factor) if factor > 1 else None
    layout = {
        "title": title_with_note(title, note),
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 80, "b": 70},
        "xaxis": {
            "title": {"text": "key"},
            "type": "category",  # token labels such as "14 5" must not be read as numbers
            "tickfont": {"size": 9},
            "tickangle": -90,
            "constrain": "domain",
        },
        "yaxis": {
            "title": {"text": "query"},
            "type": "category",
            "tickfont": {"size": 9},
            "autorange": "reversed",
            "scaleanchor": "x",
            "constrain": "domain",
        },
    }
    return figure([trace], layout)


def score_pipeline(
    raw: Float[np.ndarray, "q_pos k_pos"],
    scaled: Float[np.ndarray, "q_pos k_pos"],
    masked: Float[np.ndarray, "q_pos k_pos"],
    pattern: Float[np.ndarray, "q_pos k_pos"],
    tokens: Sequence[str],
    *,
    titles: Sequence[str] = ("raw q·k", "scaled", "masked", "softmax → pattern"),
    title: str = "",
    max_positions: int | None = 128,
    height: int = 420,
    causal: bool | None = None,
) -> go.Figure:
    """Four panels, left to right: raw scores → scaled → masked (−inf blank) → softmax.

    causal: whether the pass used the causal mask (`model.switches.causal_mask_on`), so the note
    under the title states it instead of guessing from the blank cells; None when unknown.

    The three score panels share one diverging scale so the shrink from scaling is visible as
    paler colours; the pattern has its own [0, 1] scale.
    """
    s = Shapes("score_pipeline")
    arrays = [
        s.array(a, "q_pos k_pos", name)
        for a, name in ((raw, "raw"), (scaled, "scaled"), (masked, "masked"), (pattern, "pattern"))
    ]
    toks = s.tokens(tokens, "q_pos", "k_pos")
    if len(titles) != 4:
        raise s.error(f"titles needs 4 entries, got {len(titles)}")
    raw_a, scaled_a, masked_a, pattern_a = arrays
    masked_a, hidden = _blank_masked(masked_a)
    finite = [np.where(np.isfinite(x), x, np.nan) for x in (raw_a, scaled_a)] + [masked_a]
    span = symmetric_range(*finite)
    factor = pool_factor(len(toks), max_positions)
    # one pooling call for all four panels: same positions, same blocks
    z = compact(pool_last2(np.stack([*finite, pattern_a]), factor, "max"))
    labels = _axis_labels(toks, factor)
    score = "max score" if factor > 1 else "score"
    weight = "max weight" if factor > 1 else "weight"
    panels = [
        (z[i], name, "coloraxis", _hover(score, ".3f", name)) for i, name in enumerate(titles[:3])
    ]
    panels.append((z[3], titles[3], "coloraxis2", _hover(weight, ".4f", titles[3])))
    data, layout, cols = _linked_panels(
        panels, labels, n_cols=4, gap=0.02, row_titles=["query"], x_title="key"
    )
    n_hidden = int(hidden.sum())
    mask = {True: "causal mask on", False: "no causal mask", None: ""}[causal]
    if n_hidden:
        note = (
            f"blank in “{titles[2]}”: masked to −∞ ({n_hidden} of {hidden.size} cells), "
            "which softmax turns into weight 0" + (f" · {mask}" if mask else "")
        )
    elif causal is None:
        note = f"“{titles[2]}”: no cell masked"
    else:
        note = f"“{titles[2]}”: no cell masked ({mask})"
    if factor > 1:
        note += f"<br>{_pool_note(factor)}"
    layout.update(
        title=title_with_note(title, note),
        annotations=[panel_title(t, cols[i], [0.0, 1.0]) for i, t in enumerate(titles)],
        height=height,
        margin={"l": 50, "r": 20, "t": 100, "b": 40},
        coloraxis={
            "colorscale": explicit_colorscale(SIGNED_SCALE),
            "cmin": -span,
            "cmax": span,
            "colorbar": _stacked_colorbar("score", upper=True),
        },
        coloraxis2={
            "colorscale": explicit_colorscale(PATTERN_SCALE),
            "cmin": 0.0,
            "cmax": 1.0,
            "colorbar": _stacked_colorbar("weight", upper=False),
        },
    )
    return figure(data, layout)


def pattern_difference(
    a: Float[np.ndarray, "q_pos k_pos"],
    b: Float[np.ndarray, "q_pos k_pos"],
    tokens: Sequence[str],
    *,
    labels: tuple[str, str] = ("A", "B"),
    title: str = "",
    zmax: float = 1.0,
    gamma: float = 1.0,
    max_positions: int | None = 128,
    height: int = 420,
) -> go.Figure:
    """Two patterns of the same prompt side by side, then a − b on a diverging scale.

    Raises ValueError when the shapes differ: a cell-by-cell difference needs the same positions.
    """
    s = Shapes("pattern_difference")
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    if a_arr.shape != b_arr.shape:
        raise s.error(
            f"{labels[0]} has shape {a_arr.shape} but {labels[1]} has {b_arr.shape}; a difference "
            "needs two patterns of the same prompt (same q_pos and k_pos)"
        )
    a_arr = s.array(a_arr, "q_pos k_pos", labels[0])
    b_arr = s.array(b_arr, "q_pos k_pos", labels[1])
    toks = s.tokens(tokens, "q_pos", "k_pos")
    # Difference first, then pool: pooling each side first would compare different cells' maxima.
    diff = a_arr - b_arr
    z_diff, axis, factor = _pooled(diff, toks, max_positions, "absmax")
    z_a, _, _ = _pooled(a_arr, toks, max_positions, "max")
    z_b, _, _ = _pooled(b_arr, toks, max_positions, "max")
    span = symmetric_range(diff)
    peak = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0
    diff_title = f"{labels[0]} − {labels[1]} (max |Δ| {peak:.3f})"

    weight = "max weight" if factor > 1 else "weight"
    delta = "Δ of largest |Δ|" if factor > 1 else "Δ"
    panels = [
        (z_a, labels[0], "coloraxis", _hover(weight, ".4f", labels[0])),
        (z_b, labels[1], "coloraxis", _hover(weight, ".4f", labels[1])),
        (z_diff, diff_title, "coloraxis2", _hover(delta, ".4f", diff_title)),
    ]
    data, layout, cols = _linked_panels(
        panels, axis, n_cols=3, gap=0.03, row_titles=["query"], x_title="key"
    )
    titles = [labels[0], labels[1], diff_title]
    layout.update(
        title=title_with_note(title, _pool_note(factor, "absmax") if factor > 1 else None),
        annotations=[panel_title(t, cols[i], [0.0, 1.0]) for i, t in enumerate(titles)],
        height=height,
        margin={"l": 50, "r": 20, "t": 90, "b": 40},
        coloraxis={
            "colorscale": power_colorscale(PATTERN_SCALE, gamma),
            "cmin": 0.0,
            "cmax": zmax,
            "colorbar": _stacked_colorbar("weight", upper=True),
        },
        coloraxis2={
            "colorscale": explicit_colorscale(SIGNED_SCALE),
            "cmin": -span,
            "cmax": span,
            "colorbar": _stacked_colorbar("Δ", upper=False),
        },
    )
    return figure(data, layout)
