"""The Curriculum page's sentences about live measurements (the user's prompt, fresh models, this
machine's clock): templates filled with what `analysis.curriculum` measured, never typed numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from analysis.curriculum import (
    BypassResult,
    DepthProfile,
    DotSpread,
    SaliencyProfile,
    ScoreSpread,
    StreamCollapse,
)
from curriculum.saturation import UNSCALED, UnscaledOutcome
from views.curriculum_text import ms, num, pct, sig, signed, times, token


def timing_text(
    lengths: Sequence[int],
    seconds: Mapping[str, Sequence[float]],
    slopes: Mapping[str, float],
    chains: Mapping[str, tuple[int, int]],
) -> str:
    """chains: model -> (dependency chain at the shortest length, at the longest)."""
    lo, hi = lengths[0], lengths[-1]
    parts = [f"From {lo} to {hi} tokens (the sequence {times(hi / lo, 0)} longer):"]
    for model, values in seconds.items():
        chain = chains.get(model)
        chain_note = (
            f"; its longest chain of dependent steps goes from {chain[0]} to {chain[1]}"
            if chain
            else ""
        )
        parts.append(
            f"- **{model}**: {ms(values[0])} → {ms(values[-1])} per step "
            f"({times(values[-1] / values[0])}, log-log slope {num(slopes[model], 2)}){chain_note}."
        )
    models = list(seconds)
    if len(models) == 2:
        a, b = models
        ratio = seconds[b][-1] / seconds[a][-1]
        parts.append(
            f"At {hi} tokens one **{b}** step takes {num(ratio, 2)} times as long as a **{a}** step."
        )
    parts.append(
        "A slope of 1 means time grows in proportion to length, 2 with its square. Attention's "
        "work grows with the square of the length but runs for all positions at once; the LSTM's "
        "grows linearly but must run position after position."
    )
    return "\n".join(parts)


def spread_text(
    spread: DotSpread, model_d_head: int | None, unscaled: UnscaledOutcome | None = None
) -> str:
    i_lo, i_hi = 0, len(spread.d_heads) - 1
    d_lo, d_hi = spread.d_heads[i_lo], spread.d_heads[i_hi]
    parts = [
        f"With unit-variance q and k, q·k is a sum of d_head products, so its spread grows like "
        f"√d_head: measured std {num(spread.std_unscaled[i_lo], 2)} at d_head {d_lo} and "
        f"{num(spread.std_unscaled[i_hi], 2)} at d_head {d_hi} (√{d_hi} = {num(math.sqrt(d_hi), 2)}). "
        f"Divided by √d_head it stays at {num(spread.std_scaled[i_lo], 2)} and {num(spread.std_scaled[i_hi], 2)}.",
        f"Unscaled, the largest of {spread.n_keys} softmax weights averages "
        f"{num(spread.max_weight_unscaled[i_hi], 2)} at d_head {d_hi} (entropy "
        f"{num(spread.entropy_unscaled[i_hi], 2)} bits of a possible {num(math.log2(spread.n_keys), 2)}); "
        f"scaled, {num(spread.max_weight_scaled[i_hi], 2)} ({num(spread.entropy_scaled[i_hi], 2)} bits). "
        "A saturated softmax is nearly one-hot: its gradient with respect to every other score is "
        "close to zero, so learning what those keys should score slows down.",
    ]
    if unscaled is not None:
        parts.append(outcome_text(unscaled))
    if model_d_head is not None and model_d_head in spread.d_heads:
        j = spread.d_heads.index(model_d_head)
        parts.append(
            f"This model's d_head is {model_d_head}: unscaled std {num(spread.std_unscaled[j], 2)}, "
            f"max weight {num(spread.max_weight_unscaled[j], 2)} vs {num(spread.max_weight_scaled[j], 2)} scaled."
        )
    return "\n\n".join(parts)


def outcome_text(u: UnscaledOutcome) -> str:
    """What the records say the trained unscaled model made of its saturated softmax."""
    gap = u.loss.mean - u.baseline.mean
    scores = (
        f"The trained **{UNSCALED}** model's largest score reaching the softmax peaks at "
        f"{num(u.peak, 0)} (layer {u.peak_layer}, step {u.peak_step:,}) and ends at "
        f"{num(u.final, 0)}; its validation loss, {u.loss.text(3)} nats, is {num(abs(gap))} "
        f"{'above' if gap > 0 else 'below'} the baseline's {u.baseline.text(3)}"
    )
    if u.beats_bigram:
        return (
            f"{scores} and {num(u.bigram - u.loss.mean, 2)} below the count bigram's "
            f"{num(u.bigram)}: slowed, not stopped, it still learned to use context through "
            "saturated heads (shipped seed's scores, validation loss over seeds)."
        )
    return (
        f"{scores}, and not clearly below the count bigram's {num(u.bigram)}: here saturation "
        "went with a model that did not learn to use more than the previous token (shipped "
        "seed's scores, validation loss over seeds)."
    )


def off_diagonal(matrix: np.ndarray) -> tuple[float, float, tuple[int, int]]:
    """(mean, max, argmax pair) of a square matrix's off-diagonal entries."""
    m = np.asarray(matrix, dtype=np.float64)
    mask = ~np.eye(m.shape[0], dtype=bool)
    values = np.where(mask, m, -np.inf)
    i, j = np.unravel_index(int(np.argmax(values)), m.shape)
    return float(m[mask].mean()), float(m[i, j]), (int(i), int(j))


