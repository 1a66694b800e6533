"""Activation patching: copy one activation from a source run into a target run and see how much
of the clean behaviour comes back (Meng et al., 2022; Heimersheim & Nanda, "How to use and
interpret activation patching", 2024).

The metric is the logit difference logit[answer] - logit[wrong] at one position (the last by
default), normalised so that the corrupted run reads 0 and the clean run reads 1:

    recovered = (metric(patched) - metric(corrupted)) / (metric(clean) - metric(corrupted))

(unstable when the two runs' metrics are close, and sign-flipped when the corrupted run's is the
larger: `PatchingResult.gap` says which, a `PatchingGapWarning` is issued, and
`interp.corruption.suggest_corruption` finds a corruption that flips the answer)

- denoising: run the corrupted prompt, patch in the clean activation. 1 = this activation alone
  restores the clean answer: it is sufficient.
- noising: run the clean prompt, patch in the corrupted activation. Same scale, so 1 = no
  damage and 0 = the corrupted answer: a low value marks a necessary activation.

Sites, as in TransformerLens's `patching` module: each head's output z at every position (layer
x head), the stream entering each block at one position (layer x pos, `hook_resid_pre`), each
MLP's output at one position (layer x pos). What makes a full map affordable (every position of
every layer: 4 x 128 patched runs for a 128-token prompt), each step exact:
- a patch at layer l cannot change anything before it: every run restarts from the target's
  cached stream entering block l (`forward_from`), and patches that share a layer run as one batch;
- a position whose activation is the same in both runs needs no run, the patch being the
  identity there (in a causal model: every position before the first token that differs);
- in a causal model a patch at position p changes nothing before p, and nothing after the
  read-out position reaches it: a batch is computed from its first patched position on, the
  earlier positions entering as a KV cache of the target run.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.corruption import MetricGap, PatchingGapWarning
from interp.forward import forward_from
from interp.layout import DecompositionError, check_prompt, stream_layout
from model.hook_names import hook_name
from model.hooks import HookPoint
from model.kv_cache import LayerKV
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

Direction = Literal["denoising", "noising"]
Progress = Callable[
    [int, int], None
]  # (patches done, patches in all), e.g. a progress bar's update


@dataclass(frozen=True)
class PatchingSetup:
    """Two prompts of equal length and the logit difference that tells them apart."""

    clean: Int[Tensor, " pos"]
    corrupted: Int[Tensor, " corrupted_pos"]  # checked equal to pos below, with a clear message
    answer: int  # the clean prompt's answer
    wrong: int  # the corrupted prompt's answer
    position: int = -1  # where the logit difference is read
    flipped: bool | None = None  # the corrupted run's top token is not `answer` (None: not known)

    def __post_init__(self) -> None:
        if self.clean.shape != self.corrupted.shape or self.clean.dim() != 1:
            raise ValueError(
                f"clean {tuple(self.clean.shape)} and corrupted {tuple(self.corrupted.shape)} "
                "must be single prompts of equal length"
            )
        if self.answer == self.wrong:
            raise ValueError("answer and wrong are the same token: the logit difference is 0")


def setup_from_predictions(
    model: Transformer,
    clean: Int[Tensor, " pos"],
    corrupted: Int[Tensor, " corrupted_pos"],
    position: int = -1,
    switches: Switches = NO_SWITCHES,
) -> PatchingSetup:
    """answer = the clean run's top token at `position`; wrong = the corrupted run's top token,
    or its runner-up where both runs agree (then the corruption did not flip the answer, and the
    logit difference says by how much it moved)."""
    if clean.shape != corrupted.shape:
        raise ValueError(
            f"clean ({len(clean)} tokens) and corrupted ({len(corrupted)} tokens) prompts must "
            "be of equal length: a patch copies activations position by position"
        )
    with torch.no_grad():
        logits = model(torch.stack([clean, corrupted]), switches=switches)[:, position]
    answer = int(logits[0].argmax())
    ranked = logits[1].argsort(descending=True)
    flipped = int(ranked[0]) != answer
    wrong = int(ranked[0]) if flipped else int(ranked[1])
    return PatchingSetup(clean, corrupted, answer, wrong, position, flipped)


@dataclass(frozen=True)
class PatchingResult:
    """Recovered fraction of the clean logit difference per site (see the module docstring)."""

    direction: Direction
    recovered: Float[Tensor, "layer site"]  # site = head or position
    site: Literal["head", "pos"]
    hook: str  # which activation: "z", "resid_pre" or "mlp_out"
    clean_metric: float  # logit difference of the clean run
    corrupted_metric: float  # logit difference of the corrupted run
    flipped: bool | None = None  # as `PatchingSetup.flipped`

    @property
    def gap(self) -> MetricGap:
        """The denominator of every recovered fraction, and whether it can be trusted."""
        return MetricGap(self.clean_metric, self.corrupted_metric, self.flipped)


def logit_diff(
    logits: Float[Tensor, "batch pos vocab"], answer: int, wrong: int, position: int = -1
) -> Float[Tensor, " batch"]:
    return logits[:, position, answer] - logits[:, position, wrong]


def _runs(
    model: Transformer, setup: PatchingSetup, direction: Direction, hooks: list[str], sw: Switches
) -> tuple[dict[str, Tensor], dict[str, Tensor], float, float]:
    """Caches of the target (patched into) and source (patched from) runs, and both metrics."""
    for name in ("clean", "corrupted"):
        check_prompt(model, getattr(setup, name), name)
    for name in ("answer", "wrong"):
        if not 0 <= getattr(setup, name) < model.cfg.vocab_size:
            raise ValueError(f"{name}={getattr(setup, name)} is outside the vocabulary")
    with torch.no_grad():
        clean_logits, clean = model.run_with_cache(setup.clean[None], names=hooks, switches=sw)
        corr_logits, corr = model.run_with_cache(setup.corrupted[None], names=hooks, switches=sw)
    m_clean = float(logit_diff(clean_logits, setup.answer, setup.wrong, setup.position))
    m_corr = float(logit_diff(corr_logits, setup.answer, setup.wrong, setup.position))
    target, source = (corr, clean) if direction == "denoising" else (clean, corr)
    message = MetricGap(m_clean, m_corr, setup.flipped).message()
    if message is not None and MetricGap(m_clean, m_corr).status != "ok":
        warnings.warn(message, PatchingGapWarning, stacklevel=3)
    return target, source, m_clean, m_corr


def _normalise(metric: Tensor, m_clean: float, m_corr: float) -> Tensor:
    if m_clean == m_corr:
        raise ValueError(
            "clean and corrupted prompts give the same logit difference: nothing to recover"
        )
    return (metric - m_corr) / (m_clean - m_corr)


def _patch_layer(
    model: Transformer,
    layer: int,
    start: Float[Tensor, "1 window d_model"],
    hook: str,
    replace: Callable[[Tensor], Tensor],
    batch: int,
    sw: Switches,
    setup: PatchingSetup,
    read_at: int,
    prefix: list[LayerKV] | None = None,
) -> Float[Tensor, " batch"]:
    """Metric of `batch` copies of the target run from block `layer` on, `replace` editing the
    activation at `hook` (batch element i carrying patch i). `start` is the stream entering the
    block at the positions computed; `read_at` indexes them; `prefix` holds the earlier ones."""

    def fn(x: Tensor, _: HookPoint) -> Tensor:
        return replace(x)

    x = start.expand(batch, -1, -1)
    with torch.no_grad(), model.hooks([(hook, fn)]):
        logits = forward_from(model, layer, x, sw, position=read_at, prefix=prefix)
    return logits[:, 0, setup.answer] - logits[:, 0, setup.wrong]


def patch_heads(
    model: Transformer,
    setup: PatchingSetup,
    direction: Direction = "denoising",
    *,
    progress: Progress | None = None,
    switches: Switches = NO_SWITCHES,
) -> PatchingResult:
    """Patch each head's output z (every position at once): a layer x head map."""
    layout = stream_layout(model, switches)
    L, H = layout.n_layers, layout.n_heads
    hooks = [hook_name("resid_pre", i) for i in range(L)] + [hook_name("z", i) for i in range(L)]
    target, source, m_clean, m_corr = _runs(model, setup, direction, hooks, switches)
    out = torch.zeros(L, H)
    heads = torch.arange(H, device=setup.clean.device)
    for layer in range(L):
        src = source[hook_name("z", layer)][0]  # [pos, head, d_head]

        def replace(z: Tensor, src: Tensor = src) -> Tensor:
            z = z.clone()  # [batch = head, pos, head, d_head]
            z[heads, :, heads] = src.transpose(0, 1)  # batch element h gets head h
            return z

        start = target[hook_name("resid_pre", layer)]
        metric = _patch_layer(
            model, layer, start, hook_name("z", layer), replace, H, switches, setup, setup.position
        )
        out[layer] = _normalise(metric.float().cpu(), m_clean, m_corr)
        if progress is not None:
            progress((layer + 1) * H, L * H)
    return PatchingResult(direction, out, "head", "z", m_clean, m_corr, setup.flipped)


