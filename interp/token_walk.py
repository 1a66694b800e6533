"""One token's walk through the model, as Transformer Explainer draws it: its embedding, what each
block's attention and MLP add to the stream at its position, and the logits it ends on, every
number read from the model's own forward pass (hooks), never recomputed beside it.

`probabilities` turns the logits into the next-token distribution at a temperature, the same
rule sampling uses: softmax(logits / T), and the arg-max at T = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.layout import check_prompt
from model.hook_names import hook_name
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer


@dataclass(frozen=True)
class TokenWalk:
    """The stream at one position, step by step (CPU tensors)."""

    position: int
    token: int
    embed: Float[Tensor, " d_model"]  # the token's embedding row
    pos_embed: Float[Tensor, " d_model"] | None  # the position's, when added (None: no positions)
    attn_out: Float[Tensor, "layer d_model"]  # what each block's attention writes here
    mlp_out: Float[Tensor, "layer d_model"] | None  # what each MLP writes; None: no MLP
    resid_post: Float[Tensor, "layer d_model"]  # the stream leaving each block
    logits: Float[Tensor, " vocab"]  # the model's logits at this position

    @property
    def n_layers(self) -> int:
        return self.attn_out.shape[0]


def token_walk(
    model: Transformer,
    tokens: Int[Tensor, " pos"],
    position: int = -1,
    *,
    switches: Switches = NO_SWITCHES,
) -> TokenWalk:
    """The walk of the token at `position` (negative counts from the end)."""
    if not isinstance(model, Transformer):
        raise TypeError(f"a token walk needs a transformer, got {type(model).__name__}")
    tokens = check_prompt(model, tokens)
    n, L = tokens.shape[0], model.cfg.n_layers
    if not -n <= position < n:
        raise ValueError(f"position {position} is outside the prompt's {n} tokens")
    p = position % n
    names = [hook_name("embed")]
    has_pos = model.pos_embed is not None and switches.pos_encoding
    names += [hook_name("pos_embed")] if has_pos else []
    for kind in ("attn_out", "resid_post") + (("mlp_out",) if model.cfg.mlp else ()):
        names += [hook_name(kind, i) for i in range(L)]
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens[None], names=names, switches=switches)

    def at(name: str) -> Tensor:
        return cache[name][0, p].float().cpu()

    def stacked(kind: str) -> Tensor:
        return torch.stack([at(hook_name(kind, i)) for i in range(L)])

    return TokenWalk(
        position=p,
        token=int(tokens[p]),
        embed=at(hook_name("embed")),
        pos_embed=at(hook_name("pos_embed")) if has_pos else None,
        attn_out=stacked("attn_out"),
        mlp_out=stacked("mlp_out") if model.cfg.mlp else None,
        resid_post=stacked("resid_post"),
        logits=logits[0, p].float().cpu(),
    )


def probabilities(logits: Float[Tensor, " vocab"], temperature: float) -> Float[Tensor, " vocab"]:
    """softmax(logits / temperature); temperature 0 puts all the mass on the arg-max."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)
