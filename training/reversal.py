"""The curriculum's own check of the causal mask: reverse a random sequence.

A sequence is [x_1 .. x_n, SEP, x_n .. x_1] with x_i drawn uniformly from `vocab` symbols. The model
predicts every next token. The first half is random, so a causally masked model can only guess it
(accuracy 1/vocab), while it can copy the second half from what it has seen (near 100%). A model
without the mask sees the very token it must predict, and "predicts" the first half too.
"""

from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor, nn


def reversal_vocab_size(n_symbols: int) -> int:
    return n_symbols + 1  # the symbols, then SEP


def reversal_batch(
    batch_size: int, length: int, n_symbols: int, generator: torch.Generator
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """(x, y) with y the next token of x; pos = 2 * length."""
    first = torch.randint(n_symbols, (batch_size, length), generator=generator)
    sep = torch.full((batch_size, 1), n_symbols)
    seq = torch.cat([first, sep, first.flip(1)], dim=1)  # [batch, 2 * length + 1]
    return seq[:, :-1], seq[:, 1:]


def half_accuracies(accuracy: list[float], length: int) -> tuple[float, float]:
    """Mean accuracy over the random first half (targets 0 .. length-2; SEP excluded) and over the
    reversed second half (targets length .. 2*length-1)."""
    return sum(accuracy[: length - 1]) / (length - 1), sum(accuracy[length:]) / length


@torch.no_grad()
def accuracy_per_position(
    model: nn.Module, length: int, n_symbols: int, n_sequences: int = 2000, seed: int = 0
) -> list[float]:
    """Greedy next-token accuracy at each of the 2 * length target positions (teacher forcing).

    Targets 0 .. length-2 are the random first half (chance = 1/n_symbols), target length-1 is SEP,
    targets length .. 2*length-1 the reversal.
    """
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    x, y = reversal_batch(n_sequences, length, n_symbols, g)
    device = next(model.parameters()).device
    correct = (model(x.to(device)).argmax(-1).cpu() == y).float().mean(0)
    model.train(was_training)
    return correct.tolist()
