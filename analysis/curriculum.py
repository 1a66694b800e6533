"""The curriculum page's numbers: read from the shipped records or measured live on a model.

Nothing here imports Streamlit. Every function returns plain numbers, numpy arrays or small
dataclasses, returns None (or an empty container) where the data it needs is missing, and is
unit-tested on hand-computed values. The explanations (`views.curriculum_text`) quote only what
these functions return.

Dimension names as in `model/`: batch, pos, q_pos, k_pos, layer, head, d_head, d_model, vocab.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from analysis.catalog import checkpoint_root, read_record_json, record_curve
from analysis.metrics import attention_entropy
from model.build import LanguageModel, build_model
from model.config import ModelConfig
from model.generate import GenerationSettings, generate
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

# The suite's variants (configs/suite.toml), in the order the page lists them.
VARIANTS = (
    "baseline",
    "no_residual",
    "no_causal_mask",
    "shared_layers",
    "post_ln",
    "no_layernorm",
    "learned_pos",
    "no_pos",
    "dot_unscaled",
    "additive",
    "cosine",
    "lstm",
    "char_baseline",
    "reversal_masked",
    "reversal_unmasked",
)
SCORE_VARIANTS = ("baseline", "dot_unscaled", "additive", "cosine")  # question 2
REVERSAL_VARIANTS = ("reversal_masked", "reversal_unmasked")
LM_VARIANTS = tuple(v for v in VARIANTS if v not in REVERSAL_VARIANTS)


# --------------------------------------------------------------------------- records


def number(value: Any) -> float | None:
    """A finite float, or None for anything missing, boolean, non-numeric or non-finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class Shipped:
    """What the checkpoint root holds now: records and loadable checkpoint folders by name."""

    root: Path
    records: dict[str, dict[str, Any]]
    checkpoints: dict[str, Path]

    def record(self, name: str) -> dict[str, Any]:
        return self.records.get(name, {})

    def missing(self, names: Sequence[str]) -> list[str]:
        """Names without a record (not trained yet, or still training)."""
        return [n for n in names if n not in self.records]

    def missing_checkpoints(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if n not in self.checkpoints]


def scan(root: Path | None = None) -> Shipped:
    """Every sub-folder of the checkpoint root with a readable record.json or a config.json."""
    root = checkpoint_root() if root is None else root
    records: dict[str, dict[str, Any]] = {}
    checkpoints: dict[str, Path] = {}
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            record = read_record_json(folder)
            if record is not None:
                records[folder.name] = record
            if (folder / "config.json").is_file():
                checkpoints[folder.name] = folder
    return Shipped(root, records, checkpoints)


def final_metric(record: Mapping[str, Any], key: str) -> float | None:
    """record["final"][key], else the last curve point that has it; None if neither exists."""
    final = record.get("final")
    if isinstance(final, Mapping) and number(final.get(key)) is not None:
        return number(final[key])
    for point in reversed(record_curve(dict(record))):
        if number(point.get(key)) is not None:
            return number(point[key])
    return None


def curves(shipped: Shipped, names: Sequence[str], metric: str) -> dict[str, list[dict]]:
    """name -> curve, for the named variants whose curve has `metric` at least once."""
    out = {}
    for name in names:
        curve = record_curve(shipped.record(name))
        if any(number(p.get(metric)) is not None for p in curve):
            out[name] = curve
    return out


def divergence(record: Mapping[str, Any]) -> int | None:
    """The step at which training diverged, or None if it did not (or the record does not say)."""
    for point in record_curve(dict(record)):
        if point.get("event") == "diverged":
            return int(point.get("step", -1))
    if record.get("status") == "diverged":
        return int(record.get("steps", -1))
    return None


def finals(shipped: Shipped, names: Sequence[str], key: str) -> dict[str, float]:
    """name -> final metric, for the variants that recorded it."""
    values = {n: final_metric(shipped.record(n), key) for n in names}
    return {n: v for n, v in values.items() if v is not None}


def probe_list(record: Mapping[str, Any], key: str) -> list[float] | None:
    """record["probe"][key] as a flat list of floats (per layer), or None."""
    probe = record.get("probe")
    values = probe.get(key) if isinstance(probe, Mapping) else None
    if not isinstance(values, list) or not values:
        return None
    floats = [number(v) for v in values]
    return None if any(v is None for v in floats) else floats  # type: ignore[return-value]


