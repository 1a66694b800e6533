"""Each question's answer: the findings it is built from, gathered from the modules that compute
them, and the variants it needs that have no record yet. Which variants belong to which question is
read from the suite spec (configs/suite.toml)."""

from __future__ import annotations

from curriculum import evidence as E
from curriculum.context_gain import gain_finding
from curriculum.equal_time import equal_wall_clock
from curriculum.evidence import Answer, Evidence, Finding
from curriculum.mask import mask_findings
from curriculum.recall import recall_findings
from curriculum.saturation import saturation


def _answer(
    question: str, ev: Evidence, needed: list[str], findings: list[Finding | None]
) -> Answer:
    missing = [n for n in needed if n not in ev.records]
    return Answer(question, [f for f in findings if f is not None], missing)


def q1(ev: Evidence) -> Answer:
    names = [n for n in E.suite_questions().get("Q1", ()) if n != "lstm"]
    return _answer(
        "Q1",
        ev,
        E.needed("Q1"),
        [
            E.beats_bigram(ev),
            E.beats_ngram(ev),
            E.beats_ngram(ev, "lstm"),
            *recall_findings(ev),
            E.versus(ev, "lstm"),
            equal_wall_clock(ev),
            gain_finding(ev),
            *[E.versus(ev, n) for n in names],
        ],
    )


def q2(ev: Evidence) -> Answer:
    names = [n for n in E.suite_questions().get("Q2", ())]
    return _answer("Q2", ev, E.needed("Q2"), [*[E.versus(ev, n) for n in names], saturation(ev)])


def q3(ev: Evidence) -> Answer:
    return _answer(
        "Q3",
        ev,
        E.needed("Q3"),
        [E.versus(ev, "shared_layers"), E.versus(ev, "shared_layers", other="narrow_separate")],
    )


def q4(ev: Evidence) -> Answer:
    return _answer(
        "Q4", ev, E.needed("Q4"), [E.versus(ev, n) for n in E.suite_questions().get("Q4", ())]
    )


def mask(ev: Evidence) -> Answer:
    return _answer("mask", ev, E.needed("mask"), mask_findings(ev))
