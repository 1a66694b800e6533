"""Question 4 from the records: skip connections and normalisation, each at its own recipe,
and gradient norms per block over training."""

from __future__ import annotations

from analysis.curriculum import depth_ratio, grad_norm_series, median_over_steps
from curriculum import evidence as E
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
    series = {}
    for n in SKIP:
        r = ev.get(n)
        if r is not None:
            steps, groups = grad_norm_series(r.curve)
            if steps:
                series[n] = (steps, groups)
    if series:
        charts.append(Chart(grad_norm_chart(series), "Shipped seed, at each evaluation."))
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
    ratios = {n: depth_ratio(median_over_steps(g)) for n, (_, g) in series.items()}
    said = [f"**{n}** {r:.3g}" for n, r in ratios.items() if r is not None]
    if said:
        notes.append(
            "Gradient norm of the first block over the last, median over training (shipped seed, "
            "one seed each, so no verdict): " + ", ".join(said) + ". Near 1, the gradient reaches "
            "the first block undiminished; far below 1, it fades on the way down; above 1, the "
            "first block receives more than the last."
        )
    experiment = (
        "Without residuals each sublayer's output replaces the stream; post-LN normalises after "
        "the add (as in the original transformer); no_layernorm drops normalisation. "
        + setup(suite_facts(ev))
    )
    return make_section("Q4", ev, E.q4(ev), experiment, charts, notes=notes)
