"""Direct-logit-attribution figures: each head and MLP per position, and all of them at one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.figure import figure, title_with_note
from viz.interp_heatmap import labelled_heatmap
from viz.labels import position_labels
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float

EXACT_NOTE = "exact: components + bias terms = the logit, LayerNorm scales frozen at this prompt"


def component_labels(n_layers: int, n_heads: int) -> list[str]:
    """Rows of `attribution_heatmap`: embed, pos_embed, then per layer its heads and its MLP."""
    out = ["embed", "pos_embed"]
    for layer in range(n_layers):
        out += [f"L{layer}H{h}" for h in range(n_heads)] + [f"L{layer} MLP"]
    return out


def component_rows(
    embed: Float[np.ndarray, " pos"],
    pos_embed: Float[np.ndarray, " pos"],
    heads: Float[np.ndarray, "layer head pos"],
    mlps: Float[np.ndarray, "layer pos"],
) -> np.ndarray:
    rows = [np.asarray(embed), np.asarray(pos_embed)]
    for layer in range(heads.shape[0]):
        rows += list(np.asarray(heads[layer])) + [np.asarray(mlps[layer])]
    return np.stack(rows)


def attribution_heatmap(
    embed: Float[np.ndarray, " pos"],
    pos_embed: Float[np.ndarray, " pos"],
    heads: Float[np.ndarray, "layer head pos"],
    mlps: Float[np.ndarray, "layer pos"],
    tokens: Sequence[str],
    *,
    title: str = "Direct logit attribution",
) -> go.Figure:
    """Components (rows) x positions (columns), signed: what each writes into the logit."""
    s = Shapes("attribution_heatmap")
    h = s.array(heads, "layer head pos", "heads")
    s.array(mlps, "layer pos", "mlps")
    s.array(embed, "pos", "embed")
    s.array(pos_embed, "pos", "pos_embed")
    toks = s.tokens(tokens, "pos")
    z = component_rows(embed, pos_embed, h, np.asarray(mlps))
    return labelled_heatmap(
        z,
        position_labels(toks),
        component_labels(h.shape[0], h.shape[1]),
        title=title,
        note=EXACT_NOTE,
        value_name="logit",
        signed=True,
        x_title="position",
        height=min(1000, 160 + 18 * z.shape[0]),
    )


def attribution_bars(
    heads: Float[np.ndarray, "layer head"],
    mlps: Float[np.ndarray, " layer"],
    embed: float,
    pos_embed: float,
    bias: float,
    logit: float,
    *,
    title: str = "Direct logit attribution at one position",
) -> go.Figure:
    """Every component's contribution at one position as bars, the bias terms and the logit last."""
    s = Shapes("attribution_bars")
    h = s.array(heads, "layer head", "heads")
    m = s.array(mlps, "layer", "mlps")
    labels = ["embed", "pos_embed"]
    values = [embed, pos_embed]
    for layer in range(h.shape[0]):
        labels += [f"L{layer}H{i}" for i in range(h.shape[1])] + [f"L{layer} MLP"]
        values += [float(v) for v in h[layer]] + [float(m[layer])]
    labels += ["bias terms", "logit"]
    values += [bias, logit]
    colours = ["#b2182b" if v >= 0 else "#2166ac" for v in values[:-1]] + ["#444444"]
    trace = {
        "type": "bar",
        "x": labels,
        "y": np.asarray(values, dtype=np.float32),
        "marker": {"color": colours},
        "hovertemplate": "%{x}<br>%{y:.4g}<extra></extra>",
    }
    layout = {
        "title": title_with_note(title, EXACT_NOTE),
        "height": 380,
        "margin": {"l": 60, "r": 20, "t": 80, "b": 80},
        "xaxis": {"type": "category", "tickangle": -60},
        "yaxis": {"title": {"text": "logit contribution"}},
    }
    return figure([trace], layout)
