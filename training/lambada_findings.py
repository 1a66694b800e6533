"""LAMBADA findings from the shipped records: numbers with their spread, sentences, the figure.

    python -m training.lambada_findings [--root checkpoints]

reads checkpoints/lambada_*/record.json (written by the suite for configs/lambada.toml), and prints
the findings. `lambada_findings(root)` returns them typed for a page; `lambada_figure_from_records`
draws `viz.lambada.lambada_figure` from the same records. Nothing here trains or evaluates a
model: every number was measured when the record was written.

The bar each model is read against: its mean accuracy over seeds minus a baseline's accuracy,
compared with the half-width of the model's own 95% Wilson interval (the widest over seeds). A
margin larger than that half-width is "above by more than its interval"; the baselines' own
intervals are reported beside it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.lambada_words import distance_bins

MODELS = ("lambada_transformer", "lambada_lstm")  # record folders, in the figure's order
LABELS = {"lambada_transformer": "transformer", "lambada_lstm": "LSTM"}
ROOT = Path(__file__).resolve().parents[1] / "checkpoints"


@dataclass(frozen=True)
class ModelResult:
    name: str  # record folder
    label: str
    recipe: str  # the grid point the ladder chose, e.g. "lr=0.003"
    ladder: list[tuple[str, float | None]]  # (point, held-out loss) of every search run
    seeds: list[int]
    accuracy: list[float]  # final held-out accuracy per seed
    interval: list[tuple[float, float]]  # each seed's 95% Wilson interval
    loss: list[float]  # final mean word loss per seed, nats
    by_distance: dict[str, list[float]]  # bin -> accuracy per seed
    bin_counts: dict[str, int]  # bin -> passages
    steps: list[int]
    curve_accuracy: list[list[float]]  # [seed][evaluation]
    curve_loss: list[list[float]]
    n_params: int
    # per seed, where the record has them: copy gain (nats/token, first minus second copy of
    # repeated held-out text) and the best head's induction score (transformers)
    copy_gain: list[float]
    best_induction: list[float]
    train_seconds: list[float]  # per seed (the ladder's search runs are in `ladder_seconds`)
    ladder_seconds: float  # all search runs together
    device: str

    @property
    def run_seconds(self) -> float:
        """Training time of every run: the ladder's, plus the seeds the ladder did not train."""
        return self.ladder_seconds + sum(self.train_seconds[1:])

    @property
    def mean_accuracy(self) -> float:
        return sum(self.accuracy) / len(self.accuracy)

    @property
    def half_width(self) -> float:
        """The widest half-width of the seeds' 95% intervals."""
        return max((hi - lo) / 2 for lo, hi in self.interval)


@dataclass(frozen=True)
class Comparison:
    model: str
    baseline: str
    margin: float  # model's mean accuracy minus the baseline's
    half_width: float  # of the model's interval
    baseline_interval: tuple[float, float]

    @property
    def verdict(self) -> str:
        if self.margin > self.half_width:
            return "above by more than its 95% interval"
        if self.margin < -self.half_width:
            return "below by more than its 95% interval"
        return "within its 95% interval"


@dataclass(frozen=True)
class LambadaFindings:
    models: list[ModelResult]
    baselines: list[dict[str, Any]]  # training.lambada_baselines.BaselineResult as stored
    comparisons: list[Comparison]
    split: str
    n_held_out: int
    sentences: list[str] = field(default_factory=list)


def _model(name: str, record: Any) -> ModelResult:
    bench = record.lambada["benchmark"]
    per_seed = bench["per_seed"]
    finals = [s["final"] for s in per_seed]
    bins = distance_bins()
    curves = [s["curve"] for s in per_seed]
    steps = [p["step"] for p in curves[0]]
    return ModelResult(
        name=name,
        label=LABELS.get(name, name),
        recipe=str(record.recipe["chosen"]),
        ladder=[(g.point, g.holdout_loss) for g in record.recipe["grid"]],
        seeds=[s["seed"] for s in per_seed],
        accuracy=[f["accuracy"] for f in finals],
        interval=[(f["accuracy_low"], f["accuracy_high"]) for f in finals],
        loss=[f["loss"] for f in finals],
        by_distance={
            b: [f["by_distance"][b][1] / max(f["by_distance"][b][0], 1) for f in finals]
            for b in bins
        },
        bin_counts={b: finals[0]["by_distance"][b][0] for b in bins},
        steps=steps,
        curve_accuracy=[[p["accuracy"] for p in c] for c in curves],
        curve_loss=[[p["loss"] for p in c] for c in curves],
        n_params=record.n_params,
        copy_gain=[s["copying"]["copy_gain"] for s in per_seed if "copying" in s],
        best_induction=[
            s["copying"]["best_induction"]
            for s in per_seed
            if "best_induction" in s.get("copying", {})
        ],
        train_seconds=[s.train_seconds for s in record.seeds],
        ladder_seconds=sum(g.seconds for g in record.recipe["grid"]),
        device=record.device,
    )


