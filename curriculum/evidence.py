"""Answers computed from records. Every claim goes through `training.verdict.judge`, so a sentence
says "no clear difference" whenever the seeds disagree by as much as the variants do.

A `Finding` is one comparison: which metric, the two spreads, the verdict, and a sentence. A
question's `Answer` is its findings plus the caveats that this scale cannot settle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.suite_record import RECORD, Spread, VariantRecord
from training.verdict import Verdict, judge

RECALL = Path("curriculum") / "q1_recall"  # under the checkpoints root


@dataclass(frozen=True)
class Finding:
    what: str  # "val loss, no_residual vs baseline"
    a: Spread
    b: Spread | None
    verdict: Verdict | None
    sentence: str


@dataclass(frozen=True)
class Answer:
    question: str
    findings: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # variants the answer needs but have no record


@dataclass(frozen=True)
class Evidence:
    records: dict[str, VariantRecord]
    recall: dict[str, Any] | None  # the Q1 recall experiment's record.json

    def get(self, name: str) -> VariantRecord | None:
        return self.records.get(name)


def load_evidence(root: Path) -> Evidence:
    """Schema-2 records under root (older or unreadable ones are skipped) and the recall record."""
    records = {}
    for path in sorted(root.glob(f"*/{RECORD}")):
        try:
            records[path.parent.name] = VariantRecord.read(path.parent)
        except (ValueError, KeyError, TypeError, OSError):
            continue
    recall = None
    try:
        recall = json.loads((root / RECALL / RECORD).read_text())
    except (OSError, ValueError):
        recall = None
    return Evidence(records, recall)


def _spread(record: VariantRecord, metric: str) -> Spread | None:
    s = record.spread.get(metric)
    return s if s is not None and s.mean is not None else None


def fmt(s: Spread | None, digits: int = 3) -> str:
    if s is None or s.mean is None:
        return "–"
    if s.std is None:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} ± {s.std:.{digits}f}"


def versus(
    ev: Evidence, name: str, other: str = "baseline", metric: str = "val_loss", unit: str = "nats"
) -> Finding | None:
    """`name` against `other` on `metric` (lower is better), as a sentence with the seed spread."""
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
        return Finding(f"{metric}, {name} vs {other}", Spread(None, None, 0), sb, None, text)
    v = judge(sa, sb)
    head = f"**{name}** {fmt(sa)} vs **{other}** {fmt(sb)} {unit} ({metric.replace('_', ' ')}, mean ± std over {sa.n} and {sb.n if sb else 0} seeds)"
    if v is None:
        tail = ""
    elif v.label == "no clear difference":
        tail = f": no clear difference (Δ {v.delta:+.3f} is within twice the seed spread, {2 * v.noise:.3f})"
    elif v.label == "no spread":
        tail = f": Δ {v.delta:+.3f}, too few seeds for a verdict"
    else:
        word = "lower (better)" if v.label == "lower" else "higher (worse)"
        tail = f": {word} by {abs(v.delta):.3f}, {abs(v.delta) / max(v.noise, 1e-12):.0f}× the larger seed std"
    return Finding(f"{metric}, {name} vs {other}", sa, sb, v, head + tail)


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
    sentence = (
        f"**{name}** {fmt(s)} nats/char against a count bigram's {bigram:.3f} and a count unigram's "
        f"{r.references['unigram_loss']:.3f}: "
        + (
            f"{gap:.2f} nats below the bigram, so it uses more than the previous character"
            if gap > 0
            else f"{-gap:.2f} nats *above* the bigram: it has not learned to use context"
        )
    )
    ref = Spread(bigram, 0.0, 1)
    return Finding(f"val loss, {name} vs count bigram", s, ref, judge(s, ref), sentence)


def _present(ev: Evidence, names: list[str]) -> tuple[list[str], list[str]]:
    have = [n for n in names if n in ev.records]
    return have, [n for n in names if n not in ev.records]


def _answer(
    question: str, ev: Evidence, needed: list[str], findings: list[Finding | None]
) -> Answer:
    _, missing = _present(ev, needed)
    return Answer(question, [f for f in findings if f is not None], missing)


def loss_at_seconds(record: VariantRecord, seconds: float) -> float | None:
    """The shipped seed's (capped) validation loss after `seconds` of training, interpolated
    linearly between evaluations; None before the first evaluation or without a curve."""
    pts = [
        (c["elapsed_s"], c["val_loss"])
        for c in record.curve
        if "elapsed_s" in c and "val_loss" in c
    ]
    if not pts or seconds < pts[0][0]:
        return None
    for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
        if t0 <= seconds <= t1:
            return v0 + (v1 - v0) * (seconds - t0) / max(t1 - t0, 1e-9)
    return pts[-1][1]


def equal_wall_clock(ev: Evidence) -> Finding | None:
    """The LSTM against the baseline given the LSTM's training time (one seed each: the shipped)."""
    lstm, base = ev.get("lstm"), ev.get("baseline")
    if lstm is None or base is None or lstm.spread.get("val_loss") is None:
        return None
    seconds = lstm.train_seconds
    at = loss_at_seconds(base, seconds)
    if at is None:
        return None
    mine = lstm.final.get("val_loss")
    if mine is None:
        return None
    sentence = (
        f"At equal training time ({seconds:.0f} s, the LSTM's whole run on {lstm.device}), the "
        f"baseline had reached {at:.3f} nats/char (evaluated on the first 16k validation "
        f"characters) against the LSTM's final {mine:.3f} (shipped seeds; one seed each)."
    )
    return Finding(
        "val loss at equal wall-clock, lstm vs baseline",
        Spread(mine, None, 1),
        Spread(at, None, 1),
        None,
        sentence,
    )


