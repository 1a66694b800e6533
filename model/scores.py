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

from model.additive_score import AdditiveScore
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

    def raw(self, q: Q, k: K, masked_above_diagonal: bool = False) -> Scores:
        """masked_above_diagonal: the caller hides every key after its query, so a score there
        may come back 0 instead of computed (the additive score skips that work in training)."""
        if self.kind in ("scaled_dot", "dot"):
            return q @ k.transpose(-1, -2)
        if self.kind == "cosine":
            return F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-1, -2)
        # grad mode is off inside an autograd Function's forward: read it here
        training = self.training and torch.is_grad_enabled()
        return AdditiveScore.apply(q, k, self.w_score, training, masked_above_diagonal)

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
