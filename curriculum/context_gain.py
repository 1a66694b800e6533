"""Question 1's context gain, read against the text it was measured on and where it is made.

Every seed is scored on the same validation windows, so the seeds' spread leaves out how much the
gain depends on which text was scored. That standard error is measured from the shipped weights by
`training.evaluate` (the gain window by window over the split's full windows) and kept beside the
record in `text_error.json`; the verdict rule takes the larger of it and the seed stds. Where the
LSTM's lead is made is read off the records' loss by position.

    python -m curriculum.context_gain checkpoints/baseline checkpoints/lstm
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from curriculum.evidence import Evidence, Finding, compare
from training.verdict import CLEAR

TEXT_ERROR = "text_error.json"  # beside a record: the context gain's standard error from the text
BLOCKS = (2, 3, 8, 16, 32, 64)  # window positions where the lead-by-position blocks start


def read_text_error(folder: Path) -> float | None:
    """The measured standard error, or None for a missing or malformed file (untrusted JSON)."""
    try:
        data = json.loads((folder / TEXT_ERROR).read_text())
        se = data["context_gain_se"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(se, bool) or not isinstance(se, int | float) or not math.isfinite(se) or se <= 0:
        return None
    return float(se)


def text_error(ev: Evidence, *names: str) -> float | None:
    """The largest measured text standard error among `names`; None if any is unmeasured."""
    if ev.root is None:
        return None
    found = [read_text_error(ev.root / n) for n in names]
    return None if any(v is None for v in found) else max(found)  # type: ignore[type-var]


@dataclass(frozen=True)
class Lead:
    """a's lead over b (b's loss minus a's) over window positions lo..hi-1, mean over seeds."""

    lo: int
    hi: int
    lead: float
    noise: float  # the largest seed std of either model's mean over those positions


def lead_by_block(ev: Evidence, a: str = "lstm", b: str = "baseline") -> list[Lead]:
    def block_means(name: str, lo: int, hi: int) -> list[float]:
        r = ev.get(name)
        rows = [s.loss_by_position for s in r.seeds if s.loss_by_position] if r else []
        return [statistics.fmean(x[lo:hi]) for x in rows if len(x) >= hi]

    r = ev.get(b)
    n = min((len(s.loss_by_position) for s in r.seeds if s.loss_by_position), default=0) if r else 0
    edges = [e for e in BLOCKS if e < n] + [n]
    out = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        ma, mb = block_means(a, lo, hi), block_means(b, lo, hi)
        if len(ma) < 2 or len(mb) < 2:
            return []
        noise = max(statistics.stdev(ma), statistics.stdev(mb))
        out.append(Lead(lo, hi, statistics.fmean(mb) - statistics.fmean(ma), noise))
    return out


def where_made(leads: list[Lead], a: str = "lstm") -> str:
    """The first block from which the lead stays within the verdict rule's bar of the last one."""
    if len(leads) < 2:
        return ""
    far = leads[-1]
    said = ", ".join(
        f"{x.lead:.3f} "
        + (f"at position {x.lo}" if x.hi - x.lo == 1 else f"over {x.lo}–{x.hi - 1}")
        for x in leads
    )
    fixed = next(
        x
        for x in leads
        if all(
            abs(y.lead - far.lead) < CLEAR * max(y.noise, far.noise)
            for y in leads[leads.index(x) :]
        )
    )
    text = f"The **{a}**'s lead over the baseline by window position (loss by position, mean over seeds): {said}"
    if fixed.lo < far.hi // 4:  # settled within the window's first quarter
        return (
            f"{text}. It is fixed by position {fixed.lo}, within twice the seed std of its size at "
            f"the window's end: a near-context difference, not a far-context result."
        )
    return (
        f"{text}. It keeps growing until position {fixed.lo}: part of it comes from farther back."
    )


def gain_finding(ev: Evidence, a: str = "lstm", b: str = "baseline") -> Finding | None:
    """a's context gain against b's, with the text's standard error in the verdict rule and
    where a's lead is made."""
    ra, rb = ev.get(a), ev.get(b)
    if ra is None or rb is None:
        return None
    sa, sb = ra.spread.get("context_gain"), rb.spread.get("context_gain")
    if sa is None or sa.mean is None:
        return None
    se = text_error(ev, a, b)
    f = compare("context gain", a, sa, b, sb, unit="nats gained", better="higher", text_se=se)
    extra = []
    if se is not None:
        extra.append(
            f"the text's standard error of the gain, {se:.3f}, is measured from the shipped "
            "weights over the validation split's full windows (`training.evaluate`)"
        )
    else:
        extra.append("the text's standard error of the gain is not measured here (seeds only)")
    made = where_made(lead_by_block(ev, a, b), a)
    sentence = f"{f.sentence}; {extra[0]}." + (f" {made}" if made else "")
    return Finding(f.what, f.a, f.b, f.verdict, sentence, f.subject, f.better)


def measure(folder: Path) -> dict:
    """The shipped weights' context gain and its standard error over the validation split's full
    windows, as `training.evaluate` prints them."""
    from training.evaluate import main as evaluate

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eval.json"
        if evaluate(["--checkpoint", str(folder), "--json", str(out)]) != 0:
            raise ValueError(f"{folder}: training.evaluate failed")
        report = json.loads(out.read_text())
    meta = (
        json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").is_file() else {}
    )
    return {
        "what": "standard error of the context gain over the validation split's full windows",
        "measured_by": "python -m curriculum.context_gain (training.evaluate)",
        "seed": meta.get("run", {}).get("train", {}).get("seed"),
        "split": "val",
        "context_gain": report["context_gain"],
        "context_gain_se": report["context_gain_se"],
        "windows": report["context_gain_windows"],
    }


def main(argv: list[str] | None = None) -> int:
    folders = [Path(a) for a in (sys.argv[1:] if argv is None else argv)]
    if not folders:
        print("usage: python -m curriculum.context_gain CHECKPOINT_FOLDER ...", file=sys.stderr)
        return 2
    for folder in folders:
        try:
            data = measure(folder)
        except (OSError, ValueError, KeyError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        (folder / TEXT_ERROR).write_text(json.dumps(data, indent=1) + "\n")
        print(
            f"{folder}: gain {data['context_gain']:.3f}, standard error {data['context_gain_se']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
