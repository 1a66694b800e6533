"""The mask from the records: the reversal task with and without it, and the language model
trained without it (as trained, with the mask put back, its attention on the future, its text)."""

from __future__ import annotations

from curriculum import answers
from curriculum.evidence import Evidence
from curriculum.mask import MASKED_REV, UNMASKED_LM, UNMASKED_REV, future_share, mask_headline
from training.suite_record import Spread
from views.curriculum_section import Chart, Section, make_section, suite_facts
from views.curriculum_text import setup
from viz.curriculum import layer_head_map, reversal_chart, spread_bars


def _flip(ev: Evidence) -> Spread | None:
    r = ev.get(UNMASKED_LM)
    if r is None or not r.mask_flip:
        return None
    s = r.mask_flip["spread"]
    return s if isinstance(s, Spread) else Spread(**s)


def build(ev: Evidence) -> Section:
    charts: list[Chart | None] = []
    revs = {n: r.reversal for n in (MASKED_REV, UNMASKED_REV) if (r := ev.get(n)) and r.reversal}
    if revs:
        first = next(iter(revs.values()))
        charts.append(
            Chart(
                reversal_chart(
                    {
                        n: v["accuracy_per_position"]
                        for n, v in revs.items()
                        if v["length"] == first["length"]
                    },
                    first["length"],
                    first["chance"],
                ),
                "Shipped seeds.",
            )
        )
    losses = {
        label: (sp.mean, sp.std or 0.0)
        for label, sp in (
            ("baseline", ev.get("baseline") and ev.get("baseline").spread.get("val_loss")),
            (
                f"{UNMASKED_LM}, as trained",
                ev.get(UNMASKED_LM) and ev.get(UNMASKED_LM).spread.get("val_loss"),
            ),
            (f"{UNMASKED_LM}, mask put back", _flip(ev)),
        )
        if sp is not None and sp.mean is not None
    }
    if len(losses) > 1:
        fig = spread_bars(
            losses,
            title="Validation loss with and without seeing ahead",
            y_title="nats/char",
            reference="baseline",
        )
        charts.append(
            Chart(fig, "Mean ± std over seeds; the same weights evaluated with the mask.")
        )
    for n in (UNMASKED_REV, UNMASKED_LM):
        share = future_share(ev, n)
        if share is not None:
            charts.append(
                Chart(
                    layer_head_map(
                        share,
                        title=f"{n}: share of attention on later positions",
                        value_name="share",
                        zmax=1.0,
                    ),
                    "Shipped seed.",
                )
            )
    notes = []
    for n in ("baseline", UNMASKED_LM) if UNMASKED_LM in ev.records else ():
        r = ev.get(n)
        if r is not None and r.samples:
            s = r.samples[0]
            notes.append(
                f"**{n}**, generated from {s['prompt']!r}:\n\n```\n{s['prompt']}{s['text']}\n```"
            )
    experiment = (
        "Reversal: a random sequence, a separator, then the sequence reversed; the first half "
        "cannot be predicted from the past, so a masked model can do no better than chance there. The same "
        "task without the mask, and the baseline language model trained without its mask: its "
        "loss as trained, and with the mask put back. " + setup(suite_facts(ev))
    )
    return make_section(
        "mask", ev, answers.mask(ev), experiment, charts, notes=notes, headline=mask_headline(ev)
    )
