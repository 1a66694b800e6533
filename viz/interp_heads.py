"""Head-detector figures: a layer x head map per detector, and every head labelled with its type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.colors import explicit_colorscale
from viz.figure import axis_id, column_spans, figure, panel_title, title_with_note
from viz.interp_heatmap import labelled_heatmap
from viz.labels import plotly_text
from viz.pooling import compact
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float

SHORT = {
    "previous_token": "prev",
    "duplicate_token": "dup",
    "induction": "ind",
    "first_token": "sink",
    "local_window": "local",
    "future_leakage": "future",
    "diffuse": "·",
}


def detector_maps(
    scores: Float[np.ndarray, "detector layer head"],
    detectors: Sequence[str],
    *,
    title: str = "Head detectors: share of attention on each type's cells",
    panel_px: int = 230,
) -> go.Figure:
    """One layer x head panel per detector, side by side, on one shared [0, 1] colour scale."""
    s = Shapes("detector_maps")
    z = s.array(scores, "detector layer head", "scores")
    names = s.tokens(detectors, "detector", name="detectors")
    n_layers, n_heads = z.shape[1:]
    cols = column_spans([1] * len(names), 0.03)
    data, layout = [], {}
    annotations = []
    heads = [f"H{h}" for h in range(n_heads)]
    layers = [f"L{i}" for i in range(n_layers)]
    for i, (name, span) in enumerate(zip(names, cols, strict=True)):
        n = axis_id(i + 1)
        data.append(
            {
                "type": "heatmap",
                "z": compact(z[i]),
                "x": heads,
                "y": layers,
                "coloraxis": "coloraxis",
                "xaxis": f"x{n}",
                "yaxis": f"y{n}",
                "name": name,
                "hovertemplate": f"{plotly_text(name)}<br>%{{y}} %{{x}}<br>score %{{z:.3f}}<extra></extra>",
            }
        )
        layout[f"xaxis{n}"] = {"domain": span, "anchor": f"y{n}", "type": "category"}
        layout[f"yaxis{n}"] = {
            "domain": [0.0, 0.85],
            "anchor": f"x{n}",
            "type": "category",
            "autorange": "reversed",
            "showticklabels": i == 0,
        }
        annotations.append(panel_title(plotly_text(name), span, [0.0, 0.87]))
    layout.update(
        {
            "title": title_with_note(title),
            "coloraxis": {
                "colorscale": explicit_colorscale("Viridis"),
                "cmin": 0.0,
                "cmax": 1.0,
                "colorbar": {"title": {"text": "score"}, "thickness": 12},
            },
            "annotations": annotations,
            "width": 120 + panel_px * len(names),
            "height": 160 + 34 * n_layers,
            "margin": {"l": 50, "r": 20, "t": 90, "b": 40},
        }
    )
    return figure(data, layout)


def head_type_map(
    types: Sequence[Sequence[str]],
    best_scores: Float[np.ndarray, "layer head"],
    *,
    title: str = "Head types",
    threshold: float | None = None,
) -> go.Figure:
    """Every head labelled with its strongest type, coloured by that type's score."""
    s = Shapes("head_type_map")
    z = s.array(best_scores, "layer head", "best_scores")
    if len(types) != z.shape[0] or any(len(row) != z.shape[1] for row in types):
        raise s.error(f"types must be [layer][head] = [{z.shape[0]}][{z.shape[1]}] names")
    note = f"a type needs a score >= {threshold:g}; '·' = diffuse" if threshold else None
    fig = labelled_heatmap(
        z,
        [f"H{h}" for h in range(z.shape[1])],
        [f"L{i}" for i in range(z.shape[0])],
        title=title,
        note=note,
        value_name="score",
        zmin=0.0,
        zmax=1.0,
        hover_text=[list(row) for row in types],
        cell_text=[[SHORT.get(t, t) for t in row] for row in types],
    )
    return pickable_cells(fig, types, z)


def pickable_cells(
    fig: go.Figure, types: Sequence[Sequence[str]], scores: Float[np.ndarray, "layer head"]
) -> go.Figure:
    """One invisible marker on every head's cell, carrying [layer, head] as customdata.

    Streamlit's chart selection reports points of scatter traces only (a heatmap cell cannot be
    selected), so a click on a cell lands on its marker; the app reads the head from it."""
    n_layers, n_heads = scores.shape
    cells = [(i, h) for i in range(n_layers) for h in range(n_heads)]
    fig.add_trace(
        go.Scatter(
            x=[f"H{h}" for _, h in cells],
            y=[f"L{i}" for i, _ in cells],
            customdata=[[i, h] for i, h in cells],
            text=[plotly_text(f"{types[i][h]} {scores[i, h]:.3f}") for i, h in cells],
            mode="markers",
            marker={"size": 28, "symbol": "square", "opacity": 0.0},
            selected={"marker": {"opacity": 0.0}},
            unselected={"marker": {"opacity": 0.0}},
            hovertemplate="L%{customdata[0]}H%{customdata[1]}<br>%{text}<br>click to open"
            "<extra></extra>",
            showlegend=False,
            name="heads",
        )
    )
    # a click anywhere in a cell lands on its marker: the nearest marker is always hovered, and
    # on a regular grid the nearest centre is the centre of the cell the pointer is in
    fig.update_layout(clickmode="event+select", hovermode="closest", hoverdistance=-1)
    return fig
