"""Answers computed from records. Every claim goes through `training.verdict.judge`, so a sentence
says "no clear difference" whenever the seeds disagree by as much as the variants do.

A `Finding` is one comparison: which metric, the two spreads, the verdict, and a sentence. A
question's `Answer` is its findings plus the variants it needs that have no record yet. Which
variants belong to which question is read from the suite spec (configs/suite.toml), not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from model.safe_read import MiB, read_json
from training.suite import read_suite
from training.suite_record import RECORD, Spread, VariantRecord, spec_changes
from training.verdict import Verdict, judge

RECALL = Path("curriculum") / "q1_recall"  # under the checkpoints root
SUITE_SPEC = Path(__file__).resolve().parents[1] / "configs" / "suite.toml"
Better = Literal["lower", "higher", "neither"]  # which direction of a metric is an improvement
MARGINAL_WORD = "marginal"  # a clear verdict under three times the noise, in details and headlines


@dataclass(frozen=True)
class Finding:
    what: str  # "val loss, no_residual vs baseline"
    a: Spread
    b: Spread | None
    verdict: Verdict | None
    sentence: str
    subject: str = ""  # the variant the finding is about ("no_residual")
    better: Better = "lower"

    @property
    def marginal(self) -> bool:
        """A clear verdict under three times the noise (`Verdict.marginal`)."""
        return self.verdict is not None and self.verdict.marginal

    @property
    def standing(self) -> Literal["better", "worse", "same", "unknown"]:
        """The verdict in words that respect the metric's direction."""
        v = self.verdict
        if v is None or v.label == "no spread":
            return "unknown"
        if v.label == "no clear difference":
            return "same"
        if self.better == "neither":
            return "unknown"
        return "better" if v.label == self.better else "worse"


@dataclass(frozen=True)
class Answer:
    question: str
    findings: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # variants the answer needs but have no record


@dataclass(frozen=True)
class Evidence:
    records: dict[str, VariantRecord]
    recall: dict[str, Any] | None  # the Q1 recall experiment's record.json
    # folders whose record is of an older schema or of another suite spec (not used for answers)
    old: tuple[str, ...] = ()
    spec: Path = SUITE_SPEC  # the suite spec the records were checked against
    root: Path | None = None  # the checkpoint root they were read from (shipped weights beside)

    def get(self, name: str) -> VariantRecord | None:
        return self.records.get(name)


def load_evidence(root: Path, spec: Path = SUITE_SPEC) -> Evidence:
    """Schema-2 records under root and the recall record. Older or unreadable records are
    skipped, and so is a record whose run config differs from what `spec` asks of that variant
    (an earlier budget, say: the results table leaves it out too). A record that carries no
    config cannot be checked and is kept."""
    suite = read_suite(spec)
    known = {v.name for v in suite.variants}
    records, old = {}, []
    for path in sorted(root.glob(f"*/{RECORD}")):
        try:
            r = VariantRecord.read(path.parent)
        except (ValueError, KeyError, TypeError, OSError):
            old.append(path.parent.name)
            continue
        if r.config and r.name in known and spec_changes(suite, r):
            old.append(path.parent.name)
            continue
        records[path.parent.name] = r
    recall = None
    try:
        recall = read_json(root / RECALL / RECORD, 16 * MiB)
    except (OSError, ValueError):
        recall = None
    return Evidence(records, recall if isinstance(recall, dict) else None, tuple(old), spec, root)


@lru_cache(maxsize=4)
def suite_questions(spec: Path = SUITE_SPEC) -> dict[str, tuple[str, ...]]:
    """question ("Q1".."Q4", "mask", "reference") -> its variants, in the spec's priority order."""
    out: dict[str, tuple[str, ...]] = {}
    for v in read_suite(spec).variants:
        out[v.question] = (*out.get(v.question, ()), v.name)
    return out


def suite_order(spec: Path = SUITE_SPEC) -> list[str]:
    return [n for names in suite_questions(spec).values() for n in names]


def needed(question: str, spec: Path = SUITE_SPEC) -> list[str]:
    """The baseline (every comparison's reference) and the question's own variants."""
    return ["baseline", *suite_questions(spec).get(question, ())]


@lru_cache(maxsize=16)
def changing(field: str, spec: Path = SUITE_SPEC) -> tuple[str, ...]:
    """The variants whose change from the base sets `field` ("attn_score": the score functions)."""
    return tuple(v.name for v in read_suite(spec).variants if field in v.changes)


def _spread(record: VariantRecord, metric: str) -> Spread | None:
    s = record.spread.get(metric)
    return s if s is not None and s.mean is not None else None