def similarity_text(weights: np.ndarray | None, patterns: np.ndarray | None) -> str:
    parts = []
    if weights is not None and weights.shape[0] > 1:
        mean, top, (i, j) = off_diagonal(weights)
        parts.append(
            f"Between different blocks of the separate-layer model the weight cosine averages "
            f"{num(mean, 3)} (highest {num(top, 3)}, blocks {i} and {j}): the blocks learned "
            f"{'nearly unrelated' if abs(mean) < 0.2 else 'related'} weights. (Two independent random "
            "matrices of this size score near zero.)"
        )
    if patterns is not None and patterns.shape[0] > 1:
        mean, top, (i, j) = off_diagonal(patterns)
        parts.append(
            f"Their attention patterns on your prompt (averaged over heads): cosine {num(mean, 3)} "
            f"on average, highest {num(top, 3)} (layers {i} and {j}). Patterns are alike in part by "
            "construction: every row is a distribution over the same visible keys, so even two "
            "unrelated causal heads score well above zero."
        )
    return "\n\n".join(parts)


def mlp_similarity_text(trained: np.ndarray, at_init: np.ndarray) -> str:
    """The separate blocks' MLPs compared as functions, against a fresh copy as the reference."""
    if trained.shape[0] < 2:
        return ""
    mean, top, (i, j) = off_diagonal(trained)
    ref, _, _ = off_diagonal(at_init)
    if abs(mean) < 0.2:
        reading = "different functions"
    elif mean < -0.2:
        reading = "partly opposite functions"
    elif mean > 0.8:
        reading = "close to one function repeated"
    else:
        reading = "partly alike functions"
    return (
        f"Given the same input vectors (every block's own MLP input on your prompt), two different "
        f"blocks' MLPs write outputs whose cosine averages {num(mean, 3)} (highest {num(top, 3)}, "
        f"blocks {i} and {j}); a freshly initialised copy scores {num(ref, 3)}. The trained "
        f"blocks compute {reading}. The shared-layer model scores 1 by construction: one MLP does "
        "every depth's work."
    )


def depth_text(profiles: Mapping[str, DepthProfile]) -> str:
    parts = []
    for model, p in profiles.items():
        parts.append(
            f"- **{model}**: reading the prediction off the stream after each block (logit lens) "
            f"gives losses {' → '.join(num(v, 2) for v in p.lens_loss)} nats; each block changes "
            f"the stream by {', '.join(pct(v, 0) for v in p.update_ratio)} of its size; mean "
            f"attention entropy {', '.join(num(v, 2) for v in p.entropy)} bits."
        )
    return "\n".join(parts)


