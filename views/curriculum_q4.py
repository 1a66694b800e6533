"""Question 4 from the records: skip connections and normalisation, each at its own recipe,
and gradient norms per block over training."""

from __future__ import annotations

from curriculum import answers
from curriculum import evidence as E
from curriculum.depth import depth_limits, grad_by_step, grad_note
from curriculum.evidence import Evidence
from curriculum.recipe import recipe_note
from views.curriculum_section import Chart, Section, bars, make_section, suite_facts
from views.curriculum_text import setup
from viz.curriculum import grad_norm_chart, layer_lines
from viz.stats import residual_row_labels

SKIP = ("baseline", *E.changing("residual"))  # the skip-connection comparison itself


def build(ev: Evidence) -> Section:
    names = E.needed("Q4")
    charts: list[Chart | None] = [
        bars(ev, names, "Validation loss without skips or with other norms")
    ]
    series = {n: (g.steps, g.groups) for n in SKIP if (g := grad_by_step(ev, n)) is not None}
    if series:
        caption = "Shipped seed, at each evaluation" + (
            "; step 0 is its own initial weights on the record's fixed batch of training text."
            if any(s[0] == 0 for s, _ in series.values())
            else "."
        )
        charts.append(Chart(grad_norm_chart(series), caption))
    # the skip connection only: a post-LN or norm-free run that failed for its recipe's sake must
    # not read as rank collapse by sitting on the same chart
    cosines = {
        n: r.probe["token_cosine"]
        for n in SKIP
        if (r := ev.get(n)) is not None and r.probe.get("token_cosine")
    }
    if cosines:
        rows = residual_row_labels(max(len(v) for v in cosines.values()) - 1)
        fig = layer_lines(cosines, rows, title="Mean token cosine after training", y_title="cosine")
        charts.append(
            Chart(fig, "Shipped seed, a fixed batch of validation text; near 1 = rank collapse.")
        )
    notes = [t for n in names[1:] if (t := recipe_note(ev, n))]
    if grads := grad_note(ev, SKIP):
        notes.append(grads)
    experiment = (
        "Without residuals each sublayer's output replaces the stream; post-LN normalises after "
        "the add (as in the original transformer); no_layernorm drops normalisation. "
        + setup(suite_facts(ev))
    )
    limits = depth_limits(ev, suite_facts(ev).n_layers)
    return make_section("Q4", ev, answers.q4(ev), experiment, charts, notes=notes, limits=limits)
