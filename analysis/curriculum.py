"""The Curriculum page's live measurements: on a shipped model and the user's prompt, or on a
freshly initialised copy of a shipped config. Records are read by `curriculum/`, not here.

Nothing here imports Streamlit. Every function returns plain numbers, numpy arrays or small frozen
dataclasses, and is unit-tested on hand-computed values.

Dimension names as in `model/`: batch, pos, q_pos, k_pos, layer, head, d_head, d_model, vocab.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from interp.attention_stats import attention_entropy
from model.build import LanguageModel, build_model
from model.config import ModelConfig
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer
from training.config import TrainConfig


def number(value: Any) -> float | None:
    """A finite float, or None for anything missing, boolean, non-numeric or non-finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- live helpers


def _tensor(ids: Sequence[int]) -> torch.Tensor:
    return torch.tensor([list(ids)], dtype=torch.long)


def mean_loss(model: LanguageModel, ids: Sequence[int], switches: Switches = NO_SWITCHES) -> float:
    """Mean next-token loss (nats) of the model over the token ids."""
    if len(ids) < 2:
        raise ValueError("mean_loss needs at least two tokens")
    with torch.no_grad():
        logits = model(_tensor(ids[:-1]), switches=switches)[0].float()  # [pos, vocab]
    return F.cross_entropy(logits, torch.tensor(list(ids[1:]))).item()


def mean_pairwise_cosine(resid: np.ndarray) -> float:
    """Mean cosine similarity between different positions' vectors of one [pos, d_model] array.

    Near 1: every token carries the same representation (rank collapse)."""
    r = np.asarray(resid, dtype=np.float64)
    n = r.shape[0]
    if n < 2:
        return float("nan")
    unit = r / np.maximum(np.linalg.norm(r, axis=-1, keepdims=True), 1e-12)
    sim = unit @ unit.T  # [pos, pos]
    return float((sim.sum() - np.trace(sim)) / (n * (n - 1)))


# --------------------------------------------------------------------------- Q1: recurrence vs attention


