"""The curriculum page's explanations: templates filled with computed numbers, never typed ones.

Each function takes what `analysis.curriculum` computed and returns Markdown. When a number it
needs is missing it leaves that sentence out rather than guessing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from analysis.curriculum import (
    BypassResult,
    DepthProfile,
    DotSpread,
    FutureAttention,
    OrderCheck,
    ReversalSummary,
    SaliencyProfile,
)

# --------------------------------------------------------------------------- format helpers


def num(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}"


def signed(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.{digits}f}"


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.{digits}f}%"


def times(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"×{x:.{digits}f}"


def sig(x: float | None, digits: int = 3) -> str:
    """Significant digits, for numbers that may be tiny (a vanished gradient: 2.1e-05)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def names(items: Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in items]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def missing(items: Sequence[str]) -> str:
    """'`no_residual` has not been trained yet' (or its plural), for an st.info."""
    one = len(items) == 1
    return (
        f"{names(items)} {'has' if one else 'have'} not been trained yet (or {'is' if one else 'are'} "
        f"still training): this part fills in once {'its record.json appears' if one else 'their record.json files appear'}."
    )


def _token(s: str) -> str:
    return "`" + s.replace("`", "'") + "`"


# --------------------------------------------------------------------------- Q1


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


def saliency_text(profiles: Mapping[str, SaliencyProfile]) -> str:
    parts = []
    for model, p in profiles.items():
        parts.append(
            f"- **{model}**: {pct(p.recent_share)} of a prediction's input-gradient sits in the "
            f"last {p.recent_k} tokens; saliency-weighted mean distance {num(p.mean_distance, 1)} "
            f"tokens (over {p.n_targets} predicted positions)."
        )
    return "\n".join(parts)


def no_pos_text(final_losses: Mapping[str, float], checks: Mapping[str, OrderCheck]) -> str:
    parts = []
    base = final_losses.get("baseline")
    recorded = [f"`{n}` {num(v)}" for n, v in final_losses.items()]
    if recorded:
        parts.append("Final validation loss (nats per token): " + ", ".join(recorded) + ".")
    if base is not None and "no_pos" in final_losses:
        parts.append(
            f"Without any positional encoding the model ends {signed(final_losses['no_pos'] - base)} "
            "nats from the baseline."
        )
    for model, c in checks.items():
        parts.append(
            f"On your prompt, shuffling the tokens takes **{model}**'s loss from {num(c.ordered)} to "
            f"{num(c.shuffled)} nats ({signed(c.gap)}, mean of {c.n_shuffles} shuffles)."
        )
    if "baseline" in checks and "no_pos" in checks:
        b, n = checks["baseline"].gap, checks["no_pos"].gap
        more = "less" if n < b else "more"
        parts.append(
            f"The no-position model is {more} sensitive to word order than the baseline "
            f"({signed(n)} vs {signed(b)} nats): without positions, order reaches it only through "
            "the causal mask (a position can count how many tokens it sees)."
        )
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- Q2


def shapes_text(n_pos: int, d_model: int, n_heads: int, d_head: int) -> str:
    return (
        f"Your prompt has {n_pos} tokens. Each of the {n_heads} heads projects the {d_model}-wide "
        f"stream to queries, keys and values of width d_head = {d_head}: {n_pos} × {d_head} each. "
        f"Scores and pattern are {n_pos} × {n_pos} per head ({n_heads * n_pos * n_pos:,} numbers per "
        f"layer): the one part whose size grows with the square of the prompt. "
        f"{n_heads} × {d_head} = {n_heads * d_head} is the width the heads' outputs are concatenated to "
        f"before W_O maps them back to {d_model}."
    )


def spread_text(spread: DotSpread, model_d_head: int | None) -> str:
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
        "close to zero, so those keys cannot be learned.",
    ]
    if model_d_head is not None and model_d_head in spread.d_heads:
        j = spread.d_heads.index(model_d_head)
        parts.append(
            f"This model's d_head is {model_d_head}: unscaled std {num(spread.std_unscaled[j], 2)}, "
            f"max weight {num(spread.max_weight_unscaled[j], 2)} vs {num(spread.max_weight_scaled[j], 2)} scaled."
        )
    return "\n\n".join(parts)


def score_variants_text(
    final_losses: Mapping[str, float], entropies: Mapping[str, float], diverged: Mapping[str, int]
) -> str:
    parts = []
    if final_losses:
        ranked = sorted(final_losses.items(), key=lambda kv: kv[1])
        parts.append(
            "Final validation loss, best first: "
            + ", ".join(f"`{n}` {num(v)}" for n, v in ranked)
            + "."
        )
        if len(ranked) > 1:
            parts.append(
                f"The spread between best and worst is {num(ranked[-1][1] - ranked[0][1])} nats."
            )
    if entropies:
        parts.append(
            "Mean attention entropy on the fixed validation sample (bits; lower = sharper heads): "
            + ", ".join(f"`{n}` {num(v, 2)}" for n, v in entropies.items())
            + "."
        )
    for n, step in diverged.items():
        parts.append(f"`{n}` diverged at step {step}.")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- Q3


