"""Activation-patching figures: recovered logit difference as layer x head or layer x position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.interp_heatmap import labelled_heatmap
from viz.labels import position_labels
from viz.shapes import Shapes

if TYPE_CHECKING:
    from jaxtyping import Float

NOTES = {
    "denoising": "corrupted run, one clean activation patched in: 1 = restores the clean answer",
    "noising": "clean run, one corrupted activation patched in; colour 1 - recovered: 1 = breaks it",
}


def patching_map(
    recovered: Float[np.ndarray, "layer site"],
    *,
    direction: str,
    site: str,
    tokens: Sequence[str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """site: "head" (columns H0, H1, ...) or "pos" (columns labelled with `tokens`)."""
    s = Shapes("patching_map")
    z = s.array(recovered, "layer site", "recovered")
    if site == "pos":
        if tokens is None:
            raise s.error("a position map needs the prompt's tokens for its columns")
        cols = position_labels(s.tokens(tokens, "site"))
    else:
        cols = [f"H{h}" for h in range(z.shape[1])]
    # colour by effect, 0 = none, for both directions: what a patch restores (denoising), or
    # what it destroys (noising: 1 - recovered)
    effect = z if direction == "denoising" else 1.0 - z
    return labelled_heatmap(
        effect,
        cols,
        [f"L{i}" for i in range(z.shape[0])],
        title=title or f"Activation patching ({direction}), per {site}",
        note=NOTES.get(direction),
        value_name="recovered" if direction == "denoising" else "1 - recovered",
        signed=True,
        x_title="head" if site == "head" else "position",
        hover_text=[[f"recovered {v:.3f}" for v in row] for row in z],
    )