def fmt(s: Spread | None, digits: int = 3) -> str:
    return "–" if s is None else s.text(digits)


def compare(
    what: str,
    name: str,
    sa: Spread,
    other: str,
    sb: Spread | None,
    *,
    unit: str,
    better: Better = "lower",
    digits: int = 3,
    text_se: float | None = None,
) -> Finding:
    """`name` against `other` through the verdict rule, as one sentence with the seed spread.
    text_se: the standard error from the text both were scored on, where it was measured."""
    v = judge(sa, sb, text_se or 0.0)
    n_b = sb.n if sb else 0
    head = (
        f"**{name}** {fmt(sa, digits)} vs **{other}** {fmt(sb, digits)}{' ' + unit if unit else ''} "
        f"({what}, mean ± std over {sa.n} and {n_b} seeds)"
    )
    bar = (
        "the larger of the seed std and the text's standard error"
        if text_se
        else "the larger seed std"
    )
    if v is None:
        tail = ""
    elif v.label == "no clear difference" and v.delta == 0:
        tail = ": no difference (equal means)"
    elif v.label == "no clear difference":
        spread = f"twice {bar}" if text_se else "twice the seed spread"
        tail = f": no clear difference (Δ {v.delta:+.{digits}f} is within {spread}, {2 * v.noise:.{digits}f})"
    elif v.label == "no spread":
        tail = f": Δ {v.delta:+.{digits}f}, too few seeds for a verdict"
    else:
        word = v.label
        if better != "neither":
            word += " (better)" if v.label == better else " (worse)"
        # a multiple of a 3-seed std (0.001 gives "1543x") overstates precision: the std leaves
        # out the text's own sampling noise, so say only whether the bar is cleared, and flag a
        # difference that clears it narrowly (the headline groups it by the same property)
        tail = (
            f": {word} by {abs(v.delta):.{digits}f}, beyond twice {bar} ({2 * v.noise:.{digits}f})"
        )
        if v.marginal:
            tail += f"; {MARGINAL_WORD}: under three times it"
    return Finding(f"{what}, {name} vs {other}", sa, sb, v, head + tail, name, better)


def versus(
    ev: Evidence,
    name: str,
    other: str = "baseline",
    metric: str = "val_loss",
    unit: str = "nats",
    better: Better = "lower",
) -> Finding | None:
    """`name` against `other` on `metric`, as a sentence with the seed spread."""
    a, b = ev.get(name), ev.get(other)
    if a is None or b is None:
        return None
    sa, sb = _spread(a, metric), _spread(b, metric)
    if sa is None:
        bad = [s for s in a.seeds if s.status != "completed"]
        text = (
            f"**{name}** did not finish training ({len(bad)} of {len(a.seeds)} seeds {bad[0].status})"
            if bad
            else f"{name} has no {metric}"
        )
        what = f"{metric.replace('_', ' ')}, {name} vs {other}"
        return Finding(what, Spread(None, None, 0), sb, None, text, name, better)
    return compare(metric.replace("_", " "), name, sa, other, sb, unit=unit, better=better)


def beats_bigram(ev: Evidence, name: str = "baseline") -> Finding | None:
    """Whether a model uses more than the previous token: its loss against the count bigram's."""
    r = ev.get(name)
    if r is None or not r.references:
        return None
    s = _spread(r, "val_loss")
    if s is None:
        return None
    bigram = r.references["bigram_loss"]
    gap = bigram - s.mean
    ref = Spread(bigram, 0.0, 1)  # a count model: one exact value, no seeds
    v = judge(s, ref)
    reading = {
        "lower": f"{gap:.2f} nats below the bigram, so it uses more than the previous character",
        "higher": f"{-gap:.2f} nats *above* the bigram: it has not learned to use context",
        "no clear difference": "no clear difference from the bigram (within twice its seed std): "
        "no sign that it uses more than the previous character",
        "no spread": f"{gap:+.2f} nats from the bigram, too few seeds for a verdict",
    }[v.label if v is not None else "no spread"]
    sentence = (
        f"**{name}** {fmt(s)} nats/char against a count bigram's {bigram:.3f} and a count unigram's "
        f"{r.references['unigram_loss']:.3f}: {reading}"
    )
    return Finding(f"val loss, {name} vs count bigram", s, ref, v, sentence, name)


