"""The Explore page's figures from one `Capture` and the user's focus (layer, head, query, key).

Kept apart from the page so the benchmark can time exactly what the page draws, without Streamlit.
`views.registry` says which of these each tab shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from analysis.capture import Capture, GenerationStep
from interp.attention_stats import uniform_entropy
from viz.attention import head_heatmap, score_pipeline
from viz.mosaic import pattern_mosaic
from viz.qkv import qkv_inspector
from viz.stats import entropy_bars, entropy_heatmap, layer_pos_heatmap
from viz.tokens import token_loss_html, topk_table

# Overview figures pool long prompts to this many positions: a full-resolution 4 x 4 grid over 256
# tokens would be ~6 MB of JSON, past the page's 3 MB budget; the focused head stays exact.
GRID_POSITIONS = 64
PIPELINE_POSITIONS = 96


@dataclass(frozen=True)
class Focus:
    layer: int = 0
    head: int = 0
    q_pos: int = 0
    k_pos: int = 0


def clamp_focus(focus: Focus, n_layers: int, n_heads: int, n_pos: int) -> Focus:
    """A focus that fits this capture (a shorter prompt or another model may shrink the ranges)."""
    q = min(max(focus.q_pos, 0), n_pos - 1)
    return Focus(
        layer=min(max(focus.layer, 0), n_layers - 1),
        head=min(max(focus.head, 0), n_heads - 1),
        q_pos=q,
        k_pos=min(max(focus.k_pos, 0), n_pos - 1),
    )


def grid_figure(
    cap: Capture,
    gamma: float = 1.0,
    knocked: Sequence[tuple[int, int]] = (),
    layers: tuple[int, int] | None = None,
) -> go.Figure:
    """knocked: (layer, head) of knocked-out heads, marked on their panels. layers: the first and
    last layer shown (a window of a deep model's grid); None shows every layer."""
    assert cap.patterns is not None
    lo, hi = layers if layers is not None else (0, cap.patterns.shape[0] - 1)
    return pattern_mosaic(
        cap.patterns[lo : hi + 1],
        cap.tokens,
        title="Attention patterns" if layers is None else f"Attention patterns, layers {lo}-{hi}",
        gamma=gamma,
        max_positions=GRID_POSITIONS,
        marked=knocked,
        first_layer=lo,
    )


HEAD_ROW_PX = 11  # one token's row in Focused head: room for a 9-pt label on every row


def head_figure(cap: Capture, focus: Focus, gamma: float = 1.0) -> go.Figure:
    """One head at full resolution, every query and key labelled (plotly's automatic ticks skip
    every other token); the figure grows with the prompt so the labels keep their room."""
    assert cap.patterns is not None
    n = len(cap.tokens)
    fig = head_heatmap(
        cap.patterns[focus.layer, focus.head],
        cap.tokens,
        title=f"Layer {focus.layer} head {focus.head}",
        gamma=gamma,
        height=max(620, HEAD_ROW_PX * n + 190),
    )
    every = {"tickmode": "array", "tickvals": list(fig.data[0].x), "ticktext": list(fig.data[0].x)}
    fig.update_layout(xaxis=every, yaxis=every)
    return fig


def pipeline_figure(cap: Capture, focus: Focus) -> go.Figure:
    assert cap.raw_scores is not None and cap.scaled_scores is not None
    assert cap.masked_scores is not None and cap.patterns is not None
    at = (focus.layer, focus.head)
    return score_pipeline(
        cap.raw_scores[at],
        cap.scaled_scores[at],
        cap.masked_scores[at],
        cap.patterns[at],
        cap.tokens,
        title=f"Layer {focus.layer} head {focus.head}: raw → scaled → masked → softmax",
        max_positions=PIPELINE_POSITIONS,
        causal=cap.causal,
    )


def qkv_figure(cap: Capture, focus: Focus) -> go.Figure:
    assert cap.q is not None and cap.k is not None and cap.v is not None and cap.z is not None
    assert cap.patterns is not None and cap.scaled_scores is not None
    layer, head, qp, kp = focus.layer, focus.head, focus.q_pos, focus.k_pos
    score = float(cap.scaled_scores[layer, head, qp, kp])
    return qkv_inspector(
        cap.q[layer, qp, head],
        cap.k[layer, kp, head],
        float(cap.patterns[layer, head, qp, kp]),
        cap.v[layer, :, head],
        cap.z[layer, qp, head],
        tokens=cap.tokens,
        q_pos=qp,
        k_pos=kp,
        weights=cap.patterns[layer, head, qp],
        score=score if np.isfinite(score) else None,
        title=f"Layer {layer} head {head}: query {qp} → key {kp}",
    )


def resid_figure(cap: Capture) -> go.Figure:
    # an LSTM has no residual stream: its rows are hidden states, and the title says so
    what = "Residual-stream norm ‖x‖" if cap.has_attention else "LSTM hidden-state norm ‖h‖"
    return layer_pos_heatmap(
        cap.resid_norms,
        cap.tokens,
        title=f"{what} per layer and position",
        row_labels=cap.stream_labels,
        value_name="‖x‖" if cap.has_attention else "‖h‖",
    )


def ln_figures(cap: Capture) -> tuple[go.Figure, go.Figure] | None:
    if cap.ln_mean is None or cap.ln_std is None:
        return None
    mean = layer_pos_heatmap(
        cap.ln_mean,
        cap.tokens,
        title="LayerNorm input mean",
        row_labels=cap.ln_labels,
        value_name="mean",
        zmid=0.0,
    )
    std = layer_pos_heatmap(
        cap.ln_std,
        cap.tokens,
        title="LayerNorm input standard deviation",
        row_labels=cap.ln_labels,
        value_name="std",
    )
    return mean, std


def entropy_figures(cap: Capture) -> tuple[go.Figure, go.Figure]:
    assert cap.entropy is not None
    ceiling = uniform_entropy(len(cap.tokens), causal=cap.causal)
    return (
        entropy_heatmap(cap.entropy, max_bits=ceiling),
        entropy_bars(cap.entropy, uniform_bits=ceiling),
    )


def loss_html(cap: Capture) -> str:
    # .tolist(): formatting Python floats is several times faster than numpy scalars
    tips = [
        "next: " + ", ".join(f"{t} {p:.2f}" for t, p in zip(row, probs, strict=True))
        for row, probs in zip(cap.top_tokens, cap.top_probs.tolist(), strict=True)
    ]
    return token_loss_html(cap.tokens, cap.losses, tooltips=tips)


def topk_rows(cap: Capture) -> list[dict]:
    return topk_table(cap.tokens, cap.top_tokens, cap.top_probs, cap.losses)


def generation_window(
    steps: Sequence[GenerationStep], tokens: Sequence[str], ids: Sequence[int]
) -> int | None:
    """Where the generated sequence's position 0 lies before the analysed window (the window is
    the sequence's last `len(tokens)` tokens: prompt + generated, cut to the context); None when
    the analysed tokens do not end with the generated ones (the prompt changed since)."""
    if not steps:
        return None
    generated = [s.token for s in steps]
    if len(generated) > len(ids) or list(ids[len(ids) - len(generated) :]) != generated:
        return None
    total = steps[-1].query_pos + 2  # the last query predicted the sequence's last token
    return total - len(tokens)


def generation_figure(step: GenerationStep, tokens: Sequence[str], offset: int = 0) -> go.Figure:
    """The predicting query's attention at one generation step: one row per layer and head.

    tokens: the analysed window's tokens; offset: the generated sequence's positions before it
    (`generation_window`). The step's keys are the `k_pos` positions up to its query (a sliding
    window once the context is full); those before the analysed window are left out, and every
    key is labelled with its position and token in the window, as the other views label them.
    """
    assert step.rows is not None
    n_layers, n_heads, n_keys = step.rows.shape
    query = step.query_pos - offset  # in window coordinates
    first = query + 1 - n_keys
    shown = max(first, 0)
    rows = step.rows[:, :, shown - first :]
    title = f"Attention of the query at position {query} when it sampled the next token"
    if shown > first:
        title += f" (its {shown - first} earliest keys lie before the analysed window)"
    return layer_pos_heatmap(
        rows.reshape(n_layers * n_heads, rows.shape[-1]),
        list(tokens[shown : query + 1]),
        title=title,
        row_labels=[f"L{layer} H{head}" for layer in range(n_layers) for head in range(n_heads)],
        value_name="weight",
        colorscale="Viridis",
        first_position=shown,
    )