def probe_matrix(record: Mapping[str, Any], key: str) -> np.ndarray | None:
    """record["probe"][key] as a 2-D array ([layer, head]), or None."""
    probe = record.get("probe")
    values = probe.get(key) if isinstance(probe, Mapping) else None
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.ndim == 2 and arr.size and np.isfinite(arr).all() else None


def mean_probe_entropy(record: Mapping[str, Any]) -> float | None:
    """Mean attention entropy (bits) over every layer and head of the recorded probe."""
    arr = probe_matrix(record, "attention_entropy")
    return None if arr is None else float(arr.mean())


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

    Freshly initialised models of each config (timing does not depend on trained weights); a
    transformer's context is widened to the longest length so every length fits.
    """
    longest = max(lengths)
    out: dict[str, list[float]] = {}
    for label, cfg in configs.items():
        cfg = cfg.replace(n_ctx=max(cfg.n_ctx, longest), dropout=0.0)
        torch.manual_seed(seed)
        model = build_model(cfg)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        gen = torch.Generator().manual_seed(seed)
        medians = []
        with torch.enable_grad():
            for length in lengths:
                x = torch.randint(cfg.vocab_size, (batch, length + 1), generator=gen)
                times = []
                for i in range(repeats + 1):  # the first run warms caches and is not counted
                    t0 = time.perf_counter()
                    logits = model(x[:, :-1])
                    loss = F.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)
                    )
                    loss.backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    if i:
                        times.append(time.perf_counter() - t0)
                medians.append(statistics.median(times))
        out[label] = medians
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


@dataclass(frozen=True)
class OrderCheck:
    """Loss on the prompt as written and with its tokens shuffled (same tokens, order destroyed)."""

    ordered: float
    shuffled: float  # mean over the shuffles
    n_shuffles: int

    @property
    def gap(self) -> float:
        return self.shuffled - self.ordered


def order_check(
    model: LanguageModel, ids: Sequence[int], n_shuffles: int = 4, seed: int = 0
) -> OrderCheck:
    """One forward pass over a batch: the prompt as written, then `n_shuffles` permutations."""
    if len(ids) < 2:
        raise ValueError("order_check needs at least two tokens")
    rng = np.random.default_rng(seed)
    rows = [list(ids)] + [rng.permutation(list(ids)).tolist() for _ in range(n_shuffles)]
    seqs = torch.tensor(rows)  # [batch, pos + 1]
    with torch.no_grad():
        logits = model(seqs[:, :-1]).float()  # [batch, pos, vocab]
    losses = F.cross_entropy(logits.transpose(1, 2), seqs[:, 1:], reduction="none").mean(1)
    return OrderCheck(losses[0].item(), losses[1:].mean().item(), n_shuffles)


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
def capture_patterns(
    model: Transformer, ids: Sequence[int], switches: Switches = NO_SWITCHES
) -> np.ndarray:
    """[layer, head, q_pos, k_pos] attention patterns of one prompt."""
    names = [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(_tensor(ids), names=names, switches=switches)
    return np.stack([cache[n][0].float().numpy() for n in names])


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


def median_over_steps(series: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """group -> median of its finite values over training (one clipped spike does not dominate)."""
    out = {}
    for g, values in series.items():
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            out[g] = float(np.median(finite))
    return out


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


# --------------------------------------------------------------------------- the mask check


@dataclass(frozen=True)
class ReversalSummary:
    """Accuracy per target position of the reversal task; targets 0 .. length-2 are the random
    first half, length-1 is the separator, length .. 2*length-1 the reversed copy."""

    accuracy: tuple[float, ...]
    length: int
    chance: float
    first_half: float
    second_half: float


def reversal_summary(record: Mapping[str, Any]) -> ReversalSummary | None:
    rev = record.get("reversal")
    if not isinstance(rev, Mapping):
        return None
    acc = rev.get("accuracy_per_position")
    length = number(rev.get("length"))
    if (
        not isinstance(acc, list)
        or length is None
        or len(acc) != 2 * int(length)
        or int(length) < 2
    ):
        return None
    values = [number(a) for a in acc]
    if any(v is None for v in values):
        return None
    n = int(length)
    chance = number(rev.get("chance"))
    if chance is None:
        symbols = number(rev.get("symbols"))
        chance = 1.0 / symbols if symbols else float("nan")
    return ReversalSummary(
        tuple(values),  # type: ignore[arg-type]
        n,
        chance,
        float(np.mean(values[: n - 1])),
        float(np.mean(values[n:])),
    )


@dataclass(frozen=True)
class FutureAttention:
    """Share of attention on future positions, over a [layer, head] matrix."""

    mean: float
    peak: float
    peak_layer: int
    peak_head: int


def future_summary(matrix: np.ndarray | None) -> FutureAttention | None:
    if matrix is None:
        return None
    layer, head = np.unravel_index(int(np.argmax(matrix)), matrix.shape)
    return FutureAttention(float(matrix.mean()), float(matrix.max()), int(layer), int(head))


def reversal_probe(record: Mapping[str, Any]) -> tuple[np.ndarray, list[str]] | None:
    """The recorded probe's patterns [layer, head, q_pos, k_pos] and its token labels."""
    probe = record.get("probe")
    if not isinstance(probe, Mapping):
        return None
    try:
        patterns = np.asarray(probe.get("patterns"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    tokens = probe.get("tokens")
    if patterns.ndim != 4 or not isinstance(tokens, list) or len(tokens) != patterns.shape[-1]:
        return None
    symbols = (
        number(record.get("reversal", {}).get("symbols"))
        if isinstance(record.get("reversal"), Mapping)
        else None
    )
    labels = ["SEP" if symbols is not None and t == int(symbols) else str(t) for t in tokens]
    return patterns, labels


# --------------------------------------------------------------------------- LAMBADA and samples


def lambada_results(shipped: Shipped, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """name -> {"accuracy", "loss", "n_scored"} from record["lambada"], else from "final"."""
    out = {}
    for name in names:
        record = shipped.record(name)
        lam = record.get("lambada") if isinstance(record.get("lambada"), Mapping) else {}
        acc = number(lam.get("accuracy"))
        loss = number(lam.get("loss"))
        acc = acc if acc is not None else final_metric(record, "lambada_accuracy")
        loss = loss if loss is not None else final_metric(record, "lambada_loss")
        if acc is None and loss is None:
            continue
        entry = {"accuracy": acc, "loss": loss, "n_scored": number(lam.get("n_scored"))}
        out[name] = {k: v for k, v in entry.items() if v is not None}
    return out


def samples_by_prompt(shipped: Shipped, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """prompt -> {variant: generated text}, prompts in the order the records list them."""
    out: dict[str, dict[str, str]] = {}
    for name in names:
        for sample in shipped.record(name).get("samples") or []:
            if isinstance(sample, Mapping) and isinstance(sample.get("prompt"), str):
                out.setdefault(sample["prompt"], {})[name] = str(sample.get("text", ""))
    return out


# the suite's sampling settings (training/probes.py), so live samples compare with recorded ones
SAMPLE_TEMPERATURE = 0.8
SAMPLE_TOP_K = 40


def sample_text(
    model: LanguageModel, tokenizer: Any, ids: Sequence[int], n_tokens: int, seed: int
) -> str:
    """A continuation of the prompt ids, sampled with a fixed seed."""
    settings = GenerationSettings(
        max_new_tokens=n_tokens, temperature=SAMPLE_TEMPERATURE, top_k=SAMPLE_TOP_K, seed=seed
    )
    model.eval()
    return tokenizer.decode(generate(model, _tensor(ids), settings)[0].tolist())


def measure(kind: str, model: LanguageModel, tokenizer: Any, ids: Sequence[int]) -> Any:
    """One live measurement by name, so the page needs a single cached entry point:

    saliency, order (OrderCheck), shapes (table rows), weights (block similarity), patterns
    ([layer, head, q_pos, k_pos]), depth (DepthProfile), bypass (BypassResult)."""
    if kind == "saliency":
        return input_saliency(model, ids)
    if kind == "order":
        return order_check(model, ids)
    if kind == "shapes":
        return attention_shapes(model, ids)
    if kind == "weights":
        return block_weight_similarity(model)
    if kind == "patterns":
        return capture_patterns(model, ids)
    if kind == "depth":
        return depth_profile(model, ids)
    if kind == "bypass":
        return bypass_residual(model, tokenizer, ids)
    raise KeyError(f"unknown measurement {kind!r}")