# --------------------------------------------------------------------------- Q4


def bypass_text(r: BypassResult) -> str:
    top_on = r.top_on[0] if r.top_on else ("?", float("nan"))
    top_off = r.top_off[0] if r.top_off else ("?", float("nan"))
    return (
        f"Bypassing the residual stream of the trained baseline moves its loss on your prompt from "
        f"{num(r.loss_on)} to {num(r.loss_off)} nats ({signed(r.loss_off - r.loss_on)}). The most likely "
        f"next token goes from {token(top_on[0])} ({pct(top_on[1])}) to {token(top_off[0])} "
        f"({pct(top_off[1])}). Token cosine after the last block: {num(r.cosine_on[-1], 3)} → "
        f"{num(r.cosine_off[-1], 3)}; mean attention entropy per layer "
        f"{', '.join(num(v, 2) for v in r.entropy_on)} → {', '.join(num(v, 2) for v in r.entropy_off)} bits. "
        "Every block was trained to read a stream that still carries the embedding and all earlier "
        "blocks' writes; bypassed, it receives only the previous block's output, which it has never "
        "seen on its own."
    )


# --------------------------------------------------------------------------- mask, LAMBADA


def collapse_text(curves: Mapping[str, StreamCollapse]) -> str:
    """curves: label ("baseline, trained") -> its stream collapse on the prompt."""
    parts = []
    for label, c in curves.items():
        parts.append(
            f"- **{label}**: token cosine {' → '.join(num(v, 2) for v in c.cosine)}; share of the "
            f"stream that differs between tokens {' → '.join(num(v, 2) for v in c.residual)}."
        )
    return (
        "\n".join(parts) + "\n\nFrom the embedding to the last block. A cosine near 1 and a "
        "differing share near 0 mean every position carries the same vector (rank collapse)."
    )


def grad_init_text(norms: Mapping[str, Mapping[str, float]]) -> str:
    parts = []
    for label, by_group in norms.items():
        blocks = [v for g, v in by_group.items() if g.startswith(("blocks.", "layers."))]
        if len(blocks) < 2:
            continue
        parts.append(
            f"- **{label}**: first block {sig(blocks[0])}, last block {sig(blocks[-1])} "
            f"(ratio first / last {num(blocks[0] / max(blocks[-1], 1e-30), 2)})."
        )
    return "\n".join(parts)


def score_spread_text(spreads: Mapping[str, ScoreSpread]) -> str:
    """name -> its trained scores' spread on the prompt, per layer."""
    return "\n".join(
        f"- **{name}**: std of q·k per layer {', '.join(num(v, 2) for v in s.raw)}; as they reach "
        f"the softmax {', '.join(num(v, 2) for v in s.scaled)}."
        for name, s in spreads.items()
    )


def saliency_text(profiles: Mapping[str, SaliencyProfile]) -> str:
    """Where each trained model's prediction gets its input-gradient from, by distance."""
    return "\n".join(
        f"- **{model}**: {pct(p.recent_share)} of a prediction's input-gradient sits in the "
        f"last {p.recent_k} tokens; saliency-weighted mean distance {num(p.mean_distance, 1)} "
        f"tokens (over {p.n_targets} predicted positions of your prompt)."
        for model, p in profiles.items()
    ) + (
        "\n\nA gradient says how much a small change of each input would move the loss, not "
        "what the model relies on: read it as reach, not as use."
    )


def shapes_table(rows: Sequence[Mapping[str, str]]) -> str:
    """(tensor, shape, axes) rows as a Markdown table: no dataframe, so no pandas import on the
    tab's first visit (about 0.7 s on this machine)."""
    lines = ["| tensor | shape | axes |", "|---|---|---|"]
    lines += [f"| `{r['tensor']}` | {r['shape']} | {r['axes']} |" for r in rows]
    return "\n".join(lines)
