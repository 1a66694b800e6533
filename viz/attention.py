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
from plotly.subplots import make_subplots

from viz.colors import PATTERN_SCALE, SIGNED_SCALE, power_colorscale, symmetric_range
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


def _title(text: str, note: str | None = None) -> dict:
    """A figure title with an optional grey subtitle (notes there are never clipped by margins)."""
    note_font = dict(size=11, color="gray")
    if note and not text:  # plotly.js may skip the whole title group when its text is empty
        return dict(text=note, font=note_font)
    title: dict = dict(text=text)
    if note:
        title["subtitle"] = dict(text=note, font=note_font)
    return title


def _stacked_colorbar(title: str, upper: bool) -> dict:
    """Two colour bars on the right, one above the other, for figures with two colour axes."""
    return dict(title=title, thickness=10, len=0.45, y=0.77 if upper else 0.23, yanchor="middle")


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
) -> go.Figure:
    """Every layer (rows) x head (columns) in one figure with one shared colour scale.

    Axes are linked, so zooming one head zooms all of them to the same positions. Prompts longer
    than `max_positions` are pooled (block maximum) to keep the figure light: at 4 x 4 heads and
    256 tokens the full-resolution grid would be ~6 MB of JSON. gamma < 1 brightens small weights.
    """
    s = Shapes("pattern_grid")
    p = s.array(patterns, "layer head q_pos k_pos", "patterns")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    n_layers, n_heads = p.shape[:2]
    z, labels, factor = _pooled(p, toks, max_positions, "max")
    value_name = "max weight" if factor > 1 else "weight"

    fig = make_subplots(
        rows=n_layers,
        cols=n_heads,
        shared_xaxes="all",
        shared_yaxes="all",
        column_titles=[f"H{h}" for h in range(n_heads)],
        horizontal_spacing=0.015,
        vertical_spacing=0.015,
    )
    for layer in range(n_layers):
        for head in range(n_heads):
            name = f"L{layer} H{head}"
            fig.add_trace(
                go.Heatmap(
                    z=z[layer, head],
                    x=labels,
                    y=labels,
                    name=name,
                    coloraxis="coloraxis",
                    hovertemplate=_hover(value_name, ".4f", name),
                ),
                row=layer + 1,
                col=head + 1,
            )
        fig.update_yaxes(title_text=f"L{layer}", row=layer + 1, col=1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_layout(
        title=_title(title, _pool_note(factor) if factor > 1 else None),
        height=cell_px * n_layers + 120,
        margin=dict(l=50, r=20, t=90, b=30),
        coloraxis=dict(
            colorscale=power_colorscale(colorscale, gamma),
            cmin=0.0,
            cmax=zmax,
            colorbar=dict(title=value_name, thickness=12),
        ),
    )
    return fig


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
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=labels,
            zmin=zmin,
            zmax=zmax,
            zmid=zmid,
            colorscale=power_colorscale(colorscale, gamma),
            colorbar=dict(title=shown, thickness=12),
            hovertemplate=_hover(shown, ".4f", title or value_name),
        )
    )
    note = _pool_note(factor) if factor > 1 else None
    fig.update_layout(title=_title(title, note), height=height, margin=dict(l=70, r=20, t=80, b=70))
    fig.update_xaxes(title_text="key", tickfont=dict(size=9), tickangle=-90)
    fig.update_yaxes(title_text="query", tickfont=dict(size=9), autorange="reversed")
    fig.update_yaxes(scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    return fig


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
) -> go.Figure:
    """Four panels, left to right: raw scores → scaled → masked (−inf blank) → softmax.

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
    span = symmetric_range(raw_a, scaled_a, masked_a)

    fig = make_subplots(
        rows=1,
        cols=4,
        shared_xaxes="all",
        shared_yaxes="all",
        subplot_titles=list(titles),
        horizontal_spacing=0.02,
    )
    finite = [np.where(np.isfinite(x), x, np.nan) for x in (raw_a, scaled_a)] + [masked_a]
    for col, (z_full, name) in enumerate(zip(finite, titles[:3], strict=True), start=1):
        z, labels, factor = _pooled(z_full, toks, max_positions, "max")
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=labels,
                y=labels,
                name=name,
                coloraxis="coloraxis",
                hovertemplate=_hover("max score" if factor > 1 else "score", ".3f", name),
            ),
            row=1,
            col=col,
        )
    z, labels, factor = _pooled(pattern_a, toks, max_positions, "max")
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=labels,
            y=labels,
            name=titles[3],
            coloraxis="coloraxis2",
            hovertemplate=_hover("max weight" if factor > 1 else "weight", ".4f", titles[3]),
        ),
        row=1,
        col=4,
    )
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_yaxes(title_text="query", row=1, col=1)
    fig.update_xaxes(showticklabels=False, title_text="key")
    n_hidden = int(hidden.sum())
    note = (
        f"blank in “{titles[2]}”: masked to −∞ ({n_hidden} of {hidden.size} cells), "
        "which softmax turns into weight 0"
        if n_hidden
        else f"“{titles[2]}”: no cell masked (is the causal mask switched off?)"
    )
    if factor > 1:
        note += f"<br>{_pool_note(factor)}"
    fig.update_layout(
        title=_title(title, note),
        height=height,
        margin=dict(l=50, r=20, t=100, b=40),
        coloraxis=dict(
            colorscale=SIGNED_SCALE,
            cmin=-span,
            cmax=span,
            colorbar=_stacked_colorbar("score", upper=True),
        ),
        coloraxis2=dict(
            colorscale=PATTERN_SCALE,
            cmin=0.0,
            cmax=1.0,
            colorbar=_stacked_colorbar("weight", upper=False),
        ),
    )
    return fig


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

    fig = make_subplots(
        rows=1,
        cols=3,
        shared_xaxes="all",
        shared_yaxes="all",
        subplot_titles=[labels[0], labels[1], diff_title],
        horizontal_spacing=0.03,
    )
    weight = "max weight" if factor > 1 else "weight"
    delta = "Δ of largest |Δ|" if factor > 1 else "Δ"
    panels = ((z_a, labels[0], "coloraxis", weight), (z_b, labels[1], "coloraxis", weight))
    panels += ((z_diff, diff_title, "coloraxis2", delta),)
    for col, (z, name, axis_name, shown) in enumerate(panels, start=1):
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=axis,
                y=axis,
                name=name,
                coloraxis=axis_name,
                hovertemplate=_hover(shown, ".4f", name),
            ),
            row=1,
            col=col,
        )
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_yaxes(title_text="query", row=1, col=1)
    fig.update_xaxes(showticklabels=False, title_text="key")
    fig.update_layout(
        title=_title(title, _pool_note(factor, "absmax") if factor > 1 else None),
        height=height,
        margin=dict(l=50, r=20, t=90, b=40),
        coloraxis=dict(
            colorscale=power_colorscale(PATTERN_SCALE, gamma),
            cmin=0.0,
            cmax=zmax,
            colorbar=_stacked_colorbar("weight", upper=True),
        ),
        coloraxis2=dict(
            colorscale=SIGNED_SCALE,
            cmin=-span,
            cmax=span,
            colorbar=_stacked_colorbar("Δ", upper=False),
        ),
    )
    return fig
