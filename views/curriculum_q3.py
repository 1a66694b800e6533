"""Question 3 from the records: shared against separate layers at equal steps and at equal
parameters."""

from __future__ import annotations

from curriculum import answers
from curriculum import evidence as E
from curriculum.evidence import Evidence
from views.curriculum_section import Chart, Section, make_section, suite_facts
from views.curriculum_text import setup
from viz.curriculum import params_scatter


def build(ev: Evidence) -> Section:
    names = E.needed("Q3")
    pts = {
        n: (r.n_params, s.mean, s.std or 0.0)
        for n in names
        if (r := ev.get(n)) is not None and (s := r.spread.get("val_loss")) and s.mean is not None
    }
    charts = [Chart(params_scatter(pts), "Mean ± std over seeds.")] if pts else []
    answer = answers.q3(ev)
    head = " ".join(
        h
        for h in (E.headline(answer.findings), E.headline(answer.findings, "narrow_separate"))
        if h
    )
    experiment = (
        "The shared model reuses one block at every depth; the separate model has its own block at "
        "each depth; a narrower separate model has about the shared one's parameter count, so "
        "the comparison holds at equal steps and at equal parameters. Neither comparison holds "
        "both parameters and compute equal: the shared model computes as much per step as the "
        "separate one of its width, and the narrower model, at half the width, a quarter to a "
        "half of that. " + setup(suite_facts(ev))
    )
    return make_section("Q3", ev, answer, experiment, charts, headline=head)