def q1(ev: Evidence) -> Answer:
    return _answer(
        "Q1",
        ev,
        ["baseline", "lstm", "no_pos", "sinusoidal"],
        [
            versus(ev, "lstm"),
            equal_wall_clock(ev),
            versus(ev, "lstm", metric="context_gain", unit="nats gained"),
            versus(ev, "baseline", metric="context_gain", unit="nats gained", other="lstm"),
            versus(ev, "no_pos"),
            versus(ev, "sinusoidal"),
        ],
    )


D_HEAD_FAMILIES = {
    "4 heads, d_head varies": ["heads4_dhead8", "heads4_dhead16", "baseline", "heads4_dhead64"],
    "n_heads × d_head = 128": ["heads16_dhead8", "heads8_dhead16", "baseline", "heads2_dhead64"],
}


def d_head_curve(ev: Evidence) -> dict[str, list[tuple[int, int, Spread]]]:
    """family -> [(n_heads, d_head, val-loss spread)] for the variants that have records."""
    out: dict[str, list[tuple[int, int, Spread]]] = {}
    for family, names in D_HEAD_FAMILIES.items():
        pts = []
        for n in names:
            r = ev.get(n)
            s = _spread(r, "val_loss") if r is not None else None
            if r is not None and s is not None:
                pts.append((r.model_config["n_heads"], r.model_config["d_head"], s))
        out[family] = sorted(pts, key=lambda p: p[1])
    return out


def q2(ev: Evidence) -> Answer:
    names = [n for family in D_HEAD_FAMILIES.values() for n in family if n != "baseline"]
    return _answer(
        "Q2",
        ev,
        ["baseline", "dot_unscaled", "cosine", "additive", *names],
        [versus(ev, n) for n in ["dot_unscaled", "cosine", "additive", *names]],
    )


def q3(ev: Evidence) -> Answer:
    return _answer(
        "Q3",
        ev,
        ["baseline", "shared_layers", "narrow_separate"],
        [versus(ev, "shared_layers"), versus(ev, "shared_layers", other="narrow_separate")],
    )


def q4(ev: Evidence) -> Answer:
    return _answer(
        "Q4",
        ev,
        ["baseline", "no_residual", "post_ln", "no_layernorm"],
        [versus(ev, "no_residual"), versus(ev, "post_ln"), versus(ev, "no_layernorm")],
    )


def mask(ev: Evidence) -> Answer:
    findings: list[Finding | None] = [versus(ev, "no_causal_mask")]
    r, b = ev.get("no_causal_mask"), ev.get("baseline")
    if r is not None and r.mask_flip and b is not None:
        back = r.mask_flip["spread"]
        back = back if isinstance(back, Spread) else Spread(**back)
        base = _spread(b, "val_loss")
        v = judge(back, base)
        findings.append(
            Finding(
                "val loss with the mask put back, no_causal_mask vs baseline",
                back,
                base,
                v,
                f"Put the mask back into **no_causal_mask** and its loss becomes {fmt(back)} nats/char, "
                f"against the baseline's {fmt(base)}: what it learned was to read the answer from the "
                "future, which is useless for generating text left to right.",
            )
        )
    return _answer(
        "mask", ev, ["baseline", "no_causal_mask", "reversal_masked", "reversal_unmasked"], findings
    )


def recall_curves(ev: Evidence) -> Mapping[str, Any] | None:
    """The recall experiment's accuracy by distance per model (None without its record)."""
    if ev.recall is None:
        return None
    return {
        "bins": ev.recall["bins"],
        "models": {
            name: {
                "accuracy": [s["mean"] for s in m["accuracy_by_distance"]],
                "std": [s["std"] for s in m["accuracy_by_distance"]],
                "n_params": m["n_params"],
                "lr": m["lr"],
                "seeds": len(m["seeds"]),
            }
            for name, m in ev.recall["models"].items()
        },
    }
