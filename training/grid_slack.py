"""How much a finer learning-rate grid might still buy a variant: a parabola in log(lr) through
its chosen rung and the rung on each side of it, fitted to their held-out losses.

Every variant is compared at a rung of one shared ladder (rungs about 3x apart). A variant whose
best rate falls between two rungs is compared slightly short of its optimum; were that shortfall
as large as its difference from the baseline, the verdict could be the grid's rather than the
switch's. Near its optimum, held-out loss is close to quadratic in log(lr), which is what the fit
assumes; its minimum is an estimate, not a bound, and it is only looked for between the two outer
rungs (never extrapolated). A chosen rung at the end of what was tried has no estimate, and
neither has one whose neighbour did not train (diverged, or no better than a count reference:
a plateau is not the side of a parabola, and fitting one through it invents a deep minimum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class GridPoint(Protocol):
    point: str  # "lr=0.003"
    status: str
    holdout_loss: float | None


@dataclass(frozen=True)
class FinerGrid:
    lr: float  # where the parabola is lowest, between the outer rungs
    loss: float  # its held-out loss there
    slack: float  # the chosen rung's held-out loss minus that (>= 0): what a finer grid might buy


def lr_of(point: str) -> float | None:
    """The learning rate of a one-axis grid point label, else None."""
    axis, _, value = point.partition("=")
    if axis != "lr" or "," in value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def finer_grid(
    grid: Sequence[GridPoint], chosen: str, trained_below: float = math.inf
) -> FinerGrid | None:
    """The parabola's minimum around the chosen rung; None unless the rung on each side of it
    trained (finished with a held-out loss below `trained_below`, e.g. the count bigram's)."""
    rungs = sorted(
        (
            (lr, g.holdout_loss if g.status == "completed" else None)
            for g in grid
            if (lr := lr_of(g.point)) is not None and lr > 0
        ),
        key=lambda rung: rung[0],
    )
    if len({lr for lr, _ in rungs}) != len(rungs):
        return None  # a rate tried twice: no single curve to fit
    best = lr_of(chosen)
    at = [i for i, (lr, _) in enumerate(rungs) if lr == best]
    if not at or at[0] == 0 or at[0] == len(rungs) - 1:
        return None
    three = rungs[at[0] - 1 : at[0] + 2]
    if any(y is None or not math.isfinite(y) or y >= trained_below for _, y in three):
        return None
    (x0, y0), (x1, y1), (x2, y2) = ((math.log(lr), float(y)) for lr, y in three)  # type: ignore[arg-type]
    # y = a x^2 + b x + c through the three points (divided differences)
    d01, d12 = (y1 - y0) / (x1 - x0), (y2 - y1) / (x2 - x1)
    a = (d12 - d01) / (x2 - x0)
    b = d01 - a * (x0 + x1)
    if a <= 0:  # not convex: nothing between the rungs is estimated lower than the chosen one
        return FinerGrid(math.exp(x1), y1, 0.0)
    x = min(max(-b / (2 * a), x0), x2)
    y = y1 + (x - x1) * (d01 + a * (x - x0))  # the same parabola, in Newton form at x
    return FinerGrid(math.exp(x), y, max(y1 - y, 0.0))
