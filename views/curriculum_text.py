"""The Curriculum page's words: each question's wording and its limits, the experiment's shared
setup, which variants are missing, and how far the seed spread settles the findings. Numbers are
never typed here: the setup is filled from the suite spec (`SuiteFacts`), results come from
`curriculum/`. Sentences about live measurements: `views.curriculum_live_text`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from curriculum.evidence import Finding


@dataclass(frozen=True)
class SuiteFacts:
    """What every suite run shares, read from configs/suite.toml."""

    corpus: str
    n_layers: int
    d_model: int
    n_ctx: int
    steps: int
    lrs: tuple[float, ...]  # where each variant's learning-rate search starts
    seeds: int
    widened: bool = False  # the search goes on past whichever end of `lrs` wins


@dataclass(frozen=True)
class QuestionText:
    tab: str
    title: str
    question: str
    limits: str  # what a model of this size, trained this briefly, cannot show


def setup(f: SuiteFacts) -> str:
    lrs = ", ".join(f"{x:g}" for x in f.lrs)
    return (
        f"Each language-model variant changes one thing in a {f.n_layers}-layer character model (d_model "
        f"{f.d_model}, context {f.n_ctx}) trained for {f.steps} steps on {f.corpus}; each gets its "
        f"own learning rate (best on held-out *training* text of {lrs}"
        + (", widened past whichever end wins" if f.widened else "")
        + f"), then {f.seeds} seeds."
    )


QUESTIONS: dict[str, QuestionText] = {
    "Q1": QuestionText(
        "Q1 · time",
        "1 · Recurrence and time",
        "An LSTM carries a state from one token to the next; a transformer looks back at every "
        "earlier position at once. What does each do with distance, and with time on the machine?",
        "Contexts here are short and the recall task is synthetic. Whether more width or longer "
        "training changes either model's recall at long distance is not tested, nor is a task "
        "where order matters more than content.",
    ),
    "Q2": QuestionText(
        "Q2 · Q, K, V",
        "2 · Queries, keys and values",
        "How wide should each head's query, key and value be, why divide q·k by √d_head, and do "
        "other ways of scoring a query against a key learn as well?",
        "At this size the sweep covers d_head from a few to a few dozen dimensions and one model "
        "width; how the best head shape moves with width, data or training length is out of reach.",
    ),
    "Q3": QuestionText(
        "Q3 · layers",
        "3 · A different dense layer in every block?",
        "Does each block need its own weights, or can one block be reused at every depth?",
        "{n_layers} blocks and one data set. The verdict moves with training: in the same suite at "
        "half the steps (configs/suite_short.toml) sharing made no clear difference. Whether it "
        "costs more (or less) in deeper models, or with still longer training, is not tested here.",
    ),
    "Q4": QuestionText(
        "Q4 · skips",
        "4 · Skip connections",
        "Why does every sublayer add to a residual stream instead of replacing it, and what "
        "happens without it?",
        # what depth cannot show comes first, from the records: `curriculum.depth.depth_limits`
        "Each variant is compared at its own best learning rate from a short grid; a wider search "
        "or longer warm-up could change these results.",
    ),
    "mask": QuestionText(
        "The mask",
        "The mask",
        "What does a model learn when nothing stops it from looking at the positions it must "
        "predict?",
        "The reversal task is tiny and synthetic; the unmasked language model's leak is measured "
        "on one corpus and one context length.",
    ),
}


def status(missing: Sequence[str], old: Sequence[str]) -> str:
    """Which variants this question needs that are not in: not trained yet, or only an old record."""
    if not missing:
        return ""
    stale = [n for n in missing if n in old]
    text = f"Not trained yet (or still training): {names(missing)}; the parts that need them are left out."
    if stale:
        text += (
            f" {names(stale)} {'has' if len(stale) == 1 else 'have'} a record from an earlier "
            "suite (an older schema, or another budget or recipe than configs/suite.toml's), "
            "which this page does not use."
        )
    return text


def uncertainty(findings: Sequence[Finding]) -> str:
    """How many of the question's comparisons the seed spread settles, and which it does not."""
    judged = [f for f in findings if f.verdict is not None]
    if not judged:
        return "No comparison here has seed spreads on both sides yet."
    clear = [f for f in judged if f.verdict.clear]
    inside = [f for f in judged if f.verdict.label == "no clear difference"]
    few = [f for f in judged if f.verdict.label == "no spread"]
    # a count reference (the bigram) enters as one exact value, not as seeds
    seeds = sorted(
        {f.a.n for f in judged} | {f.b.n for f in judged if f.b is not None and f.b.n > 1}
    )
    text = (
        f"Each number is a mean ± sample std over seeds ({'/'.join(map(str, seeds))} per variant). "
        "A difference counts only when it exceeds twice the larger std. Of "
        f"{len(judged)} comparison{'' if len(judged) == 1 else 's'}, {len(clear)} "
        f"{'is' if len(clear) == 1 else 'are'} clear"
    )
    marginal = [f for f in clear if f.marginal]
    if marginal:
        text += f" ({len(marginal)} of them marginal: under three times the larger std)"
    if inside:
        text += (
            f"; no clear difference in {len(inside)} (" + "; ".join(f.what for f in inside) + ")"
        )
    if few:
        text += f"; {len(few)} with too few seeds"
    return text + "."


def num(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}"


def signed(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.{digits}f}"


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.{digits}f}%"


def times(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"×{x:.{digits}f}"


def sig(x: float | None, digits: int = 3) -> str:
    """Significant digits, for numbers that may be tiny (a vanished gradient: 2.1e-05)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def names(items: Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in items]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def token(s: str) -> str:
    return "`" + s.replace("`", "'") + "`"


# --------------------------------------------------------------------------- Q1
