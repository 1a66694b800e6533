"""Question 2 from the records: score functions, the d_head sweep, and the unscaled model's
attention health over training."""

from __future__ import annotations

from curriculum import evidence as E
from curriculum.evidence import Evidence
from curriculum.series import health
from views.curriculum_section import Chart, Section, bars, make_section, suite_facts
from views.curriculum_text import setup
from viz.curriculum import band_lines, health_chart


def build(ev: Evidence) -> Section:
    fams = E.d_head_curve(ev)
    charts: list[Chart | None] = [
        bars(
            ev,
            ["baseline", "dot_unscaled", "cosine", "additive"],
            "Validation loss by score function",
        )
    ]
    series = {
        f: ([p.val_loss.mean for p in pts], [p.val_loss.std or 0.0 for p in pts])
        for f, pts in fams.items()
        if len(pts) > 1
    }
    if series:
        xs = sorted({p.d_head for pts in fams.values() for p in pts})
        aligned = {
            f: (
                [
                    dict(zip([p.d_head for p in fams[f]], m, strict=True)).get(x, float("nan"))
                    for x in xs
                ],
                [dict(zip([p.d_head for p in fams[f]], s, strict=True)).get(x, 0.0) for x in xs],
            )
            for f, (m, s) in series.items()
        }
        charts.append(
            Chart(
                band_lines(
                    aligned,
                    xs,
                    title="The d_head sweep",
                    x_title="d_head",
                    y_title="val loss (nats/char)",
                    log_x=True,
                )
            )
        )
    hs = {n: h for n in ("baseline", "dot_unscaled") if (h := health(ev, n)) is not None}
    if hs:
        charts.append(
            Chart(
                health_chart({n: (h.steps, h.entropy, h.max_logit) for n, h in hs.items()}),
                "Shipped seed; measured at every evaluation on a fixed batch of training text.",
            )
        )
    experiment = (
        "The baseline scores q·k/√d_head. Variants drop the scale, use cosine similarity with a "
        "learned temperature, or an additive score; a sweep changes d_head with the head count "
        "fixed, and with n_heads × d_head fixed. " + setup(suite_facts())
    )
    return make_section("Q2", ev, E.q2(ev), experiment, charts)
