"""Per-layer statistics: residual-stream norms, LayerNorm input mean/std, attention entropy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.colors import SIGNED_SCALE
from viz.labels import plotly_text, position_labels
from viz.pooling import compact
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float


def residual_row_labels(n_layers: int) -> list[str]:
    """Row labels of a residual-stream figure: the embedding, then the stream after each block."""
    return ["embed"] + [f"after block {i}" for i in range(n_layers)]


def layer_pos_heatmap(
    values: Float[np.ndarray, "layer pos"],
    tokens: Sequence[str],
    *,
    title: str = "",
    row_labels: Sequence[str] | None = None,
    value_name: str = "value",
    colorscale: str = "Viridis",
    zmid: float | None = None,
    height: int | None = None,
) -> go.Figure:
    """A [layer, pos] map: residual norm (n_layers + 1 rows: embed, after each block), LayerNorm
    input mean or std (one row per LayerNorm), or anything else measured per layer and position.

    For signed values (a LayerNorm input mean) pass zmid=0 to centre a diverging scale on zero.
    """
    s = Shapes("layer_pos_heatmap")
    vals = s.array(values, "layer pos", "values")
    toks = s.tokens(tokens, "pos")
    rows = s.labels(row_labels, "layer", "row_labels") or [str(i) for i in range(vals.shape[0])]
    rows = [plotly_text(r) for r in rows]
    fig = go.Figure(
        go.Heatmap(
            z=compact(np.where(np.isfinite(vals), vals, np.nan)),
            x=[plotly_text(t) for t in position_labels(toks)],
            y=rows,
            zmid=zmid,
            colorscale=SIGNED_SCALE if zmid is not None else colorscale,
            colorbar=dict(title=value_name, thickness=12),
            hovertemplate=f"%{{y}}<br>%{{x}}<br>{value_name} %{{z:.4g}}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="position", tickfont=dict(size=9), tickangle=-90)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=title,
        height=height or 160 + 28 * len(rows),
        margin=dict(l=90, r=20, t=60, b=70),
    )
    return fig


def entropy_heatmap(
    entropy: Float[np.ndarray, "layer head"],
    *,
    title: str = "Attention entropy (bits)",
    max_bits: float | None = None,
) -> go.Figure:
    """Layer x head map of attention entropy, each cell labelled with its value.

    max_bits fixes the top of the scale (e.g. the entropy of a uniform causal head), so figures
    for different prompts are comparable; None uses the data's maximum.
    """
    s = Shapes("entropy_heatmap")
    e = s.array(entropy, "layer head", "entropy")
    n_layers, n_heads = e.shape
    fig = go.Figure(
        go.Heatmap(
            z=compact(e),
            x=[f"H{h}" for h in range(n_heads)],
            y=[f"L{layer}" for layer in range(n_layers)],
            zmin=0.0,
            zmax=max_bits,
            colorscale="Cividis",
            texttemplate="%{z:.2f}",
            colorbar=dict(title="bits", thickness=12),
            hovertemplate="%{y} %{x}<br>entropy %{z:.3f} bits<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=140 + 48 * n_layers, margin=dict(l=50, r=20, t=60, b=40))
    return fig


def entropy_bars(
    entropy: Float[np.ndarray, "layer head"],
    *,
    title: str = "Attention entropy (bits)",
    uniform_bits: float | None = None,
) -> go.Figure:
    """Grouped bars: one group per layer, one bar per head.

    uniform_bits draws a dashed line at the entropy of a head that spreads evenly (the ceiling),
    so "how far from uniform" reads at a glance.
    """
    s = Shapes("entropy_bars")
    e = s.array(entropy, "layer head", "entropy")
    n_layers, n_heads = e.shape
    layers = [f"L{layer}" for layer in range(n_layers)]
    fig = go.Figure(
        [
            go.Bar(
                x=layers,
                y=compact(e[:, head]),
                name=f"H{head}",
                hovertemplate=f"%{{x}} H{head}<br>entropy %{{y:.3f}} bits<extra></extra>",
            )
            for head in range(n_heads)
        ]
    )
    if uniform_bits is not None:
        fig.add_hline(
            y=uniform_bits,
            line_dash="dash",
            line_color="gray",
            annotation_text=f"uniform {uniform_bits:.2f} bits",
            annotation_position="top left",
        )
    fig.update_layout(
        title=title,
        barmode="group",
        yaxis_title="bits",
        xaxis_title="layer",
        legend_title_text="head",
        height=360,
        margin=dict(l=50, r=20, t=60, b=40),
    )
    return fig
