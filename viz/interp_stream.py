"""Stream-health figures: rank collapse per layer, and who writes the residual stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.figure import column_spans, figure, panel_title, title_with_note
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float


def rank_collapse_lines(
    points: Sequence[str],
    mean_cosine: Float[np.ndarray, " layer"],
    effective_rank: Float[np.ndarray, " layer"],
    *,
    title: str = "Rank collapse: are positions still distinct after each layer?",
) -> go.Figure:
    """Two panels over the stream points: mean pairwise cosine (1 = collapsed), effective rank."""
    s = Shapes("rank_collapse_lines")
    rows = s.tokens(points, "layer", name="points")
    cos = s.array(mean_cosine, "layer", "mean_cosine")
    rank = s.array(effective_rank, "layer", "effective_rank")
    cols = column_spans([1, 1], 0.1)
    data = [
        {"type": "scatter", "x": rows, "y": cos, "mode": "lines+markers", "name": "mean cosine"},
        {
            "type": "scatter",
            "x": rows,
            "y": rank,
            "mode": "lines+markers",
            "name": "effective rank",
            "xaxis": "x2",
            "yaxis": "y2",
        },
    ]
    layout = {
        "title": title_with_note(title),
        "xaxis": {
            "domain": cols[0],
            "anchor": "y",
            "type": "category",
        },
        "yaxis": {"domain": [0, 0.85], "anchor": "x", "range": [-1.05, 1.05]},
        "xaxis2": {
            "domain": cols[1],
            "anchor": "y2",
            "type": "category",
        },
        "yaxis2": {"domain": [0, 0.85], "anchor": "x2", "rangemode": "tozero"},
        "annotations": [
            panel_title("mean pairwise cosine", cols[0], [0, 0.87]),
            panel_title("effective rank", cols[1], [0, 0.87]),
        ],
        "showlegend": False,
        "height": 360,
        "margin": {"l": 50, "r": 20, "t": 90, "b": 50},
    }
    return figure(data, layout)


def write_share_bars(
    components: Sequence[str],
    norm_share: Float[np.ndarray, " component"],
    projection_share: Float[np.ndarray, " component"] | None = None,
    *,
    title: str = "Who writes the residual stream",
) -> go.Figure:
    """Each component's share of the summed write norms; beside it, where the stream is a sum,
    its projection share of the final stream (sums to 1, negative = cancels others)."""
    s = Shapes("write_share_bars")
    labels = s.tokens(components, "component", name="components")
    data = [
        {
            "type": "bar",
            "x": labels,
            "y": s.array(norm_share, "component", "norm_share"),
            "name": "share of write norms",
        }
    ]
    if projection_share is not None:
        data.append(
            {
                "type": "bar",
                "x": labels,
                "y": s.array(projection_share, "component", "projection_share"),
                "name": "projection on the final stream",
            }
        )
    note = (
        None
        if projection_share is not None
        else "no projection share: the stream is not a sum of writes"
    )
    layout = {
        "title": title_with_note(title, note),
        "barmode": "group",
        "height": 360,
        "margin": {"l": 50, "r": 20, "t": 80, "b": 60},
        "xaxis": {"type": "category"},
        "yaxis": {"title": {"text": "share"}},
    }
    return figure(data, layout)
