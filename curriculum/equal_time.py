"""Question 1 at equal training time: the LSTM against the baseline given the LSTM's time, read off
the records' curves and the side-by-side step timing the LSTM's record carries."""

from __future__ import annotations

from curriculum.evidence import Evidence, Finding
from training.suite_record import Spread, VariantRecord


def capped_points(record: VariantRecord) -> list[tuple[int, float]]:
    """(step, val_loss) of the evaluations made on the same slice: with an evaluation cap
    (eval_max_tokens), every evaluation but the last covers only the split's first characters and
    the last one the whole split, so that last one is left out; without a cap, all of them."""
    pts = [c for c in record.curve if "step" in c and "val_loss" in c]
    cap = record.config.get("train", {}).get("eval_max_tokens")
    if cap:
        if any("val_tokens" in c for c in pts):
            pts = [c for c in pts if c.get("val_tokens") == cap]
        else:  # older records: the final, whole-split evaluation is the last one
            pts = pts[:-1] if pts and pts[-1]["step"] == record.steps else pts
    return [(c["step"], c["val_loss"]) for c in pts]


def loss_at_step(record: VariantRecord, step: float) -> float | None:
    """The shipped seed's validation loss after `step` steps on one slice of the split (see
    `capped_points`), interpolated linearly between evaluations; None outside them."""
    pts = capped_points(record)
    if not pts or step < pts[0][0] or step > pts[-1][0]:
        return None
    for (s0, v0), (s1, v1) in zip(pts, pts[1:], strict=False):
        if s0 <= step <= s1:
            return v0 + (v1 - v0) * (step - s0) / max(s1 - s0, 1e-9)
    return pts[-1][1]


def equal_wall_clock(ev: Evidence) -> Finding | None:
    """The LSTM against the baseline given the LSTM's training time (one seed each: the shipped).

    Wall times that runs record are not comparable between runs (the baseline's runs took 243 s to
    769 s on the shared machine), so the time comes from the LSTM record's `speed`: both models'
    training steps timed side by side in one process. The baseline's curve is read at the step it
    reaches in the time the LSTM needs for its whole run."""
    lstm, base = ev.get("lstm"), ev.get("baseline")
    if lstm is None or base is None or not lstm.speed or not base.steps:
        return None
    per_step = lstm.speed.get("seconds_per_step", {})
    mine, t_lstm, t_base = (
        lstm.final.get("val_loss"),
        per_step.get("lstm"),
        per_step.get("baseline"),
    )
    if mine is None or not t_lstm or not t_base:
        return None
    step = lstm.steps * t_lstm / t_base
    cap = base.config.get("train", {}).get("eval_max_tokens")
    where = f"the first {cap:,} validation characters" if cap else "the validation split"
    timed = (
        f"At equal training time: timed side by side on one thread ({lstm.speed.get('device')}), "
        f"an LSTM step takes {1000 * t_lstm:.0f} ms and a baseline step {1000 * t_base:.0f} ms"
    )
    if step >= base.steps:  # the baseline's whole run fits in the LSTM's time
        at = base.final.get("val_loss")
        if at is None:
            return None
        sentence = (
            f"{timed}, so the baseline's whole {base.steps:,}-step run fits in the time of the "
            f"LSTM's {lstm.steps:,} steps; it ends at {at:.3f} nats/char against the LSTM's "
            f"{mine:.3f} (shipped seeds; one seed each, so no verdict)."
        )
    else:
        ours = capped_points(lstm)
        if not ours:
            return None
        last_step, mine = ours[-1]  # the LSTM on the same characters, at its last evaluation there
        step = last_step * t_lstm / t_base  # the baseline's steps in the LSTM's time to that point
        at = loss_at_step(base, step)
        if at is None:
            return None
        same = f"the LSTM's {mine:.3f} at its step {last_step:,}" + (
            f" (its last evaluation on those characters; its final loss on the whole split is "
            f"{lstm.final['val_loss']:.3f})"
            if last_step != lstm.steps and lstm.final.get("val_loss") is not None
            else ""
        )
        sentence = (
            f"{timed}, so in the time of the LSTM's {last_step:,} steps the baseline gets "
            f"through about {step:,.0f}, where it had reached {at:.3f} nats/char on {where}, "
            f"against {same}. One seed each (the shipped ones), so no verdict. That point is "
            f"read off the baseline's {base.steps:,}-step run, whose learning rate had not finished "
            "decaying there; a run planned for that many steps would end lower."
        )
    caveat = hardware_caveat(lstm.speed)
    return Finding(
        "val loss at equal wall-clock, lstm vs baseline",
        Spread(mine, None, 1),
        Spread(at, None, 1),
        None,
        sentence + (" " + caveat if caveat else ""),
        "lstm",
    )


def hardware_caveat(speed: dict) -> str:
    """What the equal-time reading cannot say where it was timed: on a CPU the transformer's
    positions share a few cores, so its advantage of computing them all at once barely shows."""
    device = str(speed.get("device", ""))
    if not device.startswith("cpu"):
        return ""
    return (
        f"That timing is a CPU's ({device}) and says nothing of other hardware: on a GPU a "
        "transformer block computes every position at once, a sequential depth of O(1) in the "
        "sequence length, while the LSTM still steps through the positions one after another, "
        "so the ranking at equal time may reverse there."
    )
