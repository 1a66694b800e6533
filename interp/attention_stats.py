"""Numpy summaries of attention patterns: how spread out each query's attention is, and how much
of it lands on the future.

Pure numpy: leading axes are kept, so the same call works on one head [q_pos, k_pos], on a layer
[head, q_pos, k_pos] or on a whole model [layer, head, q_pos, k_pos]. Training's probes, the
Curriculum's measurements and the app's Entropy view all read them from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float


def _pattern(pattern: np.ndarray, where: str) -> np.ndarray:
    p = np.asarray(pattern, dtype=np.float64)
    if p.ndim < 2 or p.shape[-1] == 0 or p.shape[-2] == 0:
        raise ValueError(f"{where}: pattern must be [..., q_pos, k_pos], got shape {p.shape}")
    if p.shape[-2] > p.shape[-1]:
        raise ValueError(
            f"{where}: q_pos={p.shape[-2]} > k_pos={p.shape[-1]}; queries must be the last "
            "q_pos of the k_pos positions"
        )
    return p


def attention_entropy(
    pattern: Float[np.ndarray, "... q_pos k_pos"],
) -> Float[np.ndarray, "..."]:
    """Entropy in bits of each query's attention row, averaged over q_pos.

    0 bits: every query looks at exactly one key. log2(n) bits: a query spreads evenly over n keys;
    under a causal mask query i can see only i + 1 keys, so a "uniform" causal head scores the mean
    of log2(i + 1), not log2(k_pos). 0 * log 0 is taken as 0.
    """
    p = _pattern(pattern, "attention_entropy")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return terms.sum(axis=-1).mean(axis=-1)


def future_attention_fraction(
    pattern: Float[np.ndarray, "... q_pos k_pos"],
) -> Float[np.ndarray, "..."]:
    """Share of all attention mass that lands on keys after their query (0 under a causal mask).

    Non-zero values show a head reading the future once the mask is switched off; with rows that
    sum to 1 this equals the mean over queries of each row's future share. When q_pos < k_pos the
    queries are taken to be the last q_pos positions (as with a KV cache).
    """
    p = _pattern(pattern, "future_attention_fraction")
    n_q, n_k = p.shape[-2:]
    offset = n_k - n_q
    future = np.arange(n_k)[None, :] > (np.arange(n_q)[:, None] + offset)  # [q_pos, k_pos]
    total = p.sum(axis=(-2, -1))
    ahead = np.where(future, p, 0.0).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, ahead / total, 0.0)


def uniform_entropy(n_pos: int, *, causal: bool = True) -> float:
    """Bits of `attention_entropy` for a head that spreads evenly over every key it may see.

    Causal: query i sees i + 1 keys, so the ceiling is the mean of log2(i + 1), below log2(n_pos).
    """
    if n_pos < 1:
        raise ValueError(f"uniform_entropy: n_pos must be >= 1, got {n_pos}")
    if not causal:
        return float(np.log2(n_pos))
    return float(np.log2(np.arange(1, n_pos + 1)).mean())
