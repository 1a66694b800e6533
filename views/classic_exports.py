"""What the attention views that read a `Capture` export beyond its NPZ: each view's numbers as
labelled matrices, so that PNG, SVG, CSV (and for Generate an NPZ) come from
`views.interp_exports`, as for the interpretability views, and HTML is the view's own charts.

Each function takes the capture and the user's choices (`ViewInput`) and returns the matrices
the view draws, with the rows and columns labelled as on the page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.capture import Capture
from views.interp_lab import Matrix
from views.items import Note
from viz.labels import position_labels, visible

if TYPE_CHECKING:
    from views.view_input import ViewInput


def _masked_nan(x: np.ndarray) -> np.ndarray:
    """Masked scores (-inf) as NaN: blank in an image, 'nan' in a CSV."""
    return np.where(np.isfinite(x), x, np.nan)


def grid(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    """Every head's pattern at full resolution, one matrix per head."""
    assert cap.patterns is not None
    labels = position_labels(cap.tokens)
    n_layers, n_heads = cap.patterns.shape[:2]
    return [
        Matrix(
            f"L{i}H{h}", f"Layer {i} head {h}", cap.patterns[i, h], labels, labels, False, "weight"
        )
        for i in range(n_layers)
        for h in range(n_heads)
    ]


def layer_heads(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    """Every head of the focused layer (what the token view draws), one matrix per head."""
    assert cap.patterns is not None
    layer, labels = inp.focus.layer, position_labels(cap.tokens)
    return [
        Matrix(f"L{layer}H{h}", f"Layer {layer} head {h}", p, labels, labels, False, "weight")
        for h, p in enumerate(cap.patterns[layer])
    ]


def pipeline(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    assert cap.raw_scores is not None and cap.scaled_scores is not None
    assert cap.masked_scores is not None and cap.patterns is not None
    at, labels = (inp.focus.layer, inp.focus.head), position_labels(cap.tokens)
    head = f"layer {at[0]} head {at[1]}"
    stages = (
        ("raw", "raw q·k", cap.raw_scores[at], True),
        ("scaled", "scaled", cap.scaled_scores[at], True),
        ("masked", "masked", _masked_nan(cap.masked_scores[at]), True),
        ("softmax", "softmax: the weights", cap.patterns[at], False),
    )
    return [
        Matrix(name, f"{title} ({head})", values, labels, labels, signed, "score")
        for name, title, values, signed in stages
    ]


def qkv(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    assert cap.q is not None and cap.k is not None and cap.v is not None and cap.z is not None
    assert cap.patterns is not None
    f = inp.focus
    q, k = cap.q[f.layer, f.q_pos, f.head], cap.k[f.layer, f.k_pos, f.head]
    dims = [f"d{i}" for i in range(q.shape[-1])]
    labels = position_labels(cap.tokens)
    query, key = labels[f.q_pos], labels[f.k_pos]
    return [
        Matrix("q", f"q of query {query}", q[None], ["q"], dims, True),
        Matrix("k", f"k of key {key}", k[None], ["k"], dims, True),
        Matrix("q_times_k", "q ⊙ k: the dot product's terms", (q * k)[None], ["q⊙k"], dims, True),
        Matrix(
            "weights",
            f"weights of query {query}",
            cap.patterns[f.layer, f.head, f.q_pos][None],
            [query],
            labels,
            False,
            "weight",
        ),  # fmt: skip
        Matrix("v", "v of every key", cap.v[f.layer, :, f.head], labels, dims, True),
        Matrix(
            "z",
            f"z = Σ weight · v at query {query}",
            cap.z[f.layer, f.q_pos, f.head][None],
            ["z"],
            dims,
            True,
        ),  # fmt: skip
    ]


def stream(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    labels = position_labels(cap.tokens)
    what = "residual-stream norm" if cap.has_attention else "LSTM hidden-state norm"
    out = [Matrix("norm", what, cap.resid_norms, list(cap.stream_labels), labels, False, "‖x‖")]
    if cap.ln_mean is not None and cap.ln_std is not None:
        rows = list(cap.ln_labels)
        out += [
            Matrix("ln_mean", "LayerNorm input mean", cap.ln_mean, rows, labels, True, "mean"),
            Matrix("ln_std", "LayerNorm input std", cap.ln_std, rows, labels, False, "std"),
        ]
    return out


def entropy(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    assert cap.entropy is not None
    layers = [f"L{i}" for i in range(cap.entropy.shape[0])]
    heads = [f"H{h}" for h in range(cap.entropy.shape[1])]
    title = "attention entropy (bits, mean over queries)"
    return [Matrix("entropy", title, cap.entropy, layers, heads, False, "bits")]


def loss(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    labels = position_labels(cap.tokens)
    ranks = [f"top {r + 1}" for r in range(cap.top_probs.shape[1])]
    tops = [[visible(t) for t in row] for row in cap.top_tokens]
    return [
        Matrix(
            "loss", "loss of each token (nats)", cap.losses[None], ["loss"], labels, False, "nats"
        ),  # fmt: skip
        Matrix(
            "top_probs",
            "top predictions after each token",
            cap.top_probs,
            labels,
            ranks,
            False,
            "probability",
            tops,
        ),  # fmt: skip
    ]


def generation(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    """The shown step's attention of the predicting query, one row per layer and head."""
    from views.explore import generation_window

    steps = [s for s in inp.generation if s.rows is not None]
    offset = generation_window(inp.generation, cap.tokens, [int(i) for i in cap.ids])
    if not steps or offset is None:
        return Note("no generation of this prompt to export: press Generate first")
    step = steps[min(max(inp.step, 0), len(steps) - 1)]
    rows = step.rows
    assert rows is not None
    query = step.query_pos - offset
    first = query + 1 - rows.shape[-1]
    shown = max(first, 0)
    if query < 0:
        return Note("that step's query lies before the analysed window")
    n_layers, n_heads = rows.shape[:2]
    heads = [f"L{i} H{h}" for i in range(n_layers) for h in range(n_heads)]
    values = rows[:, :, shown - first :].reshape(n_layers * n_heads, -1)
    keys = position_labels(cap.tokens[shown : query + 1], shown)
    title = f"attention of the query at position {query} (step {inp.step + 1})"
    return [Matrix("step", title, values, heads, keys, False, "weight")]
