"""The Curriculum page's building block: a `Section` (one question as the page shows it) and the
helpers every question's builder shares. No Streamlit, so the tests build exactly what the page
shows; the page adds the live parts. The builders: views/curriculum_q1.py .. curriculum_mask.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache

import plotly.graph_objects as go

from curriculum import evidence as E
from curriculum.evidence import Evidence, Finding
from training.suite import read_suite
from views.curriculum_text import QUESTIONS, QuestionText, SuiteFacts, status, uncertainty
from viz.curriculum import spread_bars


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
def spec_facts(spec=E.SUITE_SPEC) -> SuiteFacts:
    """The shared setup as the suite spec asks for it."""
    s = read_suite(spec)
    base = s.variant("baseline").run
    return SuiteFacts(
        base.train.corpus,
        base.model.n_layers,
        base.model.d_model,
        base.model.n_ctx,
        base.train.max_steps,
        lrs=tuple(s.grid_start or s.grid["lr"]) if "lr" in s.grid else (base.train.lr,),
        seeds=len(s.seeds),
        widened=s.grid_start is not None and "lr" in s.grid,
    )


def suite_facts(ev: Evidence | None = None) -> SuiteFacts:
    """The shared setup of the records shown: the spec they were checked against (records of
    another budget are set aside by `load_evidence`, so the two cannot disagree)."""
    return spec_facts(ev.spec if ev is not None else E.SUITE_SPEC)


def bars(ev: Evidence, names: list[str], title: str) -> Chart | None:
    spreads = {
        n: (s.mean, s.std or 0.0)
        for n in names
        if (r := ev.get(n)) is not None and (s := r.spread.get("val_loss")) and s.mean is not None
    }
    if not spreads:
        return None
    fig = spread_bars(spreads, title=title, y_title="val loss (nats/char)", reference="baseline")
    return Chart(fig, "Mean over seeds; the whisker is ± one sample std.")


def make_section(
    key: str, ev: Evidence, answer: E.Answer, experiment: str, charts, **kw
) -> Section:
    facts = suite_facts(ev)
    text = QUESTIONS[key]
    return Section(
        key,
        text,
        experiment,
        [c for c in charts if c is not None],
        kw.pop("headline", E.headline(answer.findings)),
        answer.findings,
        uncertainty=uncertainty(answer.findings),
        limits=" ".join(
            t for t in (kw.pop("limits", ""), text.limits.format(**dataclasses.asdict(facts))) if t
        ),
        status=status(answer.missing, ev.old),
        **kw,
    )
