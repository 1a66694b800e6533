"""docs/methodology.md's reading of the warmup probes: single-seed runs at other warmups against the seeds
at the suite's own, by the one verdict rule (training/verdict.py). The probes are outside the
records (that page's warmup table); the seeds' spread is the record's."""

from __future__ import annotations

from collections.abc import Mapping

from training.suite_record import Spread
from training.verdict import CLEAR, judge

WORDS = {2: "two", 3: "three", 4: "four"}


def warmup_reading(name: str, probes: Mapping[int, float], suite: int, seeds: Spread) -> str:
    """probes: warmup steps -> held-out loss of one seed; seeds: the held-out loss over the
    suite's seeds at its own warmup (`suite` steps)."""
    if seeds.mean is None or seeds.std is None:
        raise ValueError("warmup_reading needs the suite seeds' mean and std")
    others = sorted(w for w in probes if w != suite)
    verdicts = {w: judge(Spread(probes[w], 0.0, 1), seeds) for w in others}
    losses = " and ".join(f"{probes[w]:.3f}" for w in others)
    deltas = " and ".join(f"{v.delta:+.3f}" for v in verdicts.values())
    steps = " and ".join(str(w) for w in others)
    where = (
        f"{steps} steps (one seed each, {losses}) sit {deltas} from the {suite}-step seeds' "
        f"{seeds.mean:.3f} ± {seeds.std:.3f}"
    )
    if all(v.label == "no clear difference" for v in verdicts.values()):
        return (
            f"For the {name} the {WORDS.get(len(probes), str(len(probes)))} warmups cannot be told apart: {where}, inside "
            f"twice their std ({CLEAR * seeds.std:.3f})."
        )
    clear = [
        f"{w} steps is {'better' if v.label == 'lower' else 'worse'}"
        for w, v in verdicts.items()
        if v.clear
    ]
    return (
        f"For the {name}, {' and '.join(clear)} than the suite's {suite}: {where}, against twice "
        f"their std ({CLEAR * seeds.std:.3f})."
    )
