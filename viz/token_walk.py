"""Figures of one token's walk through the model (`interp.token_walk`): the stream's vectors step
by step, one head's scores and weights over the keys, and the next-token probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.colors import SIGNED_SCALE, explicit_colorscale, symmetric_range
from viz.figure import figure
from viz.labels import plotly_text, position_labels, visible
from viz.pooling import compact

if TYPE_CHECKING:
    from jaxtyping import Float


def stream_steps(
    values: Float[np.ndarray, "step d_model"], steps: Sequence[str], *, title: str
) -> go.Figure:
    """Each step's vector as a row (dimensions across), on one diverging scale; each row's label
    carries its norm."""
    z = np.asarray(values, dtype=np.float64)
    norms = np.linalg.norm(z, axis=-1)
    rows = [plotly_text(f"{s}  ‖{n:.2f}‖") for s, n in zip(steps, norms, strict=True)]
    span = symmetric_range(z)
    trace = {
        "type": "heatmap",
        "z": compact(z),
        "x": [f"d{i}" for i in range(z.shape[1])],
        "y": rows,
        "colorscale": explicit_colorscale(SIGNED_SCALE),
        "zmin": -span,
        "zmax": span,
        "colorbar": {"title": {"text": "value"}, "thickness": 12},
        "hovertemplate": "%{y}<br>%{x} = %{z:.4f}<extra></extra>",
    }
    layout = {
        "title": {"text": title},
        "height": 120 + 26 * len(rows),
        "margin": {"l": 190, "r": 20, "t": 60, "b": 40},
        "xaxis": {"type": "category", "showticklabels": False, "title": {"text": "dimension"}},
        "yaxis": {"type": "category", "autorange": "reversed"},
    }
    return figure([trace], layout)


def key_bars(
    values: Float[np.ndarray, " k_pos"], tokens: Sequence[str], *, title: str, value_name: str
) -> go.Figure:
    """One value per key, labelled with its position and token (masked keys: no bar)."""
    v = np.asarray(values, dtype=np.float64)
    trace = {
        "type": "bar",
        "x": [plotly_text(t) for t in position_labels(tokens)],
        "y": np.where(np.isfinite(v), v, np.nan),
        "hovertemplate": f"key %{{x}}<br>{value_name} %{{y:.4f}}<extra></extra>",
    }
    layout = {
        "title": {"text": title},
        "height": 300,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 80},
        "xaxis": {"type": "category", "tickangle": -90, "tickfont": {"size": 9}},
        "yaxis": {"title": {"text": value_name}},
    }
    return figure([trace], layout)


def next_token_bars(
    probs: Float[np.ndarray, " vocab"],
    logits: Float[np.ndarray, " vocab"],
    vocab: Sequence[str],
    *,
    temperature: float,
    k: int = 12,
) -> go.Figure:
    """The k most likely next tokens: probability at `temperature`, the logit in the hover."""
    p, lg = np.asarray(probs, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    top = np.argsort(-lg, kind="stable")[:k]  # temperature never reorders tokens
    trace = {
        "type": "bar",
        "x": [plotly_text(f"{visible(vocab[i])} ({i})") for i in top],
        "y": p[top],
        "customdata": lg[top],
        "hovertemplate": "%{x}<br>p %{y:.4f}<br>logit %{customdata:.3f}<extra></extra>",
    }
    layout = {
        "title": {"text": f"Next token: softmax(logits / {temperature:g})"},
        "height": 320,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 80},
        "xaxis": {"type": "category"},
        "yaxis": {"title": {"text": "probability"}, "range": [0, 1]},
    }
    return figure([trace], layout)
