"""Windows in which copying from context pays: a stretch of a window's own text recurs later in it.

An induction head (Olsson et al. 2022) predicts the token that followed the current token's
earlier occurrence. Plain text rewards that only now and then; a window whose stretch
seq[a : a + length] is written again at seq[b : b + length] (b >= a + length, both inside the
window) rewards it on every token of the second copy after its first. Lengths and distances
are drawn uniformly, so copies of every length up to `max_len` recur at every distance the
window allows, beside the plain windows the rest of the batch keeps.

Every draw comes from the generator passed in (the run's batch generator, saved with each
checkpoint), so a resumed run plants exactly the repeats the uninterrupted run would have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Int
from torch import Tensor, nn

from training.config import RunConfig
from training.evaluate import evaluate


@dataclass(frozen=True)
class Repeat:
    """One planted copy: seq[second : second + length] = seq[first : first + length]."""

    first: int
    second: int
    length: int

    @property
    def distance(self) -> int:
        return self.second - self.first


def draw_repeat(n_tokens: int, min_len: int, max_len: int, generator: torch.Generator) -> Repeat:
    """A copy inside a sequence of `n_tokens`: length uniform in [min_len, max_len] (capped at
    half the sequence), first copy's start uniform where both copies fit, second copy's start
    uniform anywhere after the first copy ends."""
    top = min(max_len, n_tokens // 2)
    if top < min_len or min_len < 1:
        raise ValueError(f"no copy of {min_len}..{max_len} tokens fits twice in {n_tokens} tokens")
    length = int(torch.randint(min_len, top + 1, (1,), generator=generator))
    first = int(torch.randint(0, n_tokens - 2 * length + 1, (1,), generator=generator))
    second = int(torch.randint(first + length, n_tokens - length + 1, (1,), generator=generator))
    return Repeat(first, second, length)


def plant(seq: Int[Tensor, " pos"], repeat: Repeat) -> None:
    """Write the copy into `seq` in place."""
    a, b, n = repeat.first, repeat.second, repeat.length
    seq[b : b + n] = seq[a : a + n].clone()


def plant_repeats(
    x: Int[Tensor, "batch pos"],
    y: Int[Tensor, "batch pos"],
    share: float,
    min_len: int,
    max_len: int,
    generator: torch.Generator,
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """A batch (x, y = x shifted by one) with a copy planted in about `share` of its windows.

    The copy is planted in the whole window of pos + 1 tokens, so y stays x shifted by one."""
    if share <= 0:
        return x, y
    full = torch.cat([x, y[:, -1:]], dim=1)  # [batch, pos + 1]
    chosen = torch.rand(x.shape[0], generator=generator) < share
    for row in chosen.nonzero()[:, 0].tolist():
        plant(full[row], draw_repeat(full.shape[1], min_len, max_len, generator))
    return full[:, :-1].contiguous(), full[:, 1:].contiguous()


def repeated_windows(
    tokens: np.ndarray,
    n_ctx: int,
    share: float,
    min_len: int,
    max_len: int,
    max_tokens: int | None = None,
    seed: int = 0,
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """Non-overlapping windows of `tokens` (its first max_tokens) with copies planted as training
    plants them, drawn from a fixed seed: the same held-out batches for every run and step."""
    if max_tokens is not None:
        tokens = tokens[: max_tokens + 1]
    n = (len(tokens) - 1) // n_ctx
    if n < 1:
        raise ValueError(f"{len(tokens)} tokens make no window of n_ctx={n_ctx} (+1)")
    starts = np.arange(n) * n_ctx
    index = starts[:, None] + np.arange(n_ctx + 1)
    full = torch.from_numpy(np.asarray(tokens)[index].astype(np.int64))
    x, y = full[:, :-1], full[:, 1:]
    return plant_repeats(x, y, share, min_len, max_len, torch.Generator().manual_seed(seed))


@torch.no_grad()
def mean_loss(
    model: nn.Module,
    x: Int[Tensor, "batch pos"],
    y: Int[Tensor, "batch pos"],
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> float:
    """Mean next-token loss over every target of (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, x.shape[0], batch_size):
        logits = model(x[i : i + batch_size].to(device)).float()
        target = y[i : i + batch_size].to(device)
        total += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum"
        ).item()
    model.train(was_training)
    return total / y.numel()


def holdout_loss(
    model: nn.Module,
    run: RunConfig,
    holdout: np.ndarray,
    max_tokens: int | None,
    device: str | torch.device = "cpu",
) -> float:
    """The recipe-selection loss on the held-out slice of the training split, read on windows of
    the distribution the run trains on: with repeat_share > 0 its copies are planted in the same
    share of the held-out windows (from a fixed seed), so a rate that never learns to copy is not
    chosen for plain-text loss alone. Without repeats it is the plain evaluation pass."""
    t, n_ctx = run.train, run.model.n_ctx
    if t.repeat_share <= 0:
        return evaluate(model, holdout, n_ctx, t.eval_batch_size, max_tokens, device).loss
    x, y = repeated_windows(
        holdout, n_ctx, t.repeat_share, t.repeat_min_len, t.repeat_max_len, max_tokens
    )
    return mean_loss(model, x, y, t.eval_batch_size, device)
