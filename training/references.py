"""Reference numbers every ablation result is read against.

- count models: unigram and bigram frequencies fitted on the tokens a run trained on, scored on
  the validation split (a transformer that does not beat the bigram has not learned to use context);
- the same weights with the causal mask flipped at inference (removed from a causal model: how much
  it would gain by peeking; put back into an unmasked one: how much it relied on the future);
- loss by position (from the evaluation's per-position curve): whether more context keeps helping.
"""

from __future__ import annotations

import math
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
    """Loss at position 2 minus the mean loss over the window's second half: how much the second
    half of the context still helps (positive = loss keeps falling with more context)."""
    if len(loss_by_position) < 8:
        return None
    half = loss_by_position[len(loss_by_position) // 2 :]
    return loss_by_position[2] - sum(half) / len(half)
