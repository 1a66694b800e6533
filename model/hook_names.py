"""Hook names from one place, so no caller spells `blocks.{l}.attn.hook_pattern` by hand.

`hook_name("pattern", 0)` -> "blocks.0.attn.hook_pattern" (TransformerLens's `get_act_name`).
The names are those the module tree gives the hook points (see `model.hooks`); a test checks that
every name made here exists in a model, so the two cannot drift. Which residual-stream hooks a
model has (the LSTM has hidden states instead) is a method of the model: `model.stream_hooks()`.
"""

from __future__ import annotations

import difflib
from typing import Literal, get_args

# what each attention head makes, in order: [batch, pos, head, d_head] or [batch, head, q_pos, k_pos]
AttentionHook = Literal[
    "q", "k", "v", "raw_scores", "scaled_scores", "attn_scores", "pattern", "z", "result"
]
# the residual stream around one block and what each sublayer writes: [batch, pos, d_model]
BlockHook = Literal["resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"]
# a LayerNorm's input statistics and normalised output
LayerNormHook = Literal["mean", "std", "scale", "normalized"]
LayerNormName = Literal["ln1", "ln2", "ln_final"]

ATTENTION_HOOKS: tuple[str, ...] = get_args(AttentionHook)
BLOCK_HOOKS: tuple[str, ...] = get_args(BlockHook)


def hook_name(kind: str, layer: int | None = None) -> str:
    """The full name of an attention or block hook: ("pattern", 2) -> "blocks.2.attn.hook_pattern",
    ("resid_post", 0) -> "blocks.0.hook_resid_post", ("embed") -> "hook_embed"."""
    if kind in ("embed", "pos_embed"):
        return f"hook_{kind}"
    if layer is None:
        raise ValueError(f"hook {kind!r} belongs to a layer: pass hook_name({kind!r}, layer)")
    if kind in ATTENTION_HOOKS:
        return f"blocks.{layer}.attn.hook_{kind}"
    if kind in BLOCK_HOOKS:
        return f"blocks.{layer}.hook_{kind}"
    if kind == "hidden":  # the LSTM's per-layer hidden states
        return f"layers.{layer}.hook_hidden"
    known = ["embed", "pos_embed", "hidden", *ATTENTION_HOOKS, *BLOCK_HOOKS]
    near = difflib.get_close_matches(kind, known, n=3, cutoff=0.5)
    hint = f"did you mean {near}?" if near else f"known: {known}"
    raise ValueError(f"unknown hook kind {kind!r}; {hint}")


def layernorm_module(ln: LayerNormName, layer: int | None = None) -> str:
    """("ln1", 0) -> "blocks.0.ln1"; ("ln_final") -> "ln_final": the prefix of its hooks."""
    if ln == "ln_final":
        return "ln_final"
    if layer is None:
        raise ValueError(f"{ln} belongs to a block: pass layernorm_module({ln!r}, layer)")
    return f"blocks.{layer}.{ln}"


def layernorm_hook(ln: LayerNormName, stat: LayerNormHook, layer: int | None = None) -> str:
    """("ln1", "mean", 0) -> "blocks.0.ln1.hook_mean"; ("ln_final", "std") -> "ln_final.hook_std"."""
    return f"{layernorm_module(ln, layer)}.hook_{stat}"


def pattern_hooks(n_layers: int) -> list[str]:
    """Every layer's attention pattern hook, layer 0 first."""
    return [hook_name("pattern", layer) for layer in range(n_layers)]