def time_training_steps(
    configs: Mapping[str, ModelConfig],
    lengths: Sequence[int],
    *,
    repeats: int = 3,
    batch: int = 4,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Median seconds of one training step (forward, backward, AdamW update) per sequence length.

    At each length every config is timed side by side (`training.step_timing`: interleaved rounds,
    freshly initialised weights, this process's threads), its context set to that length.
    """
    from training.step_timing import time_steps_side_by_side

    train = TrainConfig(batch_size=batch, lr=1e-4, grad_clip=0.0, precision="float32")
    out: dict[str, list[float]] = {label: [] for label in configs}
    for length in lengths:
        timing = time_steps_side_by_side(
            {label: (cfg.replace(n_ctx=length), train) for label, cfg in configs.items()},
            rounds=repeats,
            steps_per_round=1,
            threads=torch.get_num_threads(),
            seed=seed,
        )
        for label in configs:
            out[label].append(timing.seconds[label])
    return out


def scaling_exponent(lengths: Sequence[float], seconds: Sequence[float]) -> float:
    """Slope of log(time) against log(length) (least squares): 1 = linear, 2 = quadratic."""
    x = np.log(np.asarray(lengths, dtype=np.float64))
    y = np.log(np.asarray(seconds, dtype=np.float64))
    if x.size < 2:
        raise ValueError("scaling_exponent needs at least two lengths")
    return float(np.polyfit(x, y, 1)[0])


def dependency_chain(cfg: ModelConfig, length: int) -> int:
    """Longest chain of computations that must run one after another for one sequence.

    A transformer block processes every position at once: the chain is one step per block. An
    LSTM layer must finish position t before t + 1; stacked layers can overlap (a wavefront),
    so the chain is length + n_layers - 1."""
    if cfg.architecture == "lstm":
        return length + cfg.n_layers - 1
    return cfg.n_layers


@dataclass(frozen=True)
class SaliencyProfile:
    """How strongly each earlier token moves the loss at a position, by distance.

    share[d]: mean over target positions of |d loss_t / d embed_{t-d}| / sum over all sources,
    i.e. the fraction of the target's input-gradient that sits d tokens back."""

    share: np.ndarray  # [distance]
    n_targets: int
    recent_k: int  # `recent_share` covers distances 0 .. recent_k - 1
    recent_share: float
    mean_distance: float  # saliency-weighted mean distance, averaged over targets


def distance_profile(
    saliency: np.ndarray, targets: Sequence[int], recent_k: int = 4
) -> SaliencyProfile:
    """Aggregate per-source saliency [target, pos] (target b predicts after position targets[b])."""
    sal = np.asarray(saliency, dtype=np.float64)
    if sal.ndim != 2 or sal.shape[0] != len(targets):
        raise ValueError(
            f"saliency must be [target, pos] with {len(targets)} rows, got {sal.shape}"
        )
    width = max(targets) + 1
    sums = np.zeros(width)
    counts = np.zeros(width)
    recent, mean_d = [], []
    for row, t in zip(sal, targets, strict=True):
        by_distance = row[: t + 1][::-1]  # index d = t - s
        total = by_distance.sum()
        if total <= 0:
            continue
        shares = by_distance / total
        sums[: t + 1] += shares
        counts[: t + 1] += 1
        recent.append(shares[:recent_k].sum())
        mean_d.append(float((np.arange(t + 1) * shares).sum()))
    if not recent:
        raise ValueError("no target had a non-zero gradient")
    share = np.divide(sums, counts, out=np.zeros(width), where=counts > 0)
    return SaliencyProfile(
        share, len(recent), recent_k, float(np.mean(recent)), float(np.mean(mean_d))
    )


def input_saliency(
    model: LanguageModel, ids: Sequence[int], max_targets: int = 16
) -> SaliencyProfile:
    """Input-gradient saliency of the last `max_targets` next-token losses, by distance.

    One backward pass: the prompt is repeated once per target in a batch, and each copy's loss is
    taken at its own target, so a copy's embedding gradient belongs to that target alone."""
    if len(ids) < 2:
        raise ValueError("saliency needs at least two tokens")
    x, y = list(ids[:-1]), list(ids[1:])
    n = len(x)
    targets = list(range(max(0, n - max_targets), n))
    tokens = torch.tensor([x] * len(targets))  # [batch=target, pos]
    leaves: list[torch.Tensor] = []

    def grab(embed: torch.Tensor, hook: Any) -> torch.Tensor:
        leaf = embed.detach().requires_grad_(True)
        leaves.append(leaf)
        return leaf

    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model.run_with_hooks(
                tokens, fwd_hooks=[("hook_embed", grab)]
            )  # [target, pos, vocab]
            rows = torch.arange(len(targets))
            picked = logits[rows, torch.tensor(targets)].float()  # [target, vocab]
            loss = F.cross_entropy(picked, torch.tensor([y[t] for t in targets]), reduction="sum")
            (grad,) = torch.autograd.grad(loss, leaves[0])  # [target, pos, d_model]
    finally:
        model.train(was_training)
    saliency = grad.norm(dim=-1).numpy()  # [target, pos]
    return distance_profile(saliency, targets)


# --------------------------------------------------------------------------- Q2: Q, K, V and scores

# what each captured tensor's axes are, from the hook points' declarations in model/attention.py
_HOOK_DIMS = {
    "hook_q": "batch pos head d_head",
    "hook_k": "batch pos head d_head",
    "hook_v": "batch pos head d_head",
    "hook_raw_scores": "batch head q_pos k_pos",
    "hook_scaled_scores": "batch head q_pos k_pos",
    "hook_attn_scores": "batch head q_pos k_pos",
    "hook_pattern": "batch head q_pos k_pos",
    "hook_z": "batch pos head d_head",
}
_WEIGHT_DIMS = {
    "W_Q": "head d_model d_head",
    "W_K": "head d_model d_head",
    "W_V": "head d_model d_head",
    "W_O": "head d_head d_model",
}


@torch.no_grad()
def attention_shapes(
    model: Transformer, ids: Sequence[int], layer: int = 0
) -> list[dict[str, str]]:
    """Rows (tensor, shape, axes) for one layer's weights and every tensor of its attention."""
    attn = model.blocks[layer].attn
    rows = [
        {"tensor": name, "shape": str(tuple(getattr(attn, name).shape)), "axes": dims}
        for name, dims in _WEIGHT_DIMS.items()
    ]
    prefix = f"blocks.{layer}.attn."
    _, cache = model.run_with_cache(_tensor(ids), names=[prefix + h for h in _HOOK_DIMS])
    rows += [
        {
            "tensor": h.removeprefix("hook_"),
            "shape": str(tuple(cache[prefix + h].shape)),
            "axes": dims,
        }
        for h, dims in _HOOK_DIMS.items()
    ]
    return rows


@dataclass(frozen=True)
class DotSpread:
    """q.k of random unit-variance vectors, by d_head, with and without the 1/sqrt(d_head) scale."""

    d_heads: tuple[int, ...]
    n_keys: int
    std_unscaled: tuple[float, ...]  # std of q.k
    std_scaled: tuple[float, ...]  # std of q.k / sqrt(d_head)
    max_weight_unscaled: tuple[float, ...]  # mean largest softmax weight over n_keys keys
    max_weight_scaled: tuple[float, ...]
    entropy_unscaled: tuple[float, ...]  # mean softmax entropy, bits (uniform: log2 n_keys)
    entropy_scaled: tuple[float, ...]


def dot_product_spread(
    d_heads: Sequence[int], n_keys: int = 64, n_queries: int = 256, seed: int = 0
) -> DotSpread:
    """Measure, don't assume: draw q and k with N(0, 1) entries, one query against n_keys keys."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list[float]] = {k: [] for k in ("su", "ss", "mu", "ms", "eu", "es")}

    def softmax_stats(scores: np.ndarray) -> tuple[float, float]:
        z = scores - scores.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        ent = attention_entropy(p[:, None, :])  # each query row as a one-query pattern
        return float(p.max(axis=-1).mean()), float(ent.mean())

    for d in d_heads:
        q = rng.standard_normal((n_queries, d))
        k = rng.standard_normal((n_queries, n_keys, d))  # fresh keys per query: independent samples
        raw = np.einsum("qd,qkd->qk", q, k)  # [query, key]
        scaled = raw / math.sqrt(d)
        cols["su"].append(float(raw.std()))
        cols["ss"].append(float(scaled.std()))
        for key, scores in (("u", raw), ("s", scaled)):
            top, ent = softmax_stats(scores)
            cols["m" + key].append(top)
            cols["e" + key].append(ent)
    t = {k: tuple(v) for k, v in cols.items()}
    return DotSpread(tuple(d_heads), n_keys, t["su"], t["ss"], t["mu"], t["ms"], t["eu"], t["es"])


@dataclass(frozen=True)
class ScoreSpread:
    """Std of a trained model's attention scores on one prompt, per layer, over every head and
    every (query, visible key) pair: as computed (raw) and as they reach the softmax (scaled)."""

    raw: tuple[float, ...]
    scaled: tuple[float, ...]


@torch.no_grad()
def score_spread(model: Transformer, ids: Sequence[int]) -> ScoreSpread:
    n = model.cfg.n_layers
    names = [f"blocks.{i}.attn.hook_{h}" for i in range(n) for h in ("raw_scores", "scaled_scores")]
    model.eval()
    _, cache = model.run_with_cache(_tensor(ids), names=names)
    visible = torch.tril(torch.ones(len(ids), len(ids), dtype=torch.bool))  # [q_pos, k_pos]
    if not model.cfg.causal_mask:
        visible = torch.ones_like(visible)

    def std(name: str) -> float:
        return cache[name][0][:, visible].float().std().item()  # [head, pairs]

    return ScoreSpread(
        tuple(std(f"blocks.{i}.attn.hook_raw_scores") for i in range(n)),
        tuple(std(f"blocks.{i}.attn.hook_scaled_scores") for i in range(n)),
    )


# --------------------------------------------------------------------------- Q3: shared vs separate


def _cosine_matrix(rows: np.ndarray) -> np.ndarray:
    unit = rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)
    return unit @ unit.T


def block_weight_similarity(model: Transformer) -> np.ndarray:
    """[layer, layer] cosine similarity of each block's weights, flattened in one vector.

    Only matrices (W_Q .. W_out), not LayerNorm gains, which start equal in every block."""
    flat = [
        torch.cat([p.detach().float().flatten() for p in block.parameters() if p.dim() >= 2])
        for block in model.blocks
    ]
    return _cosine_matrix(torch.stack(flat).numpy().astype(np.float64))


def pattern_similarity(patterns: np.ndarray) -> np.ndarray:
    """[layer, layer] cosine similarity of each layer's head-averaged pattern [q_pos, k_pos]."""
    p = np.asarray(patterns, dtype=np.float64)
    if p.ndim != 4:
        raise ValueError(f"patterns must be [layer, head, q_pos, k_pos], got {p.shape}")
    return _cosine_matrix(p.mean(axis=1).reshape(p.shape[0], -1))


@torch.no_grad()
def mlp_output_similarity(model: Transformer, ids: Sequence[int]) -> np.ndarray:
    """[layer, layer]: how alike two blocks' MLPs are as functions, on the same inputs.

    Every block's MLP sub-layer (its own LayerNorm when pre-LN, then the MLP) is applied to the
    same vectors: each block's own MLP input stream (hook_resid_mid) on the prompt, so every MLP
    sees inputs the model actually produces. Entry [i, j] is the cosine of block i's and block j's
    outputs, averaged over positions and over the input streams. Shared blocks score 1 by
    construction; two unrelated MLPs score near 0."""
    n = model.cfg.n_layers
    names = [f"blocks.{i}.hook_resid_mid" for i in range(n)]
    _, cache = model.run_with_cache(_tensor(ids), names=names)
    outs = []  # [input stream][block] -> [pos, d_model]
    for name in names:
        mid = cache[name]  # [1, pos, d_model]
        row = []
        for block in model.blocks:
            x = block.ln2(mid) if (block.cfg.norm == "pre" and block.ln2 is not None) else mid
            row.append(block.mlp(x)[0].float())
        outs.append(torch.stack(row))  # [layer, pos, d_model]
    unit = F.normalize(torch.stack(outs), dim=-1)  # [input, layer, pos, d_model]
    cos = torch.einsum("aild,ajld->aijl", unit, unit)  # [input, layer, layer, pos]
    return cos.mean(dim=(0, 3)).double().numpy()


@torch.no_grad()
def capture_patterns(
    model: Transformer, ids: Sequence[int], switches: Switches = NO_SWITCHES
) -> np.ndarray:
    """[layer, head, q_pos, k_pos] attention patterns of one prompt."""
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(_tensor(ids), names=names, switches=switches)
    return np.stack([cache[n][0].float().numpy() for n in names])


@torch.no_grad()
def head_pattern(model: Transformer, ids: Sequence[int], layer: int, head: int) -> np.ndarray:
    """[q_pos, k_pos]: one head's attention pattern on one sequence."""
    name = f"blocks.{layer}.attn.hook_pattern"
    model.eval()
    _, cache = model.run_with_cache(_tensor(ids), names=[name])
    return cache[name][0, head].float().numpy()


@dataclass(frozen=True)
class DepthProfile:
    """What each depth does on one prompt (index = block)."""

    lens_loss: tuple[
        float, ...
    ]  # next-token loss read off the stream after each block (logit lens)
    update_ratio: tuple[float, ...]  # |stream after - stream before| / |stream before|
    entropy: tuple[float, ...]  # mean attention entropy over heads and queries, bits


def depth_profile(model: Transformer, ids: Sequence[int]) -> DepthProfile:
    n = model.cfg.n_layers
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(n)]
    names += [f"blocks.{i}.attn.hook_pattern" for i in range(n)]
    x, target = _tensor(ids[:-1]), torch.tensor(list(ids[1:]))
    with torch.no_grad():
        _, cache = model.run_with_cache(x, names=names)
        streams = [cache[names[0]]] + [cache[f"blocks.{i}.hook_resid_post"] for i in range(n)]
        lens, ratio, ent = [], [], []
        for i in range(n):
            after = streams[i + 1]
            read = model.ln_final(after) if model.ln_final is not None else after
            lens.append(F.cross_entropy(model.unembed(read)[0].float(), target).item())
            step = (after - streams[i]).norm(dim=-1)
            ratio.append((step / streams[i].norm(dim=-1).clamp_min(1e-12)).mean().item())
            pattern = cache[f"blocks.{i}.attn.hook_pattern"][0].float().numpy()
            ent.append(float(attention_entropy(pattern).mean()))
    return DepthProfile(tuple(lens), tuple(ratio), tuple(ent))


# --------------------------------------------------------------------------- Q4: residual stream


def grad_norm_series(
    curve: Sequence[Mapping[str, Any]],
) -> tuple[list[int], dict[str, list[float]]]:
    """(steps, group -> gradient norm at each step) from a curve's grad_norm_by_layer entries.

    Groups are the per-block (or per-LSTM-layer) entries plus the embedding; "total" and the
    final LayerNorm / unembedding are left out so the chart reads as depth."""
    steps: list[int] = []
    series: dict[str, list[float]] = {}
    points = [p for p in curve if isinstance(p.get("grad_norm_by_layer"), Mapping)]
    groups = sorted(
        {
            g
            for p in points
            for g in p["grad_norm_by_layer"]
            if g == "embed" or g.startswith(("blocks.", "layers."))
        },
        key=lambda g: (g != "embed", int(g.split(".")[1]) if "." in g else -1),
    )
    for p in points:
        step = number(p.get("step"))
        if step is None:
            continue
        steps.append(int(step))
        for g in groups:
            value = number(p["grad_norm_by_layer"].get(g))
            series.setdefault(g, []).append(float("nan") if value is None else value)
    return steps, series


def depth_ratio(means: Mapping[str, float]) -> float | None:
    """Gradient norm of the first block over that of the last: near 1, the gradient reaches the
    first block undiminished; << 1, it fades on its way down (vanishing gradients)."""
    blocks = sorted(
        (int(g.split(".")[1]), v) for g, v in means.items() if g.startswith(("blocks.", "layers."))
    )
    if len(blocks) < 2 or blocks[-1][1] <= 0:
        return None
    return blocks[0][1] / blocks[-1][1]


@dataclass(frozen=True)
class BypassResult:
    """The trained model on one prompt with its residual stream on (as trained) and bypassed."""

    loss_on: float
    loss_off: float
    top_on: list[tuple[str, float]]  # next-token predictions after the prompt, (token, probability)
    top_off: list[tuple[str, float]]
    entropy_on: tuple[float, ...]  # mean attention entropy per layer, bits
    entropy_off: tuple[float, ...]
    cosine_on: tuple[float, ...]  # mean pairwise token cosine: embedding, then after each block
    cosine_off: tuple[float, ...]


def _stream_run(model: Transformer, ids: Sequence[int], switches: Switches, tokenizer: Any, k: int):
    n = model.cfg.n_layers
    resid = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(n)]
    pats = [f"blocks.{i}.attn.hook_pattern" for i in range(n)]
    with torch.no_grad():
        logits, cache = model.run_with_cache(_tensor(ids), names=resid + pats, switches=switches)
    logits = logits[0].float()  # [pos, vocab]
    loss = (
        F.cross_entropy(logits[:-1], torch.tensor(list(ids[1:]))).item()
        if len(ids) > 1
        else float("nan")
    )
    probs = logits[-1].softmax(-1)
    top = torch.topk(probs, min(k, probs.numel()))
    names = tokenizer.token_strings(top.indices.tolist())
    preds = [(s, float(p)) for s, p in zip(names, top.values.tolist(), strict=True)]
    entropy = tuple(float(attention_entropy(cache[p][0].float().numpy()).mean()) for p in pats)
    cosine = tuple(mean_pairwise_cosine(cache[r][0].float().numpy()) for r in resid)
    return loss, preds, entropy, cosine


