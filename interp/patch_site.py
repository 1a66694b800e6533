"""Patch one activation the user picks: any hook of the model whose tensor has a position axis
(the stream around each block, what each sublayer writes, each head's q, k, v or z), at one
position. The maps of `interp.patching` sweep fixed sites; this answers "and this one?".

The metric and its normalisation are `interp.patching`'s: recovered = (patched - corrupted) /
(clean - corrupted), with the same gap check (`PatchingResult.gap`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from interp.corruption import MetricGap
from interp.patching import Direction, PatchingSetup, _normalise, _runs, logit_diff
from model.hook_names import hook_name
from model.hooks import HookPoint
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

# hooks whose tensors are [batch, pos, ...]: the ones a single position can be patched in
SITE_KINDS = ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post", "q", "k", "v", "z")


def patchable_hooks(model: Transformer) -> list[str]:
    """Every hook one position of which can be patched, block by block."""
    out = [hook_name("embed")] + [hook_name("pos_embed")] * (model.pos_embed is not None)
    for layer in range(model.cfg.n_layers):
        for kind in SITE_KINDS:
            if kind in ("resid_mid", "mlp_out") and not model.cfg.mlp:
                continue  # an attention-only block has neither
            out.append(hook_name(kind, layer))
    return out


@dataclass(frozen=True)
class SitePatch:
    hook: str
    position: int
    direction: Direction
    recovered: float
    gap: MetricGap


def patch_site(
    model: Transformer,
    setup: PatchingSetup,
    hook: str,
    position: int,
    direction: Direction = "denoising",
    *,
    switches: Switches = NO_SWITCHES,
) -> SitePatch:
    """Recovered fraction with `hook`'s activation at `position` copied from the source run."""
    if hook not in patchable_hooks(model):
        raise ValueError(f"{hook!r} is not a hook with a position axis in this model")
    n = setup.clean.shape[0]
    if not 0 <= position < n:
        raise ValueError(f"position {position} is outside the prompt's {n} tokens")
    target_tokens = setup.corrupted if direction == "denoising" else setup.clean
    _, source, m_clean, m_corr = _runs(model, setup, direction, [hook], switches)

    def fn(x: Tensor, _: HookPoint) -> Tensor:
        x = x.clone()
        x[:, position] = source[hook][:, position]
        return x

    with torch.no_grad(), model.hooks([(hook, fn)]):
        logits = model(target_tokens[None], switches=switches)
    metric = logit_diff(logits, setup.answer, setup.wrong, setup.position)
    recovered = float(_normalise(metric.float().cpu(), m_clean, m_corr))
    return SitePatch(
        hook, position, direction, recovered, MetricGap(m_clean, m_corr, setup.flipped)
    )