def _copy_positions(
    src: Float[Tensor, "pos d_model"], pos: Int[Tensor, " batch"], first: int
) -> Callable[[Tensor], Tensor]:
    """Batch element i gets the source activation at position pos[i]; the edited tensor holds
    the positions from `first` on."""
    rows = torch.arange(len(pos), device=src.device)

    def replace(x: Tensor) -> Tensor:
        x = x.clone()  # [batch, pos - first, d_model]
        x[rows, pos - first] = src[pos]
        return x

    return replace


def _patch_positions(
    model: Transformer,
    setup: PatchingSetup,
    direction: Direction,
    kind: Literal["resid_pre", "mlp_out"],
    chunk: int,
    progress: Progress | None,
    switches: Switches,
) -> PatchingResult:
    layout = stream_layout(model, switches)
    L, n_pos = layout.n_layers, setup.clean.shape[0]
    read_at = setup.position % n_pos
    site = partial(hook_name, kind)
    hooks = [hook_name("resid_pre", i) for i in range(L)] + [site(i) for i in range(L)]
    if layout.causal:
        hooks += [hook_name("k", i) for i in range(L)] + [hook_name("v", i) for i in range(L)]
    target, source, m_clean, m_corr = _runs(
        model, setup, direction, list(dict.fromkeys(hooks)), switches
    )
    m_target = m_corr if direction == "denoising" else m_clean
    # cells that need no forward pass hold the target's own metric, exactly: a patch copying an
    # identical activation is the identity (in a causal model, every position before the first
    # differing token), and in a causal model a patch after the read-out position cannot reach it
    out = torch.full((L, n_pos), float(_normalise(torch.tensor(m_target), m_clean, m_corr)))
    differs = []
    for i in range(L):
        changed = (source[site(i)][0] != target[site(i)][0]).any(-1)  # [pos]
        if layout.causal:
            changed[read_at + 1 :] = False
        differs.append(changed.nonzero()[:, 0])  # ascending
    total, done = sum(len(d) for d in differs), 0
    for layer in range(L):
        src = source[site(layer)][0]  # [pos, d_model]
        for chunk_pos in differs[layer].split(chunk):
            # causal: compute positions from the chunk's first on, the earlier ones as a KV cache
            first = int(chunk_pos[0]) if layout.causal else 0
            batch = len(chunk_pos)
            replace = _copy_positions(src, chunk_pos, first)
            prefix = None
            if first > 0:
                prefix = [
                    LayerKV(
                        target[hook_name("k", i)][:, :first].expand(batch, -1, -1, -1),
                        target[hook_name("v", i)][:, :first].expand(batch, -1, -1, -1),
                    )
                    for i in range(layer, L)
                ]
            start = target[hook_name("resid_pre", layer)][:, first:]
            metric = _patch_layer(
                model,
                layer,
                start,
                site(layer),
                replace,
                batch,
                switches,
                setup,
                read_at - first,
                prefix,
            )
            out[layer, chunk_pos.cpu()] = _normalise(metric.float().cpu(), m_clean, m_corr)
            done += batch
            if progress is not None:
                progress(done, total)
    return PatchingResult(direction, out, "pos", kind, m_clean, m_corr, setup.flipped)


