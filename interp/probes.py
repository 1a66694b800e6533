"""Probe prompts: the repeated random-token sequence that induction heads are found on."""

from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor


def repeated_random_tokens(
    vocab_size: int, n_pos: int, batch: int = 4, seed: int = 0
) -> Int[Tensor, "batch pos"]:
    """`batch` sequences of `n_pos // 2` random tokens, each followed by itself once more.

    Tokens inside one half are drawn without replacement when the vocabulary allows, so the only
    duplicates are the planted ones: a character-level vocabulary of 65 would otherwise repeat
    most characters inside the first half and blur the induction and duplicate-token cells.
    """
    half = n_pos // 2
    if half < 2:
        raise ValueError(f"a repeated sequence needs n_pos >= 4, got {n_pos}")
    gen = torch.Generator().manual_seed(seed)
    if vocab_size >= half:
        first = torch.stack(
            [torch.randperm(vocab_size, generator=gen)[:half] for _ in range(batch)]
        )
    else:
        first = torch.randint(0, vocab_size, (batch, half), generator=gen)
    return torch.cat([first, first], dim=1)  # [batch, 2 * half]
