"""Weight-circuit figures: a QK / OV / positional matrix, and a head's score split into terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.colors import explicit_colorscale, symmetric_range
from viz.figure import axis_id, column_spans, figure, panel_title, title_with_note
from viz.interp_heatmap import labelled_heatmap
from viz.labels import plotly_text, position_labels
from viz.pooling import compact
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float

TERMS = ("tok_tok", "tok_pos", "pos_tok", "pos_pos", "bias")


def circuit_matrix(
    matrix: Float[np.ndarray, "row col"],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    row_title: str = "query token",
    col_title: str = "key token",
) -> go.Figure:
    """A [vocab, vocab] QK or OV circuit, or a [q_pos, k_pos] positional QK, on a signed scale."""
    return labelled_heatmap(
        matrix,
        list(col_labels),
        list(row_labels),
        title=title,
        note="weights only: direct path, pre-LN LayerNorms folded (centred, times w), no biases",
        signed=True,
        x_title=col_title,
        y_title=row_title,
        height=min(900, 200 + 11 * len(row_labels)),
    )


def score_terms_panels(
    terms: Sequence[Float[np.ndarray, "q_pos k_pos"]],
    tokens: Sequence[str],
    *,
    names: Sequence[str] = TERMS,
    title: str = "Layer-0 scores split into token and position terms",
    causal: bool = True,
    panel_px: int = 260,
) -> go.Figure:
    """The terms of one head side by side on one signed scale; they sum to the raw scores.
    causal: blank the cells above the diagonal, which the mask hides from the softmax."""
    s = Shapes("score_terms_panels")
    arrays = [s.array(t, "q_pos k_pos", f"terms[{i}]") for i, t in enumerate(terms)]
    toks = s.tokens(tokens, "q_pos", "k_pos")
    labels = [plotly_text(t) for t in position_labels(toks)]
    n = len(toks)
    hidden = np.triu(np.ones((n, n), dtype=bool), 1) if causal else np.zeros((n, n), dtype=bool)
    peak = symmetric_range(*[np.where(hidden, np.nan, a) for a in arrays])
    cols = column_spans([1] * len(arrays), 0.02)
    data, layout, annotations = [], {}, []
    for i, (a, name, span) in enumerate(zip(arrays, names, cols, strict=True)):
        k = axis_id(i + 1)
        data.append(
            {
                "type": "heatmap",
                "z": compact(np.where(hidden, np.nan, a)),
                "x": labels,
                "y": labels,
                "coloraxis": "coloraxis",
                "xaxis": f"x{k}",
                "yaxis": f"y{k}",
                "name": name,
                "hovertemplate": f"{plotly_text(name)}<br>query %{{y}}<br>key %{{x}}<br>%{{z:.4g}}<extra></extra>",
            }
        )
        axis = {"domain": span, "anchor": f"y{k}", "showticklabels": False, "type": "category"}
        layout[f"xaxis{k}"] = axis if i == 0 else {**axis, "matches": "x"}
        y_axis = {"domain": [0.0, 0.88], "anchor": f"x{k}", "showticklabels": False}
        y_axis.update({"type": "category", "autorange": "reversed"})
        layout[f"yaxis{k}"] = y_axis if i == 0 else {**y_axis, "matches": "y"}
        annotations.append(panel_title(plotly_text(name), span, [0.0, 0.9]))
    layout.update(
        {
            "title": title_with_note(title, "exact at layer 0, ln1's scale frozen at this prompt"),
            "coloraxis": {
                "colorscale": explicit_colorscale("RdBu_r"),
                "cmin": -peak,
                "cmax": peak,
                "colorbar": {"title": {"text": "raw score"}, "thickness": 12},
            },
            "annotations": annotations,
            "width": 120 + panel_px * len(arrays),
            "height": panel_px + 130,
            "margin": {"l": 30, "r": 20, "t": 90, "b": 30},
        }
    )
    return figure(data, layout)
