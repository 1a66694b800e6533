"""Logit lens (nostalgebraist, 2020): read the residual stream after every layer as if it were
the last, through the final LayerNorm and the unembedding.

Each stream point goes through the final LayerNorm with its own statistics, as the model would
treat it had the later blocks been removed; at the last layer this is the model's own output.
Post-LN and no-LN models have no final LayerNorm: their stream is unembedded as it is (a post-LN
block's output is already normalised; the "embed" row of a post-LN model is not).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.forward import unembed_stream
from interp.layout import check_prompt, stream_layout
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer


@dataclass(frozen=True)
class LogitLens:
    """Stream points ("layer" axis): "embed" (entering block 0), then after each block."""

    points: tuple[str, ...]  # the model's stream labels: "embed", "after block 0", ...
    tokens: Int[Tensor, " pos"]  # the prompt
    logits: Float[Tensor, "layer pos vocab"]  # the lens read at every stream point
    top_tokens: Int[Tensor, "layer pos k"]  # most likely next tokens, best first
    top_probs: Float[Tensor, "layer pos k"]
    # the true next token tokens[pos + 1]; the last position has none, so pos runs to n - 1
    true_rank: Int[Tensor, "layer pred_pos"]  # 0 = the lens's top token
    true_prob: Float[Tensor, "layer pred_pos"]


def logit_lens(
    model: Transformer,
    tokens: Int[Tensor, "*one pos"],
    *,
    k: int = 5,
    switches: Switches = NO_SWITCHES,
) -> LogitLens:
    stream_layout(model, switches)  # a clear TypeError for a model that is not a Transformer
    tokens = check_prompt(model, tokens)
    hooks = model.stream_hooks()  # what enters block 0, then what leaves each block
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens[None], names=hooks, switches=switches)
        stream = torch.cat([cache[h] for h in hooks])  # [layer, pos, d_model]
        logits = unembed_stream(model, stream, switches).float()
    log_probs = logits.log_softmax(-1)
    top_lp, top = log_probs.topk(min(k, logits.shape[-1]), dim=-1)
    target = tokens[1:].to(logits.device)
    pred = logits[:, :-1]  # [layer, pred_pos, vocab]
    true_logit = pred.gather(-1, target[None, :, None].expand(len(hooks), -1, 1))
    rank = (pred > true_logit).sum(-1)  # ties count in the true token's favour
    true_prob = log_probs[:, :-1].gather(-1, target[None, :, None].expand(len(hooks), -1, 1))
    return LogitLens(
        points=tuple(model.stream_labels()),
        tokens=tokens.cpu(),
        logits=logits.cpu(),
        top_tokens=top.cpu(),
        top_probs=top_lp.exp().cpu(),
        true_rank=rank.cpu(),
        true_prob=true_prob.squeeze(-1).exp().cpu(),
    )
