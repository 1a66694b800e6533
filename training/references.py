"""Reference numbers every ablation result is read against.

- count models: unigram and bigram frequencies fitted on the tokens a run trained on, scored on
  the validation split (a transformer that does not beat the bigram has not learned to use context);
- the same weights with the causal mask flipped at inference. Removed from a causal model, it
  feeds the model an input it never saw in training (later positions in view): the loss rises,
  often above the unigram's, which measures how much the weights depend on the mask, not what
  peeking could gain. Put back into an unmasked model, it shows how much that model relied on
  the future (often worse than uniform guessing);
- loss by position (from the evaluation's per-position curve): where, within the window, more
  context stops helping (`far_reading`: does it still fall past a quarter of the window?).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from model.build import LanguageModel, build_model

# additive smoothing for the bigram table, chosen per run on the held-out training slice
BIGRAM_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0)


@dataclass(frozen=True)
class CountReferences:
    unigram_loss: float  # nats per token on the scored split
    bigram_loss: float
    bigram_alpha: float  # the smoothing the held-out slice chose
    n_tokens: int  # targets scored

    def bpc(self, loss: float, n_chars: int) -> float:
        """Bits per character for a loss in nats per token over this split."""
        return loss * self.n_tokens / (n_chars * math.log(2))


def _unigram_logp(train: np.ndarray, vocab: int) -> np.ndarray:
    counts = np.bincount(train, minlength=vocab).astype(np.float64) + 1.0  # Laplace
    return np.log(counts / counts.sum())


def _bigram_logp(train: np.ndarray, vocab: int, alpha: float) -> np.ndarray:
    """[prev, next] log-probabilities: counts + alpha, normalised per row."""
    table = np.zeros((vocab, vocab), dtype=np.float64)
    np.add.at(table, (train[:-1], train[1:]), 1.0)
    table += alpha
    return np.log(table / table.sum(axis=1, keepdims=True))


def _score_bigram(logp: np.ndarray, tokens: np.ndarray) -> float:
    return float(-logp[tokens[:-1], tokens[1:]].mean())


def count_references(
    train: np.ndarray, held_out: np.ndarray | None, scored: np.ndarray, vocab: int
) -> CountReferences:
    """Unigram and bigram count models fitted on `train`, scored on every target of `scored` but
    its first (which has no predecessor). The bigram's smoothing is chosen on `held_out` (the
    train split's held-out slice), or is 0.01 when there is none."""
    train = train.astype(np.int64)
    scored = scored.astype(np.int64)
    alpha = 1e-2
    if held_out is not None and len(held_out) > 1:
        ho = held_out.astype(np.int64)
        alpha = min(BIGRAM_ALPHAS, key=lambda a: _score_bigram(_bigram_logp(train, vocab, a), ho))
    uni = _unigram_logp(train, vocab)
    return CountReferences(
        unigram_loss=float(-uni[scored[1:]].mean()),
        bigram_loss=_score_bigram(_bigram_logp(train, vocab, alpha), scored),
        bigram_alpha=alpha,
        n_tokens=len(scored) - 1,
    )


def with_causal_mask(model: LanguageModel, causal: bool) -> LanguageModel:
    """The same weights with the causal mask on or off (the mask has no parameters). Switches can
    only remove a mask at inference; putting one back into a model trained without it needs this."""
    twin = build_model(model.cfg.replace(causal_mask=causal))
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def context_gain(loss_by_position: list[float]) -> float | None:
    """Loss at position 2 minus the mean loss over the window's second half (the suite's measure
    of using context): how much lower the loss is once half a window of context is there than
    with two characters of it. It says nothing of *where* the loss fell: most of it can be earned
    in the first dozens of positions (`range_means` shows where)."""
    if len(loss_by_position) < 8:
        return None
    half = loss_by_position[len(loss_by_position) // 2 :]
    return loss_by_position[2] - sum(half) / len(half)


def position_ranges(n_ctx: int) -> list[tuple[int, int]]:
    """[first, last] position ranges for reading a loss-by-position curve: 0, 1, 2 alone, then
    doubling ranges up to a quarter of the window, then its second, third and last quarters (for 128:
    3-7, 8-15, 16-31, 32-63, 64-95, 96-127)."""
    edges = {0, 1, 2, 3, n_ctx // 2, 3 * n_ctx // 4, n_ctx}
    edges |= {1 << k for k in range(3, n_ctx.bit_length()) if (1 << k) <= n_ctx // 4}
    cuts = sorted(e for e in edges if 0 <= e <= n_ctx)
    return [(a, b - 1) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def range_means(loss_by_position: list[float]) -> list[float]:
    """Mean loss over each of `position_ranges` of the curve's length."""
    return [
        sum(loss_by_position[a : b + 1]) / (b + 1 - a)
        for a, b in position_ranges(len(loss_by_position))
    ]


BLOCK = 8  # positions per block when reading the far part of a loss-by-position curve


@dataclass(frozen=True)
class FarReading:
    """Whether a loss-by-position curve still falls past a quarter of the window: its mean over
    the second half against its mean over the second quarter, beside how much BLOCK-position
    blocks there vary (block-to-block steps: blind to a smooth trend, which is what is asked
    about, not to the ups and downs of the text scored at each position)."""

    quarter: int  # first position of the second quarter
    half: int  # first position of the second half
    second_quarter: float
    second_half: float
    wobble: float  # std of one block about its neighbours
    block: int = BLOCK  # positions per block

    @property
    def change(self) -> float:
        return self.second_half - self.second_quarter

    @property
    def still_falls(self) -> bool:
        return self.change < -2 * self.wobble


def far_reading(curve: list[float], block: int = BLOCK) -> FarReading | None:
    """FarReading of a curve of at least 8 BLOCKs, with the ups and downs read over `block`
    positions (a curve averaged over window offsets n_ctx/K apart repeats what is left of the
    text every n_ctx/K positions: read it in blocks of that width, or the wobble measures a
    pattern that cancels in the comparison); None for a curve too short for 4 blocks past q.

    `still_falls` asks for a fall of twice the wobble: with independent blocks about three
    standard errors of the change, a conservative bar."""
    n = len(curve)
    q, h = n // 4, n // 2
    if n < 8 * BLOCK or (n - q) // block < 4:
        return None
    blocks = [statistics.fmean(curve[i : i + block]) for i in range(q, n - block + 1, block)]
    steps = [b - a for a, b in zip(blocks, blocks[1:], strict=False)]
    return FarReading(
        quarter=q,
        half=h,
        second_quarter=statistics.fmean(curve[q:h]),
        second_half=statistics.fmean(curve[h:]),
        wobble=statistics.stdev(steps) / math.sqrt(2),
        block=block,
    )