def bypass_residual(
    model: Transformer, tokenizer: Any, ids: Sequence[int], k: int = 5
) -> BypassResult:
    on = _stream_run(model, ids, NO_SWITCHES, tokenizer, k)
    off = _stream_run(model, ids, Switches(residual=False), tokenizer, k)
    return BypassResult(on[0], off[0], on[1], off[1], on[2], off[2], on[3], off[3])


# --------------------------------------------------------------------------- Q4: at initialisation


@dataclass(frozen=True)
class StreamCollapse:
    """Rank collapse along depth on one prompt: index 0 is the embedding, then after each block."""

    cosine: tuple[float, ...]  # mean pairwise cosine between positions (1: all tokens alike)
    residual: tuple[float, ...]  # ||X - 1 x_bar^T|| / ||X||: the part that differs between tokens


def spread_from_mean(resid: np.ndarray) -> float:
    """||X - 1 x_bar^T||_F / ||X||_F of one [pos, d_model] array; 0 when every row is the same."""
    r = np.asarray(resid, dtype=np.float64)
    return float(np.linalg.norm(r - r.mean(0, keepdims=True)) / max(np.linalg.norm(r), 1e-12))


@torch.no_grad()
def stream_collapse(
    model: Transformer, ids: Sequence[int], switches: Switches = NO_SWITCHES
) -> StreamCollapse:
    n = model.cfg.n_layers
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(n)]
    model.eval()
    _, cache = model.run_with_cache(_tensor(ids), names=names, switches=switches)
    streams = [cache[name][0].float().numpy() for name in names]  # each [pos, d_model]
    return StreamCollapse(
        tuple(mean_pairwise_cosine(x) for x in streams), tuple(spread_from_mean(x) for x in streams)
    )


