"""Each Curriculum question as one `Section` built from the records alone: the experiment, the
figures, the answer in words, its uncertainty and what this scale cannot show. No Streamlit, so
the tests and the bench build exactly what the page shows; the page adds the live parts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import plotly.graph_objects as go

from analysis.curriculum import grad_norm_series
from curriculum import evidence as E
from curriculum.evidence import Evidence, Finding
from curriculum.mask import MASKED_REV, UNMASKED_LM, UNMASKED_REV, future_share, mask_headline
from curriculum.recall import read_recall, recall_headline
from curriculum.series import health, loss_by_position
from training.suite import read_suite
from views.curriculum_text import QUESTIONS, QuestionText, SuiteFacts, setup, status, uncertainty
from viz.curriculum import (
    band_lines,
    grad_norm_chart,
    health_chart,
    layer_head_map,
    params_scatter,
    reversal_chart,
    spread_bars,
)


@dataclass(frozen=True)
class Chart:
    figure: go.Figure
    caption: str = ""


@dataclass(frozen=True)
class Section:
    key: str  # "Q1" .. "Q4", "mask"
    text: QuestionText
    experiment: str
    charts: list[Chart]
    headline: str  # the answer in plain words, from the verdicts
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)  # recipes, recorded generations
    uncertainty: str = ""
    limits: str = ""
    status: str = ""  # variants not trained yet


@lru_cache(maxsize=2)
def suite_facts(spec=E.SUITE_SPEC) -> SuiteFacts:
    s = read_suite(spec)
    base = s.variant("baseline").run
    return SuiteFacts(
        base.train.corpus,
        base.model.n_layers,
        base.model.d_model,
        base.model.n_ctx,
        base.train.max_steps,
        tuple(s.grid.get("lr", (base.train.lr,))),
        len(s.seeds),
    )


def _bars(ev: Evidence, names: list[str], title: str) -> Chart | None:
    spreads = {
        n: (s.mean, s.std or 0.0)
        for n in names
        if (r := ev.get(n)) is not None and (s := r.spread.get("val_loss")) and s.mean is not None
    }
    if not spreads:
        return None
    fig = spread_bars(spreads, title=title, y_title="val loss (nats/char)", reference="baseline")
    return Chart(fig, "Mean over seeds; the whisker is ± one sample std.")


def _section(key: str, ev: Evidence, answer: E.Answer, experiment: str, charts, **kw) -> Section:
    facts = suite_facts()
    text = QUESTIONS[key]
    return Section(
        key,
        text,
        experiment,
        [c for c in charts if c is not None],
        kw.pop("headline", E.headline(answer.findings)),
        answer.findings,
        uncertainty=uncertainty(answer.findings),
        limits=text.limits.format(**dataclasses.asdict(facts)),
        status=status(answer.missing, ev.old),
        **kw,
    )


def q1(ev: Evidence) -> Section:
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
        experiment += (
            "Models: "
            + ", ".join(f"{n} ({x.n_params:,} parameters, {x.n_seeds} seeds)" for n, x in m.items())
            + ", each at its best learning rate. "
        )
        mids = [(lo + hi - 1) / 2 for lo, hi in rec.bins]
        series = {
            n: ([s.mean or 0.0 for s in x.by_distance], [s.std or 0.0 for s in x.by_distance])
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
                "Mean ± std over seeds, on test sequences no run saw.",
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
    charts.append(_bars(ev, E.needed("Q1"), "Validation loss, question 1's variants"))
    answer = E.q1(ev)
    head = " ".join(h for h in (recall_headline(ev), E.headline(answer.findings)) if h)
    return _section("Q1", ev, answer, experiment + setup(suite_facts()), charts, headline=head)


def q2(ev: Evidence) -> Section:
    fams = E.d_head_curve(ev)
    charts: list[Chart | None] = [
        _bars(
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
    return _section("Q2", ev, E.q2(ev), experiment, charts)


def q3(ev: Evidence) -> Section:
    names = E.needed("Q3")
    pts = {
        n: (r.n_params, s.mean, s.std or 0.0)
        for n in names
        if (r := ev.get(n)) is not None and (s := r.spread.get("val_loss")) and s.mean is not None
    }
    charts = [Chart(params_scatter(pts), "Mean ± std over seeds.")] if pts else []
    answer = E.q3(ev)
    head = " ".join(
        h
        for h in (E.headline(answer.findings), E.headline(answer.findings, "narrow_separate"))
        if h
    )
    experiment = (
        "The shared model reuses one block at every depth; the separate model has its own block at "
        "each depth; a narrower separate model has about the shared one's parameter count, so "
        "the comparison holds at equal steps and at equal parameters. " + setup(suite_facts())
    )
    return _section("Q3", ev, answer, experiment, charts, headline=head)


def q4(ev: Evidence) -> Section:
    names = E.needed("Q4")
    charts: list[Chart | None] = [
        _bars(ev, names, "Validation loss without skips or with other norms")
    ]
    series = {}
    for n in ("baseline", "no_residual"):
        r = ev.get(n)
        if r is not None:
            steps, groups = grad_norm_series(r.curve)
            if steps:
                series[n] = (steps, groups)
    if series:
        charts.append(Chart(grad_norm_chart(series), "Shipped seed, at each evaluation."))
    notes = [t for n in names[1:] if (t := E.recipe_note(ev, n))]
    experiment = (
        "Without residuals each sublayer's output replaces the stream; post-LN normalises after "
        "the add (as in the original transformer); no_layernorm drops normalisation. "
        + setup(suite_facts())
    )
    return _section("Q4", ev, E.q4(ev), experiment, charts, notes=notes)


def mask(ev: Evidence) -> Section:
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
    for n in ("baseline", UNMASKED_LM):
        r = ev.get(n)
        if r is not None and r.samples:
            s = r.samples[0]
            notes.append(
                f"**{n}**, generated from {s['prompt']!r}:\n\n```\n{s['prompt']}{s['text']}\n```"
            )
    experiment = (
        "Reversal: a random sequence, a separator, then the sequence reversed; the first half "
        "cannot be predicted from the past, so a masked model sits at chance there. The same "
        "task without the mask, and the baseline language model trained without its mask: its "
        "loss as trained, and with the mask put back. " + setup(suite_facts())
    )
    return _section(
        "mask", ev, E.mask(ev), experiment, charts, notes=notes, headline=mask_headline(ev)
    )


SECTIONS: dict[str, Callable[[Evidence], Section]] = {
    "Q1": q1,
    "Q2": q2,
    "Q3": q3,
    "Q4": q4,
    "mask": mask,
}
