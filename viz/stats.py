"""Per-layer statistics: residual-stream norms, LayerNorm input mean/std, attention entropy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.colors import SIGNED_SCALE, explicit_colorscale
from viz.figure import figure
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
    first_position: int = 0,
) -> go.Figure:
    """A [layer, pos] map: residual norm (n_layers + 1 rows: embed, after each block), LayerNorm
    input mean or std (one row per LayerNorm), or anything else measured per layer and position.

    For signed values (a LayerNorm input mean) pass zmid=0 to centre a diverging scale on zero.
    first_position: the position of the first column (a window of a longer sequence).
    """
    s = Shapes("layer_pos_heatmap")
    vals = s.array(values, "layer pos", "values")
    toks = s.tokens(tokens, "pos")
    rows = s.labels(row_labels, "layer", "row_labels") or [str(i) for i in range(vals.shape[0])]
    rows = [plotly_text(r) for r in rows]
    trace = {
        "type": "heatmap",
        "z": compact(np.where(np.isfinite(vals), vals, np.nan)),
        "x": [plotly_text(t) for t in position_labels(toks, first_position)],
        "y": rows,
        "colorscale": explicit_colorscale(SIGNED_SCALE if zmid is not None else colorscale),
        "colorbar": {"title": {"text": value_name}, "thickness": 12},
        "hovertemplate": f"%{{y}}<br>%{{x}}<br>{value_name} %{{z:.4g}}<extra></extra>",
    }
    if zmid is not None:
        trace["zmid"] = zmid
    layout = {
        "title": {"text": title},
        "height": height or 160 + 28 * len(rows),
        "margin": {"l": 90, "r": 20, "t": 60, "b": 70},
        # categories: token labels such as "14 5" or "7" must not turn into a numeric axis
        "xaxis": {
            "title": {"text": "position"},
            "type": "category",
            "tickfont": {"size": 9},
            "tickangle": -90,
        },
        "yaxis": {"autorange": "reversed", "type": "category"},
    }
    return figure([trace], layout)


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
    trace: dict = {
        "type": "heatmap",
        "z": compact(e),
        "x": [f"H{h}" for h in range(n_heads)],
        "y": [f"L{layer}" for layer in range(n_layers)],
        "zmin": 0.0,
        "colorscale": explicit_colorscale("Cividis"),
        "texttemplate": "%{z:.2f}",
        "colorbar": {"title": {"text": "bits"}, "thickness": 12},
        "hovertemplate": "%{y} %{x}<br>entropy %{z:.3f} bits<extra></extra>",
    }
    if max_bits is not None:
        trace["zmax"] = max_bits
    layout = {
        "title": {"text": title},
        "height": 140 + 48 * n_layers,
        "margin": {"l": 50, "r": 20, "t": 60, "b": 40},
        "xaxis": {"type": "category"},
        "yaxis": {"autorange": "reversed", "type": "category"},
    }
    return figure([trace], layout)


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
    data = [
        {
            "type": "bar",
            "x": layers,
            "y": compact(e[:, head]),
            "name": f"H{head}",
            "hovertemplate": f"%{{x}} H{head}<br>entropy %{{y:.3f}} bits<extra></extra>",
        }
        for head in range(n_heads)
    ]
    layout: dict = {
        "title": {"text": title},
        "barmode": "group",
        "yaxis": {"title": {"text": "bits"}},
        "xaxis": {"title": {"text": "layer"}, "type": "category"},
        "legend": {"title": {"text": "head"}},
        "height": 360,
        "margin": {"l": 50, "r": 20, "t": 60, "b": 40},
    }
    if uniform_bits is not None:  # what fig.add_hline draws: a dashed line across the plot area
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x domain",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": uniform_bits,
                "y1": uniform_bits,
                "line": {"dash": "dash", "color": "gray"},
            }
        ]
        layout["annotations"] = [
            {
                "text": f"uniform {uniform_bits:.2f} bits",
                "showarrow": False,
                "xref": "x domain",
                "x": 0,
                "xanchor": "left",
                "yref": "y",
                "y": uniform_bits,
                "yanchor": "bottom",
            }
        ]
    return figure(data, layout)
