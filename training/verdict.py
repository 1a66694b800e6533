"""A value's spread over seeds, and one rule for reading a difference between two spreads, used by
the results table and the Curriculum page alike: a difference smaller than twice the larger
standard deviation is "no clear difference", one under three times it is clear but marginal;
without a spread on both sides there is no verdict at all."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal, Protocol

Label = Literal["lower", "higher", "no clear difference", "no spread"]
CLEAR = 2.0  # a difference is clear beyond this many times the larger standard deviation
MARGINAL = 3.0  # and marginal under this many


@dataclass
class Spread:
    mean: float | None
    std: float | None  # sample standard deviation over seeds (ddof 1); None with fewer than 2
    n: int  # seeds with a finite value

    @classmethod
    def of(cls, values: list[float | None]) -> Spread:
        xs = [v for v in values if v is not None and math.isfinite(v)]
        return cls(
            statistics.fmean(xs) if xs else None,
            statistics.stdev(xs) if len(xs) > 1 else None,
            len(xs),
        )

    def text(self, digits: int = 3, *, say_one_seed: bool = False) -> str:
        """'1.861 ± 0.020'; the mean alone without a spread ('(1 seed)' after it if asked)."""
        if self.mean is None:
            return "–"
        if self.std is None:
            one = " (1 seed)" if say_one_seed and self.n == 1 else ""
            return f"{self.mean:.{digits}f}{one}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


class SpreadLike(Protocol):
    mean: float | None
    std: float | None
    n: int


@dataclass(frozen=True)
class Verdict:
    delta: float  # a.mean - b.mean
    noise: float  # the larger standard deviation (0 when a side has none)
    label: Label

    @property
    def clear(self) -> bool:
        return self.label in ("lower", "higher")

    @property
    def marginal(self) -> bool:
        """Clear, but under three times the noise: a headline and a detail both say so."""
        return self.clear and abs(self.delta) < MARGINAL * self.noise

    def text(self, digits: int = 3) -> str:
        if self.label == "no clear difference":
            return f"no clear difference ({self.delta:+.{digits}f})"
        if self.label == "no spread":
            return f"{self.delta:+.{digits}f} (no spread)"
        return f"{self.delta:+.{digits}f}"


def judge(a: SpreadLike | None, b: SpreadLike | None, text_se: float = 0.0) -> Verdict | None:
    """a compared with b; None when either has no mean. text_se: a standard error from the text
    both were scored on (which the seeds share, so their spread leaves it out); the noise is the
    larger of it and the seed stds."""
    if a is None or b is None or a.mean is None or b.mean is None:
        return None
    delta = a.mean - b.mean
    if a.std is None or b.std is None:
        return Verdict(delta, 0.0, "no spread")
    noise = max(a.std, b.std, text_se)
    if (
        abs(delta) < CLEAR * noise or delta == 0
    ):  # an exact tie is no difference, even without spread
        return Verdict(delta, noise, "no clear difference")
    return Verdict(delta, noise, "lower" if delta < 0 else "higher")
