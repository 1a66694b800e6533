"""Validation: one deterministic pass, mean loss, bits per character, loss per position and token."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.batches import EVAL_IGNORE_INDEX, eval_windows


@dataclass
class EvalResult:
    loss: float  # mean cross-entropy per token, nats
    n_tokens: int  # targets scored
    per_position: list[float] = field(default_factory=list)  # mean loss at each window position
    per_token: dict[int, float] = field(default_factory=dict)  # mean loss per target token id

    def bits_per_char(self, n_chars: int) -> float:
        """Total bits over the characters they encode: compares character and BPE models."""
        return self.loss * self.n_tokens / n_chars / math.log(2)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    tokens: np.ndarray,
    n_ctx: int,
    batch_size: int = 64,
    max_tokens: int | None = None,
    device: str | torch.device = "cpu",
    detail: bool = False,
) -> EvalResult:
    """Mean loss over every target of `tokens` (or its first max_tokens + 1), in eval mode.

    detail=True also returns the loss per window position (how context length helps) and per
    target token id (which tokens are hard): the seed's "loss per token".
    """
    was_training = model.training
    model.eval()
    if max_tokens is not None:
        tokens = tokens[: max_tokens + 1]
    total, count = 0.0, 0
    pos_sum = torch.zeros(n_ctx, dtype=torch.float64)
    pos_count = torch.zeros(n_ctx, dtype=torch.float64)
    vocab_sum: torch.Tensor | None = None
    vocab_count: torch.Tensor | None = None
    for x, y in eval_windows(tokens, n_ctx, batch_size):
        x, y = x.to(device), y.to(device)
        logits = model(x).float()
        losses = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y.reshape(-1),
            reduction="none",
            ignore_index=EVAL_IGNORE_INDEX,
        ).view_as(y)
        valid = y != EVAL_IGNORE_INDEX
        total += losses[valid].double().sum().item()
        count += int(valid.sum())
        if detail:
            n = y.shape[1]
            pos_sum[:n] += (losses * valid).double().sum(0).cpu()
            pos_count[:n] += valid.double().sum(0).cpu()
            if vocab_sum is None:
                vocab_sum = torch.zeros(logits.shape[-1], dtype=torch.float64)
                vocab_count = torch.zeros(logits.shape[-1], dtype=torch.float64)
            vocab_sum.index_add_(0, y[valid].cpu(), losses[valid].double().cpu())
            vocab_count.index_add_(
                0, y[valid].cpu(), torch.ones(int(valid.sum()), dtype=torch.float64)
            )
    model.train(was_training)
    result = EvalResult(loss=total / max(count, 1), n_tokens=count)
    if detail:
        seen = pos_count > 0
        result.per_position = (pos_sum[seen] / pos_count[seen]).tolist()
        assert vocab_sum is not None and vocab_count is not None
        result.per_token = {
            int(i): float(vocab_sum[i] / vocab_count[i])
            for i in torch.nonzero(vocab_count).flatten()
        }
    return result
