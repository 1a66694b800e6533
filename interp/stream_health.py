"""Rank collapse and stream health: do the token representations stay distinct, layer by layer,
and who writes the residual stream?

- mean pairwise cosine of the positions' stream vectors: 1 means every position carries the same
  direction (rank collapse; Dong et al., 2021, show pure attention drives towards it, and skip
  connections and MLPs hold it off, which the no-residual variant lets one watch happen).
- effective rank (Roy & Vetterli, 2007): exp of the entropy of the normalised singular values of
  the [pos, d_model] stream, from 1 (all positions on one line) to min(pos, d_model). Neither
  measure centres the vectors: a shared offset is part of what collapse looks like.
- write norms: ||what each component adds|| per position (embeddings, each attention layer with
  its b_O, each MLP), and each component's share of their sum. Where the stream entering the
  unembedding is the plain sum of the writes (residual, not post-LN), also each write's
  projection on that final stream, as a share of its squared norm: these shares sum to exactly 1
  and can be negative (a write that cancels others).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.layout import check_prompt, stream_layout
from model.hook_names import hook_name
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer


@dataclass(frozen=True)
class StreamHealth:
    points: tuple[str, ...]  # the model's stream labels: "embed", "after block 0", ...
    mean_cosine: Float[Tensor, " layer"]  # mean over pairs of distinct positions
    effective_rank: Float[Tensor, " layer"]
    stream_norm: Float[Tensor, "layer pos"]  # ||stream|| per position
    components: tuple[str, ...]  # "embed", "pos_embed", "attn 0", "mlp 0", ...
    write_norm: Float[Tensor, "component pos"]
    norm_share: Float[Tensor, " component"]  # mean over positions of ||write|| / sum of ||writes||
    projection_share: Float[Tensor, " component"] | None  # sums to 1; None where not a sum


def mean_pairwise_cosine(x: Float[Tensor, "pos d_model"]) -> float:
    n = x.shape[0]
    if n < 2:
        return float("nan")
    unit = torch.nn.functional.normalize(x.double(), dim=-1)
    gram = unit @ unit.T
    return float((gram.sum() - gram.diagonal().sum()) / (n * (n - 1)))


def effective_rank(x: Float[Tensor, "pos d_model"]) -> float:
    s = torch.linalg.svdvals(x.double())
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def stream_health(
    model: Transformer, tokens: Int[Tensor, "*one pos"], *, switches: Switches = NO_SWITCHES
) -> StreamHealth:
    layout = stream_layout(model, switches)
    tokens = check_prompt(model, tokens)
    L = layout.n_layers
    points = model.stream_hooks()
    writes = [hook_name("embed")] + ([hook_name("pos_embed")] if layout.positions else [])
    labels = ["embed"] + (["pos_embed"] if layout.positions else [])
    for i in range(L):
        writes += [hook_name("attn_out", i)] + [hook_name("mlp_out", i)] * layout.mlp
        labels += [f"attn {i}"] + [f"mlp {i}"] * layout.mlp
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens[None], names=points + writes, switches=switches)
    stream = torch.stack([cache[h][0].float().cpu() for h in points])  # [layer, pos, d_model]
    w = torch.stack([cache[h][0].float().cpu() for h in writes])  # [component, pos, d_model]
    w_norm = w.norm(dim=-1)
    share = (w_norm / w_norm.sum(0, keepdim=True).clamp_min(1e-12)).mean(1)
    projection = None
    if layout.stream_is_sum:
        final = stream[-1].double()  # the sum of every write
        proj = (w.double() * final).sum(-1) / (final * final).sum(-1).clamp_min(1e-30)
        projection = proj.mean(1).float()  # each position's shares sum to 1, so does the mean
    return StreamHealth(
        points=tuple(model.stream_labels()),
        mean_cosine=torch.tensor([mean_pairwise_cosine(x) for x in stream]),
        effective_rank=torch.tensor([effective_rank(x) for x in stream]),
        stream_norm=stream.norm(dim=-1),
        components=tuple(labels),
        write_norm=w_norm,
        norm_share=share,
        projection_share=projection,
    )