def initialised(cfg: ModelConfig, seed: int = 0) -> LanguageModel:
    """A fresh model of a shipped config, as training started it (the config's own init)."""
    torch.manual_seed(seed)
    return build_model(cfg.replace(dropout=0.0))


def grad_norm_at_init(
    cfg: ModelConfig, ids: Sequence[int] | Sequence[Sequence[int]], seed: int = 0
) -> dict[str, float]:
    """Gradient norm of each block's parameters (and the embedding's) after one backward pass of
    the loss through a freshly initialised model: how much signal reaches each depth before any
    training has shaped the weights. ids: one prompt's token ids, or rows of equal length (a
    record's fixed batch); with the seed a run trained with, these are that run's initial weights."""
    rows = [list(ids)] if ids and isinstance(ids[0], int | np.integer) else [list(r) for r in ids]
    if not rows or len(rows[0]) < 2 or len({len(r) for r in rows}) != 1:
        raise ValueError("grad_norm_at_init needs rows of at least two tokens, all one length")
    x = torch.tensor(rows, dtype=torch.long)  # [batch, pos]
    model = initialised(cfg, seed)
    model.train()
    with torch.enable_grad():
        logits = model(x[:, :-1]).float()  # [batch, pos, vocab]
        F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten()).backward()
    sums: dict[str, float] = {}
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        parts = name.split(".")
        if parts[0] in ("blocks", "layers"):
            group = ".".join(parts[:2])
        elif parts[0].startswith("embed"):
            group = "embed"
        else:
            continue
        sums[group] = sums.get(group, 0.0) + p.grad.float().pow(2).sum().item()
    return {g: math.sqrt(v) for g, v in sums.items()}
