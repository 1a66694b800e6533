"""Attention score functions: the ways a query and a key can be turned into a weight.

Each returns two stages, both [batch, head, q_pos, k_pos], so the app can show the pipeline:
`raw` (the comparison itself) and `scaled` (what goes into the mask and softmax).

- scaled_dot  q.k / sqrt(d_head)   Vaswani et al. The sqrt keeps the logits' spread independent of
                                   d_head: for unit-variance q and k, q.k has variance d_head.
- dot         q.k                  the same without the scale (its softmax saturates as d_head grows)
- additive    w . tanh(q + k)      Bahdanau et al.'s MLP score (here on the already projected q, k)
- cosine      tau * cos(q, k)      bounded logits with a learned per-head temperature tau
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from model.config import ModelConfig

Q = Float[Tensor, "batch head q_pos d_head"]
K = Float[Tensor, "batch head k_pos d_head"]
Scores = Float[Tensor, "batch head q_pos k_pos"]


class ScoreFunction(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.kind = cfg.attn_score
        self.d_head = cfg.d_head
        if self.kind == "additive":
            self.w_score = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_head))  # [head, d_head]
        if self.kind == "cosine":
            # log-parameterised so tau stays positive. Initialised as QK-norm does (Henry et al.,
            # 2020): tau = log2(L^2 - L) for sequences of length L, large enough that a softmax over
            # cosines in [-1, 1] can still concentrate on one key among L.
            n = max(cfg.n_ctx, 2)
            tau0 = math.log2(n * n - n)
            self.log_tau = nn.Parameter(torch.full((cfg.n_heads,), math.log(tau0)))

    def raw(self, q: Q, k: K) -> Scores:
        if self.kind in ("scaled_dot", "dot"):
            return q @ k.transpose(-1, -2)
        if self.kind == "cosine":
            return F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-1, -2)
        return AdditiveScore.apply(q, k, self.w_score)

    def scale(self, raw: Scores) -> Scores:
        if self.kind == "scaled_dot":
            return raw / math.sqrt(self.d_head)
        if self.kind == "cosine":
            return raw * self.log_tau.exp()[:, None, None]
        return raw

    def fused_qk(self, q: Q, k: K) -> tuple[Q, K, float] | None:
        """(q, k, scale) for F.scaled_dot_product_attention, or None where it cannot express the score."""
        if self.kind == "scaled_dot":
            return q, k, 1.0 / math.sqrt(self.d_head)
        if self.kind == "dot":
            return q, k, 1.0
        if self.kind == "cosine":
            tau = self.log_tau.exp()[:, None, None]
            return F.normalize(q, dim=-1) * tau, F.normalize(k, dim=-1), 1.0
        return None


class AdditiveScore(torch.autograd.Function):
    """w . tanh(q + k) for every (query, key) pair, one d_head coordinate at a time.

    The direct form broadcasts q and k into a [batch, head, q_pos, k_pos, d_head] tensor and autograd
    keeps it (and its tanh) for the backward pass: d_head times the memory of a score matrix, which
    made this variant 20x slower than the others to train. Summing over d_head in a loop holds one
    [batch, head, q_pos, k_pos] slice at a time and the backward pass recomputes each slice's tanh
    from q and k instead of storing it. Same arithmetic, same result (tested against the 5-D form).
    """

    @staticmethod
    def forward(ctx, q: Q, k: K, w: Float[Tensor, "head d_head"]) -> Scores:  # type: ignore[override]
        ctx.save_for_backward(q, k, w)
        out = q.new_zeros(*q.shape[:-1], k.shape[-2])
        wv = w[None, :, None, None, :]  # [1, head, 1, 1, d_head]
        for d in range(q.shape[-1]):
            out += torch.tanh(q[..., d, None] + k[..., None, :, d]) * wv[..., d]
        return out

    @staticmethod
    def backward(ctx, grad: Scores) -> tuple[Q, K, Float[Tensor, "head d_head"]]:  # type: ignore[override]
        q, k, w = ctx.saved_tensors
        gq, gk, gw = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(w)
        for d in range(q.shape[-1]):
            t = torch.tanh(q[..., d, None] + k[..., None, :, d])  # [batch, head, q_pos, k_pos]
            gw[:, d] = (grad * t).sum((0, 2, 3))
            g = grad * (1 - t * t) * w[None, :, None, None, d]
            gq[..., d] = g.sum(-1)
            gk[..., d] = g.sum(-2)
        return gq, gk, gw
