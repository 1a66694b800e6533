"""Question 1 from the records: recall by distance (the isolating experiment), loss by position
and the LSTM and position variants of the suite."""

from __future__ import annotations

from curriculum import answers
from curriculum import evidence as E
from curriculum.evidence import Evidence
from curriculum.positions import scale_note
from curriculum.recall import MIN_QUERIES, read_recall, recall_headline, recall_task
from curriculum.series import loss_by_position
from views.curriculum_q1_copying import copying_part
from views.curriculum_section import Chart, Section, bars, make_section, suite_facts
from views.curriculum_text import setup
from viz.curriculum import band_lines, layer_head_map

SINUSOIDAL = "val loss, sinusoidal vs baseline"  # the finding the position scales qualify


def build(ev: Evidence) -> Section:
    rec = read_recall(ev)
    charts: list[Chart | None] = []
    experiment = (
        "Recall at a controlled distance: a sequence lists key–value pairs, then filler, then asks "
        "for every key again; the model must name the value, which only the pair, some distance "
        "back, can tell. "
    )
    if rec is None:
        experiment += "(Its record is not here yet.) "
    else:
        m = rec.models
        task = recall_task(ev)
        if task is not None:
            experiment += (
                "Each pair is a single token, so one attention layer can find it by content. "
                if task.fused
                else "Key and value are two tokens, so the lookup needs a head that copies each "
                "key onto its value and a second that matches the query to it (two layers). "
            )
        experiment += (
            "Models: "
            + ", ".join(f"{n} ({x.n_params:,} parameters, {x.n_seeds} seeds)" for n, x in m.items())
            + ", each at its best learning rate. "
        )
        mids = [(lo + hi - 1) / 2 for lo, hi in rec.bins]
        series = {
            n: (  # a bin no test sequence reached is a gap, not a zero
                [
                    s.mean if s.mean is not None and c >= MIN_QUERIES else float("nan")
                    for s, c in zip(x.by_distance, x.counts, strict=True)
                ],
                [s.std or 0.0 for s in x.by_distance],
            )
            for n, x in m.items()
        }
        charts.append(
            Chart(
                band_lines(
                    series,
                    mids,
                    title="Recall accuracy by distance",
                    x_title="distance (tokens)",
                    y_title="accuracy",
                    log_x=True,
                    y_range=(0, 1.05),
                ),
                f"Mean ± std over seeds, on test sequences no run saw; distances with fewer than "
                f"{MIN_QUERIES} test queries per seed are left out.",
            )
        )
        if rec.roles is not None:
            charts.append(
                Chart(
                    layer_head_map(
                        rec.roles.retrieval,
                        title="2-layer transformer: attention on the recalled value",
                        value_name="share",
                        zmax=1.0,
                    )
                )
            )
    experiment += "In the suite, the LSTM (baseline's parameter count) and the position encodings. "
    curves = {n: p for n in E.needed("Q1") if (p := loss_by_position(ev, n)) is not None}
    if curves:
        first = next(iter(curves.values()))
        charts.append(
            Chart(
                band_lines(
                    {
                        n: (p.mean, p.std)
                        for n, p in curves.items()
                        if len(p.mean) == len(first.mean)
                    },
                    list(range(len(first.mean))),
                    title="Validation loss by position in the window",
                    x_title="position",
                    y_title="nats/char",
                ),
                "How much each model gains from more context; mean ± std over seeds.",
            )
        )
    charts.append(bars(ev, E.needed("Q1"), "Validation loss, question 1's variants"))
    copying = copying_part(ev.root)
    experiment += copying.text
    charts.extend(copying.charts)
    answer = answers.q1(ev)
    head = " ".join(h for h in (recall_headline(ev), E.headline(answer.findings)) if h)
    sinusoidal = next((f for f in answer.findings if f.what == SINUSOIDAL), None)
    notes = [n for n in (scale_note(ev, sinusoidal), *copying.notes) if n]
    return make_section(
        "Q1", ev, answer, experiment + setup(suite_facts(ev)), charts, headline=head, notes=notes
    )
