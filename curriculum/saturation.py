"""Question 2's saturation check: does leaving out 1/√d_head push the trained model's softmax
towards one-hot? Read from the attention health each evaluation recorded (shipped seeds)."""

from __future__ import annotations

from dataclasses import dataclass

from curriculum.evidence import Evidence, Finding
from curriculum.series import health
from training.suite_record import Spread
from training.verdict import judge

UNSCALED = "dot_unscaled"


def saturation(ev: Evidence, name: str = UNSCALED, other: str = "baseline") -> Finding | None:
    a, b = health(ev, name), health(ev, other)
    if a is None or b is None:
        return None
    a_max, b_max = max(a.max_logit[-1]), max(b.max_logit[-1])
    a_ent = sum(a.entropy[-1]) / len(a.entropy[-1])
    b_ent = sum(b.entropy[-1]) / len(b.entropy[-1])
    if a_ent < 0.5 * b_ent:
        reading = "its attention is much more peaked than the baseline's (under half its entropy)"
    elif a_ent > 2 * b_ent:
        reading = "its attention is much flatter than the baseline's (over twice its entropy)"
    else:
        reading = (
            "its attention entropy stays within a factor of two of the baseline's: no saturation"
        )
    sentence = (
        f"At the last evaluation, the largest score reaching the softmax is {a_max:.1f} in "
        f"**{name}** against {b_max:.1f} in **{other}**, and the mean attention entropy "
        f"{a_ent:.2f} against {b_ent:.2f} nats (uniform attention over the window: "
        f"{a.uniform_entropy:.2f}); {reading}. One seed each (the shipped one), so no verdict."
    )
    return Finding(
        f"attention entropy, {name} vs {other} (shipped seeds)",
        Spread(a_ent, None, 1),
        Spread(b_ent, None, 1),
        None,
        sentence,
        name,
        "neither",
    )


@dataclass(frozen=True)
class UnscaledOutcome:
    """What the trained unscaled model did with its saturated softmax, from its record."""

    peak: float  # the largest score that reached the softmax at any evaluation (shipped seed)
    peak_layer: int
    peak_step: int
    final: float  # the largest at the last evaluation
    loss: Spread  # validation loss over seeds
    baseline: Spread
    bigram: float  # the count bigram's loss: below it, the model uses more than one token back
    beats_bigram: bool  # clearly below the bigram by the verdict rule


def unscaled_outcome(ev: Evidence, name: str = UNSCALED) -> UnscaledOutcome | None:
    r, b, h = ev.get(name), ev.get("baseline"), health(ev, name)
    if r is None or b is None or h is None or not r.references:
        return None
    loss, base = r.spread.get("val_loss"), b.spread.get("val_loss")
    bigram = r.references.get("bigram_loss")
    if loss is None or loss.mean is None or base is None or base.mean is None or bigram is None:
        return None
    peak, layer, step = max(
        ((v, i, s) for s, row in zip(h.steps, h.max_logit, strict=True) for i, v in enumerate(row)),
        key=lambda t: t[0],  # the first evaluation to reach it
    )
    v = judge(loss, Spread(bigram, 0.0, 1))
    return UnscaledOutcome(
        peak,
        layer,
        step,
        max(h.max_logit[-1]),
        loss,
        base,
        bigram,
        v is not None and v.label == "lower",
    )
