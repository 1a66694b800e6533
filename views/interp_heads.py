"""Head types: a layer x head map per detector score, and every head labelled with its type."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.capture import Capture
from interp import HeadScores
from views.interp_lab import Matrix, Request, run_or_note
from views.items import Chart, Item, Note
from viz.interp_heads import detector_maps, head_type_map

if TYPE_CHECKING:
    from views.view_input import ViewInput

REQUEST = Request("heads")


def result(inp: ViewInput) -> HeadScores | Note:
    return run_or_note(inp.lab, REQUEST)


def best_scores(scores: HeadScores) -> np.ndarray:
    """[layer, head]: each head's score for its own type (0 for a diffuse head)."""
    n_layers, n_heads = len(scores.types), len(scores.types[0])
    return np.array(
        [[scores.strongest(i, h)[1] for h in range(n_heads)] for i in range(n_layers)],
        dtype=np.float32,
    )


def head_label(scores: HeadScores, layer: int, head: int) -> str:
    """'L1H0 · induction 0.83' (the head-picker's option text)."""
    kind, value = scores.strongest(layer, head)
    return f"L{layer}H{head} · {kind.replace('_', ' ')}" + (
        f" {value:.2f}" if kind in scores.scores else ""
    )


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    scores = result(inp)
    if isinstance(scores, Note):
        return [scores]
    names, stacked = scores.stacked()
    n = scores.probe.shape[1]
    return [
        Chart(
            "heads_types_fig",
            head_type_map(scores.types, best_scores(scores), threshold=scores.threshold),
            pick="head",
        ),
        Chart("heads_scores_fig", detector_maps(stacked.numpy(), names)),
        Note(
            f"Scores on {scores.probe.shape[0]} sequences of {n // 2} random tokens repeated "
            f"once ({n} tokens), not on your prompt: every type can be read there. Click a "
            "head's cell, or pick it in the box above the map, to open it in Focused head."
        ),
    ]


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    scores = result(inp)
    if isinstance(scores, Note):
        return scores
    layers = [f"L{i}" for i in range(len(scores.types))]
    heads = [f"H{h}" for h in range(len(scores.types[0]))]
    best = Matrix(
        "types",
        "Head types: each head's strongest type and its score",
        best_scores(scores),
        layers,
        heads,
        value_name="score",
        labels=[list(row) for row in scores.types],
    )
    return [best] + [
        Matrix(name, f"Head detector: {name}", s.numpy(), layers, heads, value_name="score")
        for name, s in scores.scores.items()
    ]
