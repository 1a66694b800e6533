"""Question 1 on copying from context: the induction experiment and LAMBADA, read from records.

Both experiments ask whether a model reads a token back from far in its context (attention can
look it up in one step; a recurrent model must have carried it). Every sentence is built from the
records' numbers; where no mechanism formed, that is what the section says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysis.induction import InductionFinding, figure_inputs, findings
from training.lambada_findings import LambadaFindings, lambada_figure_from_records, lambada_findings
from views.curriculum_section import Chart
from viz.induction import induction_over_training

# The induction score a head needs to be called an induction head (repeated random tokens; the
# issue's bar and interp/detectors' head-type threshold are both 0.3).
INDUCTION_HEAD = 0.3


@dataclass
class CopyingPart:
    """What the Q1 section adds: a paragraph, charts and one note per experiment."""

    text: str = ""
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _fmt(mean: float | None, std: float | None, digits: int = 3) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def induction_note(found: list[InductionFinding]) -> str:
    """One sentence per model on whether an induction head formed, with the rule's threshold."""
    parts = []
    for f in found:
        n = f.best_induction.n
        seeds = f"{n} seed{'' if n == 1 else 's'}"
        if not f.attention:
            parts.append(
                f"{f.name} (no attention heads; {seeds}): copy gain "
                f"{_fmt(f.copy_gain.mean, f.copy_gain.std)} nats/token."
            )
            continue
        formed = (f.best_induction.mean or 0.0) >= INDUCTION_HEAD
        parts.append(
            f"{f.name} ({f.lr}, {seeds}): best induction score "
            f"{_fmt(f.best_induction.mean, f.best_induction.std)}, copy gain "
            f"{_fmt(f.copy_gain.mean, f.copy_gain.std)} nats/token, phase change found in "
            f"{f.phase_found_in} of {len(f.phases)} seeds: "
            + ("an induction head formed." if formed else "no induction head formed.")
        )
    return "Induction experiment: " + " ".join(parts)


def lambada_note(f: LambadaFindings) -> str:
    """The comparisons that decide the benchmark: each model against every baseline."""
    rows = [
        f"{c.model} vs {c.baseline} {c.margin * 100:+.1f} points ({c.verdict})"
        for c in f.comparisons
    ]
    return (
        f"LAMBADA, {f.n_held_out} held-out passages ({f.split}): "
        + "; ".join(
            f"{m.label} {m.mean_accuracy * 100:.1f}% ({len(m.seeds)} seeds)" for m in f.models
        )
        + ". "
        + "; ".join(rows)
        + "."
    )


def scale_limit(found: list[InductionFinding], lam: LambadaFindings | None) -> str:
    """Said only when no experiment here formed a copying mechanism: then neither can tell how
    attention and recurrence differ at reading far context on real text."""
    heads = [f for f in found if f.attention and (f.best_induction.mean or 0.0) >= INDUCTION_HEAD]
    beats = lam is not None and any(
        c.baseline == "ngram" and c.margin > c.half_width for c in lam.comparisons
    )
    if heads or beats or (not found and lam is None):
        return ""
    return (
        "What this scale cannot show: no model here learned to copy from its context on real text "
        "(no induction head, and no LAMBADA model above the count n-gram), so these experiments "
        "cannot compare how attention and recurrence read far context on real text; the recall "
        "task above is where that difference is measured."
    )


def copying_part(root: Path | None) -> CopyingPart:
    """The induction and LAMBADA part of question 1, or an empty part without their records."""
    part = CopyingPart()
    if root is None:
        return part
    found = findings(root)
    if found:
        runs, phases = figure_inputs(found)
        part.charts.append(
            Chart(
                induction_over_training(runs, phases),
                "Loss on the second copy of held-out repeated text against the first, and the "
                "best head's induction score, at log-spaced training steps (the shipped seed).",
            )
        )
        part.notes.append(induction_note(found))
        part.text += (
            "Copying on real text: models trained on Shakespeare windows where a stretch of "
            "earlier text recurs, measured on held-out repeated text as they train. "
        )
    lam = lambada_findings(root)
    if lam is not None:
        fig = lambada_figure_from_records(root)
        if fig is not None:
            part.charts.append(
                Chart(
                    fig,
                    "LAMBADA last-word loss and accuracy over training, baselines as lines; "
                    "beside it, accuracy by the distance back to the word's earlier occurrence.",
                )
            )
        part.notes.append(lambada_note(lam))
        part.text += (
            "LAMBADA's last words mostly appeared earlier in their passage: a model that copies "
            "from context can score, one that cannot does not. "
        )
    if limit := scale_limit(found, lam):
        part.notes.append(limit)
    return part
