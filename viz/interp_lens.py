"""Logit-lens figure: per stream point and position, the true next token's probability or rank,
with the lens's top tokens in the hover box."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go

from viz.interp_heatmap import labelled_heatmap
from viz.labels import position_labels, visible
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float, Int


def logit_lens_heatmap(
    values: Float[np.ndarray, "layer pred_pos"],
    tokens: Sequence[str],
    points: Sequence[str],
    top_tokens: Sequence[Sequence[Sequence[str]]] | None = None,
    top_probs: Float[np.ndarray, "layer pred_pos k"] | None = None,
    *,
    measure: Literal["prob", "rank"] = "prob",
    title: str = "Logit lens: the true next token, read after each layer",
) -> go.Figure:
    """values: `true_prob` or `true_rank` of a LogitLens ([stream point, position that has a
    next token]); tokens: the prompt's token strings (one more than positions with a target).
    Columns are labelled with the position and the token to be predicted."""
    s = Shapes("logit_lens_heatmap")
    z = s.array(values, "layer pred_pos", "values")
    toks = s.tokens(tokens, name="tokens")
    if len(toks) != z.shape[1] + 1:
        raise s.error(f"tokens must be one longer than values' positions ({z.shape[1] + 1})")
    rows = s.tokens(points, "layer", name="points")
    pairs = zip(position_labels(toks)[:-1], toks[1:], strict=True)
    cols = [f"{label} → {visible(nxt)}" for label, nxt in pairs]
    hover = None
    if top_tokens is not None:
        probs = None if top_probs is None else s.array(top_probs, "layer pred_pos k", "top_probs")
        hover = [
            [
                "top: "
                + ", ".join(
                    visible(t) + ("" if probs is None else f" {probs[i, j, n]:.2f}")
                    for n, t in enumerate(top_tokens[i][j])
                )
                for j in range(z.shape[1])
            ]
            for i in range(z.shape[0])
        ]
    if measure == "rank":
        return labelled_heatmap(
            np.log10(1.0 + z),
            cols,
            rows,
            title=title,
            note="colour: log10(1 + rank); 0 = the lens's top token",
            value_name="log10(1+rank)",
            hover_text=hover,
        )
    return labelled_heatmap(
        z,
        cols,
        rows,
        title=title,
        value_name="p(true next)",
        zmin=0.0,
        zmax=1.0,
        hover_text=hover,
    )


def lens_top_tokens(
    top_tokens: Int[np.ndarray, "layer pos k"], token_strings: Sequence[str]
) -> list[list[list[str]]]:
    """Token ids of `LogitLens.top_tokens` as strings, for `logit_lens_heatmap`'s hover."""
    ids = np.asarray(top_tokens)
    return [[[token_strings[int(t)] for t in cell] for cell in row] for row in ids]