def lambada_findings(root: Path = ROOT) -> LambadaFindings | None:
    """The findings of the LAMBADA records under root; None when there are none."""
    from training.suite_record import VariantRecord

    models, baselines, split, n_held = [], [], "", 0
    for name in MODELS:
        try:
            record = VariantRecord.read(root / name)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not record.lambada or "benchmark" not in record.lambada:
            continue
        models.append(_model(name, record))
        bench = record.lambada["benchmark"]
        baselines = baselines or bench["baselines"]
        split, n_held = bench["split"], bench["n_held_out"]
    if not models:
        return None
    comparisons = [
        Comparison(
            m.label,
            b["name"],
            m.mean_accuracy - b["accuracy"],
            m.half_width,
            (b["accuracy_low"], b["accuracy_high"]),
        )
        for m in models
        for b in baselines
        if b["name"] != "context_ceiling"
    ]
    findings = LambadaFindings(models, baselines, comparisons, split, n_held)
    return LambadaFindings(**{**findings.__dict__, "sentences": sentences(findings)})


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def sentences(f: LambadaFindings) -> list[str]:
    """What the numbers say, one sentence per model and comparison group."""
    out = []
    for m in f.models:
        spread = max(m.accuracy) - min(m.accuracy)
        out.append(
            f"{m.label}: held-out accuracy {_pct(m.mean_accuracy)} (seeds {', '.join(_pct(a) for a in m.accuracy)}; "
            f"spread {_pct(spread)}, 95% interval half-width up to {_pct(m.half_width)}), "
            f"word loss {sum(m.loss) / len(m.loss):.2f} nats, recipe {m.recipe}."
        )
        if m.copy_gain:
            induction = (
                f", best induction score {', '.join(f'{x:.3f}' for x in m.best_induction)}"
                if m.best_induction
                else ""
            )
            out.append(
                f"{m.label} copies: copy gain {', '.join(f'{x:+.2f}' for x in m.copy_gain)} "
                f"nats/token by seed{induction}."
            )
        mine = [c for c in f.comparisons if c.model == m.label]
        for c in mine:
            out.append(
                f"{m.label} vs {c.baseline}: {'+' if c.margin >= 0 else ''}{_pct(c.margin)} "
                f"({c.verdict}; the baseline's interval {_pct(c.baseline_interval[0])}–"
                f"{_pct(c.baseline_interval[1])})."
            )
    return out


def lambada_figure_from_records(root: Path = ROOT) -> Any:
    """`viz.lambada.lambada_figure` drawn from the records under root (None without records)."""
    from viz.lambada import BaselineLine, ModelSeries, lambada_figure

    f = lambada_findings(root)
    if f is None:
        return None
    bins = distance_bins()
    series = {
        m.label: ModelSeries(m.steps, m.curve_loss, m.curve_accuracy, m.by_distance)
        for m in f.models
    }
    lines = {
        b["name"]: BaselineLine(b["accuracy"], b["loss"])
        for b in f.baselines
        if b["name"] != "context_ceiling"
    }
    seeds = "; ".join(
        f"{m.label} {len(m.seeds)} seed{'' if len(m.seeds) == 1 else 's'}" for m in f.models
    )
    note = f"{f.n_held_out} held-out passages; bands and whiskers: lowest to highest seed ({seeds})"
    return lambada_figure(series, lines, bins, [f.models[0].bin_counts[b] for b in bins], note=note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--html", type=Path, help="also write the figure to this HTML file")
    args = parser.parse_args(argv)
    f = lambada_findings(args.root)
    if f is None:
        print(f"error: no LAMBADA records under {args.root}", file=sys.stderr)
        return 2
    print("\n".join(f.sentences))
    if args.html:
        lambada_figure_from_records(args.root).write_html(args.html, include_plotlyjs="cdn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
