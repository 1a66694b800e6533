"""Series the figures draw, read from records: loss by position over seeds, and the attention's
health per layer over training (recorded at every evaluation on a fixed batch of training text)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from curriculum.evidence import Evidence


@dataclass(frozen=True)
class PositionLoss:
    mean: list[float]  # validation loss at each position of the window, mean over seeds
    std: list[float]  # sample std over seeds (0 with one seed)
    n: int  # seeds


def loss_by_position(ev: Evidence, name: str) -> PositionLoss | None:
    r = ev.get(name)
    if r is None:
        return None
    rows = [s.loss_by_position for s in r.seeds if s.status == "completed" and s.loss_by_position]
    if not rows or len({len(x) for x in rows}) != 1:
        return None
    cols = list(zip(*rows, strict=True))
    mean = [statistics.fmean(c) for c in cols]
    std = [statistics.stdev(c) if len(c) > 1 else 0.0 for c in cols]
    return PositionLoss(mean, std, len(rows))


@dataclass(frozen=True)
class Health:
    """The shipped seed's attention at each evaluation, per layer."""

    steps: list[int]
    entropy: list[list[float]]  # [eval][layer], nats
    max_logit: list[list[float]]  # [eval][layer]: largest score that reaches the softmax
    n_ctx: int

    @property
    def uniform_entropy(self) -> float:
        """Mean entropy of uniform causal attention over a full window: query i sees i+1 keys."""
        return statistics.fmean(math.log(i + 1) for i in range(self.n_ctx))


def health(ev: Evidence, name: str) -> Health | None:
    r = ev.get(name)
    if r is None:
        return None
    pts = [c for c in r.curve if "attn_entropy" in c and "attn_max_logit" in c and "step" in c]
    if not pts:
        return None
    return Health(
        [int(c["step"]) for c in pts],
        [list(c["attn_entropy"]) for c in pts],
        [list(c["attn_max_logit"]) for c in pts],
        int(r.model_config.get("n_ctx", 1)),
    )
