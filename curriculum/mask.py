"""The mask: what a model learns when it may look ahead. Two experiments, both in the suite: the
reversal task (the first half of a random sequence is unpredictable from the past) and the
language model trained without the mask (its loss as trained, and with the mask put back)."""

from __future__ import annotations

import numpy as np

from curriculum.evidence import Evidence, Finding, compare, versus
from training.suite_record import Spread

UNMASKED_LM, MASKED_REV, UNMASKED_REV = "no_causal_mask", "reversal_masked", "reversal_unmasked"


def future_share(ev: Evidence, name: str) -> np.ndarray | None:
    """[layer, head]: share of attention on later positions (shipped seed, fixed batch)."""
    r = ev.get(name)
    values = r.probe.get("future_attention") if r is not None else None
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr if arr.ndim == 2 and arr.size and np.isfinite(arr).all() else None


def _future_sentence(ev: Evidence, name: str) -> Finding | None:
    share = future_share(ev, name)
    if share is None:
        return None
    layer, head = np.unravel_index(int(np.argmax(share)), share.shape)
    sentence = (
        f"In **{name}** (shipped seed, a fixed batch), {share.mean():.0%} of all attention lands on "
        f"later positions, up to {share.max():.0%} in head L{layer}.H{head}."
    )
    return Finding(
        f"attention on future positions, {name}",
        Spread(float(share.mean()), None, 1),
        None,
        None,
        sentence,
        name,
        "neither",
    )


def mask_put_back(ev: Evidence) -> Finding | None:
    r, b = ev.get(UNMASKED_LM), ev.get("baseline")
    if r is None or b is None or not r.mask_flip:
        return None
    back = r.mask_flip["spread"]
    back = back if isinstance(back, Spread) else Spread(**back)
    base = b.spread.get("val_loss")
    if back.mean is None or base is None or base.mean is None:
        return None
    f = compare(
        "val loss, the mask put back", UNMASKED_LM, back, "baseline", base, unit="nats/char"
    )
    reading = {
        "worse": "without the future it predicts worse than a model trained causally: what it "
        "learned depends on seeing ahead",
        "same": "it did not come to depend on the future",
        "better": "with the mask back it is even better than the causal baseline",
        "unknown": "too few seeds to say whether it depends on seeing ahead",
    }[f.standing]
    return Finding(
        f.what,
        f.a,
        f.b,
        f.verdict,
        f"Mask put back: {f.sentence}; {reading}.",
        UNMASKED_LM,
        "lower",
    )


def _leaky(ev: Evidence) -> Finding | None:
    f = versus(ev, UNMASKED_LM, better="neither")
    if f is None or f.verdict is None:
        return f
    reading = {
        "lower": "seeing the whole window, it reaches a loss the causal model does not",
        "higher": "even with the future in view, its loss is higher than the causal model's",
        "no clear difference": "seeing the future bought it no clear advantage",
        "no spread": "too few seeds for a verdict",
    }[f.verdict.label]
    return Finding(
        f.what, f.a, f.b, f.verdict, f"As trained: {f.sentence}; {reading}.", UNMASKED_LM, "neither"
    )


def reversal(ev: Evidence) -> list[Finding]:
    m, u = ev.get(MASKED_REV), ev.get(UNMASKED_REV)
    if m is None or u is None:
        return []
    chance = (m.reversal or {}).get("chance")
    out = []
    for half, what in (("first", "the random first half"), ("second", "the reversed second half")):
        key = f"{half}_half_accuracy"
        su, sm = u.spread.get(key), m.spread.get(key)
        if su is None or su.mean is None or sm is None or sm.mean is None:
            continue
        f = compare(
            f"accuracy on {what}", UNMASKED_REV, su, MASKED_REV, sm, unit="", better="neither"
        )
        note = f" (chance {chance:.3f})" if isinstance(chance, float) and half == "first" else ""
        out.append(Finding(f.what, f.a, f.b, f.verdict, f.sentence + note, UNMASKED_REV, "neither"))
    return out


def mask_findings(ev: Evidence) -> list[Finding | None]:
    return [
        *reversal(ev),
        _future_sentence(ev, UNMASKED_REV),
        _leaky(ev),
        mask_put_back(ev),
        _future_sentence(ev, UNMASKED_LM),
    ]


def mask_headline(ev: Evidence) -> str:
    """The mask in plain words, from the same verdicts as the findings."""
    parts = []
    rev = {f.what: f for f in reversal(ev)}
    first = next((f for w, f in rev.items() if "first half" in w), None)
    if first is not None and first.verdict is not None:
        parts.append(
            "on the reversal task, the unmasked model "
            + {
                "higher": "clearly predicts the random first half better than the masked one, "
                "which it can only do by reading later positions",
                "lower": "predicts the random first half clearly worse than the masked one",
                "no clear difference": "shows no clear difference on the random first half",
                "no spread": "has too few seeds for a verdict on the first half",
            }[first.verdict.label]
        )
    back = mask_put_back(ev)
    if back is not None:
        parts.append(
            "the language model trained without the mask "
            + {
                "worse": "does clearly worse than the causal baseline once the mask is put back",
                "same": "shows no clear difference from the causal baseline once the mask is put back",
                "better": "does clearly better than the causal baseline even with the mask put back",
                "unknown": "has too few seeds for a verdict with the mask put back",
            }[back.standing]
        )
    if not parts:
        return ""
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]
