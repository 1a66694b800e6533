"""What a model's residual stream is under a set of inference switches: the facts every
decomposition (logit lens, attribution, circuits, stream health) has to respect.

A switch can only take things away (`Switches(residual=False)` on a residual model), so the
effective architecture is the config AND the switches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Int
from torch import Tensor

from model.switches import NO_SWITCHES, Switches, causal_mask_on
from model.transformer import Transformer

EffectiveNorm = Literal["pre", "post", "none"]


class DecompositionError(ValueError):
    """The asked-for decomposition does not exist for this model; the message says why."""


@dataclass(frozen=True)
class StreamLayout:
    """The effective architecture of one forward pass."""

    n_layers: int  # blocks
    n_heads: int  # heads per block
    residual: bool  # sublayers add to the stream (else each replaces it)
    norm: EffectiveNorm  # where LayerNorms act ("none" also when the layernorm switch is off)
    causal: bool  # queries see only keys at or before them
    positions: bool  # positional embeddings are added to the token embeddings
    mlp: bool = True  # blocks have an MLP (False: an attention-only transformer)

    @property
    def final_ln(self) -> bool:
        """Only pre-LN models end on their own LayerNorm (post-LN blocks end normalised already)."""
        return self.norm == "pre"

    @property
    def stream_is_sum(self) -> bool:
        """Whether the stream entering the unembedding (before any final LayerNorm) is the plain
        sum of what the embeddings and every sublayer wrote: residual and no LayerNorm inside it."""
        return self.residual and self.norm != "post"


def stream_layout(model: Transformer, switches: Switches = NO_SWITCHES) -> StreamLayout:
    if not isinstance(model, Transformer):
        raise TypeError(
            f"interpretability needs a Transformer (attention heads, a residual stream), got {type(model).__name__}"
        )
    cfg = model.cfg
    return StreamLayout(
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        residual=cfg.residual and switches.residual,
        norm=cfg.norm if switches.layernorm else "none",
        causal=causal_mask_on(cfg, switches),
        positions=cfg.pos_encoding != "none" and switches.pos_encoding,
        mlp=cfg.mlp,
    )


def check_prompt(model: Transformer, tokens: Tensor, name: str = "tokens") -> Int[Tensor, " pos"]:
    """One prompt as token ids [pos] that fit the model; a clear ValueError otherwise."""
    if not isinstance(tokens, Tensor) or tokens.dtype in (
        torch.float16,
        torch.float32,
        torch.float64,
    ):
        raise ValueError(f"{name} must be an integer tensor of token ids, got {tokens!r:.60}")
    if tokens.dim() == 2 and tokens.shape[0] == 1:
        tokens = tokens[0]  # [1, pos] is one prompt too
    if tokens.dim() != 1:
        raise ValueError(f"{name} must be one prompt [pos], got shape {tuple(tokens.shape)}")
    n, cfg = tokens.shape[0], model.cfg
    if not 1 <= n <= cfg.n_ctx:
        raise ValueError(f"{name} has {n} tokens; this model takes 1 to {cfg.n_ctx}")
    if int(tokens.min()) < 0 or int(tokens.max()) >= cfg.vocab_size:
        raise ValueError(f"{name} holds ids outside the vocabulary [0, {cfg.vocab_size})")
    return tokens
