"""Where a phase change happens in a training run, found by a stated rule rather than by eye.

Olsson et al. (2022) see induction heads form in a sudden "phase change": the loss on text that
can be copied from context falls steeply over a short stretch of training while an induction head
appears. `phase_change` locates it in measurements taken at a run's (log-spaced) steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_FALL = 0.2  # nats per token: a smaller sharpest fall is no phase change
MIN_SHARE = 0.3  # of the whole fall: a sharpest fall holding less of it is a gradual ramp
MIN_RISE = 0.1  # induction score: a smaller rise over the same range is no rise


@dataclass(frozen=True)
class PhaseChange:
    found: bool
    start: int | None  # the measurement step before the sharpest fall
    end: int | None  # the measurement step after it
    fall: float  # the sharpest fall between consecutive measurements (nats per token)
    total_fall: float  # from the first measurement to the lowest
    score_before: float | None  # best induction score at `start` and `end`
    score_after: float | None
    score_rises: bool | None  # whether it rose by at least MIN_RISE over [start, end]
    reason: str

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def phase_change(
    steps: Sequence[int],
    copy_loss: Sequence[float],
    best_score: Sequence[float] | None = None,
    *,
    min_fall: float = MIN_FALL,
    min_share: float = MIN_SHARE,
    min_rise: float = MIN_RISE,
) -> PhaseChange:
    """The step range of the sharpest fall of `copy_loss` between consecutive measurements.

    `copy_loss` is the curve the rule reads: the experiment passes the held-out second copy's loss
    minus the first copy's, so the n-gram learning that lowers both copies alike early in training
    is not taken for copying. A phase change is found when the sharpest fall between two
    consecutive measurement steps is at least `min_fall` (0.2 nats/token) and holds at least
    `min_share` (30%) of the curve's whole fall (first value to lowest); a steady ramp spreads
    its fall over many intervals and is reported as none. `best_score` (the largest induction
    score of any head at each step) then says whether the head rose by at least `min_rise` (0.1)
    over the same range. Measurements that are not finite are skipped.
    """
    if len(steps) != len(copy_loss) or (best_score is not None and len(best_score) != len(steps)):
        raise ValueError("steps, copy_loss and best_score must be the same length")
    keep = [i for i in range(len(steps)) if math.isfinite(copy_loss[i])]
    if any(steps[a] >= steps[b] for a, b in zip(keep, keep[1:], strict=False)):
        raise ValueError("steps must increase")
    if len(keep) < 2:
        return PhaseChange(
            False, None, None, 0.0, 0.0, None, None, None, "fewer than 2 measurements"
        )
    falls = [(copy_loss[a] - copy_loss[b], a, b) for a, b in zip(keep, keep[1:], strict=False)]
    fall, a, b = max(falls, key=lambda f: f[0])
    total = copy_loss[keep[0]] - min(copy_loss[i] for i in keep)
    before = after = None
    rises = None
    if best_score is not None:
        before, after = float(best_score[a]), float(best_score[b])
        rises = after - before >= min_rise
    if fall < min_fall:
        why = f"sharpest fall {fall:.3f} < {min_fall} nats/token"
        return PhaseChange(False, None, None, fall, total, None, None, None, why)
    if fall < min_share * total:
        why = f"sharpest fall {fall:.3f} is {fall / total:.0%} of the whole fall {total:.3f} (< {min_share:.0%}): a ramp"
        return PhaseChange(False, None, None, fall, total, None, None, None, why)
    why = f"fall {fall:.3f} nats/token between steps {steps[a]} and {steps[b]}"
    return PhaseChange(True, steps[a], steps[b], fall, total, before, after, rises, why)