def shared_params_text(points: Mapping[str, tuple[float, float]]) -> str:
    if "baseline" not in points or "shared_layers" not in points:
        return ""
    (pb, lb), (ps, ls) = points["baseline"], points["shared_layers"]
    return (
        f"Sharing one block across all depths cuts the parameters from {int(pb):,} to {int(ps):,} "
        f"({pct(1 - ps / pb)} fewer) and moves the final validation loss from {num(lb)} to "
        f"{num(ls)} nats ({signed(ls - lb)})."
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


def residual_curves_text(final_losses: Mapping[str, float], diverged: Mapping[str, int]) -> str:
    parts = []
    if "baseline" in final_losses and "no_residual" in final_losses:
        b, n = final_losses["baseline"], final_losses["no_residual"]
        parts.append(
            f"Final validation loss: baseline {num(b)}, no_residual {num(n)} ({signed(n - b)} nats)."
        )
    for name, step in diverged.items():
        parts.append(f"`{name}` diverged at step {step}: that is the experiment's answer.")
    return " ".join(parts)


def grad_text(ratios: Mapping[str, float | None]) -> str:
    parts = []
    for model, r in ratios.items():
        if r is not None:
            parts.append(f"`{model}` {sig(r)}")
    if not parts:
        return ""
    return (
        "Gradient norm of the first block over that of the last (median over training): "
        + ", ".join(parts)
        + ". Near 1 the gradient reaches the early blocks undiminished; far below 1 it fades on "
        "the way down, as it does through a deep stack of layers without a skip path. (The "
        "embedding's gradient stays large either way: with tied weights it is also the unembedding.)"
    )


def probe_text(norms: Mapping[str, Sequence[float]], cosines: Mapping[str, Sequence[float]]) -> str:
    parts = []
    if norms:
        parts.append(
            "Residual-stream norm after the last block: "
            + ", ".join(
                f"`{n}` {num(v[-1], 2)} (embedding {num(v[0], 2)})" for n, v in norms.items()
            )
            + "."
        )
    if cosines:
        parts.append(
            "Mean pairwise cosine of token representations, embedding → last block: "
            + ", ".join(f"`{n}` {num(v[0], 3)} → {num(v[-1], 3)}" for n, v in cosines.items())
            + ". Near 1 every position carries almost the same vector (rank collapse): attention "
            "averages its inputs, and without the skip path nothing keeps the tokens apart."
        )
    return "\n\n".join(parts)


def bypass_text(r: BypassResult) -> str:
    top_on = r.top_on[0] if r.top_on else ("?", float("nan"))
    top_off = r.top_off[0] if r.top_off else ("?", float("nan"))
    return (
        f"Bypassing the residual stream of the trained baseline moves its loss on your prompt from "
        f"{num(r.loss_on)} to {num(r.loss_off)} nats ({signed(r.loss_off - r.loss_on)}). The most likely "
        f"next token goes from {_token(top_on[0])} ({pct(top_on[1])}) to {_token(top_off[0])} "
        f"({pct(top_off[1])}). Token cosine after the last block: {num(r.cosine_on[-1], 3)} → "
        f"{num(r.cosine_off[-1], 3)}; mean attention entropy per layer "
        f"{', '.join(num(v, 2) for v in r.entropy_on)} → {', '.join(num(v, 2) for v in r.entropy_off)} bits. "
        "Every block was trained to read a stream that still carries the embedding and all earlier "
        "blocks' writes; bypassed, it receives only the previous block's output, which it has never "
        "seen on its own."
    )


# --------------------------------------------------------------------------- mask, LAMBADA


def reversal_text(summaries: Mapping[str, ReversalSummary], future: FutureAttention | None) -> str:
    parts = []
    for model, r in summaries.items():
        parts.append(
            f"- **{model}**: random first half {pct(r.first_half)} (chance {pct(r.chance)}), "
            f"reversed second half {pct(r.second_half)}."
        )
    if future is not None:
        parts.append(
            f"\nThe unmasked model's attention on future positions: {pct(future.mean)} on average "
            f"over heads, up to {pct(future.peak)} (layer {future.peak_layer}, head "
            f"{future.peak_head}). The first half is random: a model beating chance there is "
            "reading the answer, not predicting it — which is why a language model needs the mask."
        )
    return "\n".join(parts)


def unmasked_lm_text(final_losses: Mapping[str, float], future: FutureAttention | None) -> str:
    parts = []
    if "baseline" in final_losses and "no_causal_mask" in final_losses:
        b, u = final_losses["baseline"], final_losses["no_causal_mask"]
        parts.append(
            f"Trained and evaluated without the mask, the language model reaches a validation loss "
            f"of {num(u)} nats against the baseline's {num(b)} ({signed(u - b)}). That number is "
            "not a prediction: every position can see the token it is asked for."
        )
    if future is not None:
        parts.append(
            f"On the fixed validation sample {pct(future.mean)} of its attention lands on future "
            f"positions (up to {pct(future.peak)} in layer {future.peak_layer}, head "
            f"{future.peak_head})."
        )
    return " ".join(parts)


def lambada_text(results: Mapping[str, Mapping[str, float]]) -> str:
    accs = {n: r["accuracy"] for n, r in results.items() if "accuracy" in r}
    losses = {n: r["loss"] for n, r in results.items() if "loss" in r}
    parts = []
    if accs:
        best, worst = max(accs.values()), min(accs.values())
        if best == worst:
            parts.append(
                f"Every variant recorded ({len(accs)}) scores {pct(best)} last-word accuracy."
            )
        else:
            leader = max(accs, key=accs.__getitem__)
            baseline = (
                f"; baseline {pct(accs['baseline'])}"
                if "baseline" in accs and leader != "baseline"
                else ""
            )
            parts.append(
                f"Best last-word accuracy: `{leader}` {pct(best)}{baseline} ({len(accs)} variants)."
            )
    if losses:
        leader = min(losses, key=losses.__getitem__)
        parts.append(f"Lowest last-word loss: `{leader}` {num(losses[leader])} nats.")
    parts.append(
        "LAMBADA's passages are chosen so the last word needs the whole passage; a small model "
        "trained on Shakespeare alone is expected to score near zero here, so read the loss curve "
        "for the trend."
    )
    return " ".join(parts)