def beats_ngram(ev: Evidence, name: str = "baseline") -> Finding | None:
    """A model's loss against the strongest count model in its record (interpolated Kneser-Ney
    at the order the held-out slice chose): does a network do better than counting the last few
    tokens? Read on the window positions where the model has at least order-1 tokens of context
    (a count model has them at every target; the model not at the start of its window). None for
    a record without the reference, or without loss-by-position curves."""
    r = ev.get(name)
    if r is None or not r.references or not r.references.get("ngram_loss_by_position"):
        return None
    refs = r.references
    order = refs["ngram_order"]
    first = order - 1  # first window position with order-1 tokens before it
    count_curve = refs["ngram_loss_by_position"]
    curves = [
        c.loss_by_position
        for c in r.seeds
        if c.loss_by_position and len(c.loss_by_position) == len(count_curve)
    ]
    if not curves or first >= len(count_curve):
        return None
    s = Spread.of([sum(c[first:]) / len(c[first:]) for c in curves])
    ngram = sum(count_curve[first:]) / len(count_curve[first:])
    ref = Spread(ngram, 0.0, 1)  # a count model: one exact value, no seeds
    v = judge(s, ref)
    last = f"the last {order - 1} tokens"
    gap = ngram - s.mean
    reading = {
        "lower": f"{gap:.3f} nats below it: it does better than counting {last}",
        "higher": f"{-gap:.3f} nats *above* it: counting {last} does better",
        "no clear difference": f"no clear difference from counting {last}",
        "no spread": f"{gap:+.3f} nats from it, too few seeds for a verdict",
    }[v.label if v is not None else "no spread"]
    sentence = (
        f"**{name}** {fmt(s)} nats/token against an interpolated Kneser-Ney {order}-gram's "
        f"{ngram:.3f} (the order chosen on the held-out slice), on window positions {first}–"
        f"{len(count_curve) - 1}, where both have at least {order - 1} tokens of context: {reading}"
    )
    return Finding(f"val loss, {name} vs count {order}-gram", s, ref, v, sentence, name)


def headline(findings: list[Finding], reference: str = "baseline", metric: str = "val loss") -> str:
    """The findings on `metric` against `reference` in plain words, grouped by what the verdict
    rule says (one line per variant; other metrics have their own sentences)."""
    groups: dict[str, list[str]] = {"worse": [], "better": [], "same": [], "unknown": []}
    marginal: dict[str, list[str]] = {"worse": [], "better": []}
    for f in findings:
        if f.what == f"{metric}, {f.subject} vs {reference}" and f.better != "neither":
            (marginal if f.marginal else groups)[f.standing].append(f"`{f.subject}`")
    parts = []
    for side in ("worse", "better"):
        if groups[side]:
            parts.append(f"clearly {side} than `{reference}`: {', '.join(groups[side])}")
        if marginal[side]:
            parts.append(
                f"{side} than `{reference}`, {MARGINAL_WORD} (under three times the larger seed "
                f"std): {', '.join(marginal[side])}"
            )
    if groups["same"]:
        parts.append(f"no clear difference from `{reference}`: {', '.join(groups['same'])}")
    if groups["unknown"]:
        parts.append(f"no verdict (failed runs or too few seeds): {', '.join(groups['unknown'])}")
    if not parts:
        return ""
    text = f"On {metric}, " + "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def d_head_families(spec: Path = SUITE_SPEC) -> dict[str, list[str]]:
    """The d_head sweep's two families, from the spec: Q2 variants that change only the head
    shape, grouped by what they hold fixed (the head count, or n_heads × d_head)."""
    suite = read_suite(spec)
    base = suite.variant("baseline").run.model
    shape_only = [
        v
        for v in suite.variants
        if v.question == "Q2" and v.changes and set(v.changes) <= {"n_heads", "d_head"}
    ]
    fixed_heads = [v.name for v in shape_only if v.run.model.n_heads == base.n_heads]
    width = base.n_heads * base.d_head
    fixed_width = [
        v.name
        for v in shape_only
        if v.run.model.n_heads * v.run.model.d_head == width and v.name not in fixed_heads
    ]
    return {
        f"{base.n_heads} heads, d_head varies": ["baseline", *fixed_heads],
        f"n_heads × d_head = {width}": ["baseline", *fixed_width],
    }


@dataclass(frozen=True)
class HeadShapePoint:
    name: str
    n_heads: int
    d_head: int
    val_loss: Spread


def d_head_curve(ev: Evidence) -> dict[str, list[HeadShapePoint]]:
    """family -> its points with records, sorted by d_head."""
    out: dict[str, list[HeadShapePoint]] = {}
    for family, names in d_head_families().items():
        pts = []
        for n in names:
            r = ev.get(n)
            s = _spread(r, "val_loss") if r is not None else None
            if r is not None and s is not None:
                pts.append(
                    HeadShapePoint(n, r.model_config["n_heads"], r.model_config["d_head"], s)
                )
        out[family] = sorted(pts, key=lambda p: p.d_head)
    return out