def patch_resid(
    model: Transformer,
    setup: PatchingSetup,
    direction: Direction = "denoising",
    *,
    chunk: int = 8,
    progress: Progress | None = None,
    switches: Switches = NO_SWITCHES,
) -> PatchingResult:
    """Patch the stream entering each block at one position: a layer x pos map.

    chunk: patches per batch. Small chunks waste little in a causal model, where a chunk is
    computed from its first position on (8 was fastest for 128 tokens on a CPU core)."""
    return _patch_positions(model, setup, direction, "resid_pre", chunk, progress, switches)


def patch_mlps(
    model: Transformer,
    setup: PatchingSetup,
    direction: Direction = "denoising",
    *,
    chunk: int = 8,
    progress: Progress | None = None,
    switches: Switches = NO_SWITCHES,
) -> PatchingResult:
    """Patch each MLP's output at one position: a layer x pos map (chunk: as `patch_resid`)."""
    if not model.cfg.mlp:
        raise DecompositionError(
            "this model has no MLP (an attention-only transformer): nothing to patch"
        )
    return _patch_positions(model, setup, direction, "mlp_out", chunk, progress, switches)


def every_component(model: Transformer) -> list[str]:
    """Hook names that together make the whole forward pass: the embeddings, every head's z and
    every MLP's output. Patched all at once they reproduce the source run."""
    L = model.cfg.n_layers
    sites = [hook_name("embed")] + [hook_name("pos_embed")] * (model.pos_embed is not None)
    mlps = [hook_name("mlp_out", i) for i in range(L)] if model.cfg.mlp else []
    return sites + [hook_name("z", i) for i in range(L)] + mlps


def patch_sites(
    model: Transformer,
    setup: PatchingSetup,
    sites: Sequence[str] | None = None,
    direction: Direction = "denoising",
    *,
    switches: Switches = NO_SWITCHES,
) -> float:
    """Recovered fraction with the activations at `sites` (hook names, every position) patched
    together; `None` patches `every_component`, which must give 1.0 denoising and 0.0 noising,
    and `[]` patches nothing (0.0 denoising, 1.0 noising): the checks that the machinery moves
    exactly what it claims to."""
    sites = every_component(model) if sites is None else list(sites)
    target_tokens = setup.corrupted if direction == "denoising" else setup.clean
    _, source, m_clean, m_corr = _runs(model, setup, direction, sites, switches)

    def fn(x: Tensor, hook: HookPoint) -> Tensor:
        return source[hook.name]

    with torch.no_grad(), model.hooks([(s, fn) for s in sites]):
        logits = model(target_tokens[None], switches=switches)
    metric = logit_diff(logits, setup.answer, setup.wrong, setup.position)
    return float(_normalise(metric.float().cpu(), m_clean, m_corr))
