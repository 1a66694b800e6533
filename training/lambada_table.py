"""docs/lambada.md's LAMBADA table, generated from the shipped records.

    python -m training.lambada_table [--root checkpoints]

prints the markdown between that page's LAMBADA markers; `tests/test_lambada_table.py` checks that
the page shows exactly this output, so the table cannot drift from the records.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.lambada_findings import ROOT, LambadaFindings, lambada_findings
from training.lambada_words import distance_bins

START = "<!-- lambada-table:start (python -m training.lambada_table) -->"
END = "<!-- lambada-table:end -->"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _spread(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{scale * mean:.{digits}f}"
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def render(f: LambadaFindings) -> str:
    bins = distance_bins()
    lines = [
        f"Held-out passages: {f.n_held_out}. Accuracy in % (mean ± std over seeds; the 95% Wilson "
        "interval is each seed's, lowest to highest end over seeds); word loss in nats per word; "
        "copy gain in nats per token (loss on the first minus the second copy of repeated "
        "held-out text); best induction: the largest induction score of any head on repeated "
        "random tokens.",
        "",
        "| predictor | recipe (ladder's choice) | accuracy % | 95% interval % | word loss "
        "| copy gain | best induction | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in f.models:
        lo = min(low for low, _ in m.interval)
        hi = max(high for _, high in m.interval)
        lines.append(
            f"| {m.label} ({m.n_params:,} params) | {m.recipe} | {_spread(m.accuracy)} "
            f"| {_pct(lo)}–{_pct(hi)} | {_spread(m.loss, 1.0, 2)} "
            f"| {_spread(m.copy_gain, 1.0, 2) if m.copy_gain else '–'} "
            f"| {_spread(m.best_induction, 1.0, 3) if m.best_induction else '–'} | {len(m.seeds)} |"
        )
    for b in f.baselines:
        loss = f"{b['loss']:.2f}" if b["loss"] is not None else "–"
        lines.append(
            f"| {b['name']}: {b['description']} | – | {_pct(b['accuracy'])} "
            f"| {_pct(b['accuracy_low'])}–{_pct(b['accuracy_high'])} | {loss} | – | – | – |"
        )
    counts = f.models[0].bin_counts
    lines += [
        "",
        "Accuracy % by copy distance (context words back to the target's previous occurrence), "
        "mean ± std over seeds:",
        "",
        "| predictor | " + " | ".join(f"{b} (n={counts[b]})" for b in bins) + " |",
        "|---|" + "---|" * len(bins),
    ]
    for m in f.models:
        cells = " | ".join(_spread(m.by_distance[b]) for b in bins)
        lines.append(f"| {m.label} | {cells} |")
    for b in f.baselines:
        if b["name"].startswith("context_") or b["name"] == "ngram":
            cells = " | ".join(
                _pct(b["by_distance"][k][1] / max(b["by_distance"][k][0], 1)) for k in bins
            )
            lines.append(f"| {b['name']} | {cells} |")
    total = sum(m.run_seconds for m in f.models)
    devices = ", ".join(sorted({m.device for m in f.models}))
    lines += [
        "",
        f"Cost: {total / 3600:.2f} run-hours of training ({', '.join(f'{m.label} {m.run_seconds / 3600:.2f}' for m in f.models)}; "
        f"ladder and seeds, evaluations included) on {devices}, one thread per run.",
    ]
    lines += ["", "Ladder (held-out loss of the first seed at each rate tried):", ""]
    for m in f.models:
        tried = ", ".join(
            f"{p} {loss:.4f}" if loss is not None else f"{p} failed" for p, loss in m.ladder
        )
        lines.append(f"- {m.label}: {tried}; chosen {m.recipe}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    f = lambada_findings(args.root)
    if f is None:
        print(f"error: no LAMBADA records under {args.root}", file=sys.stderr)
        return 2
    print(render(f))
    return 0


if __name__ == "__main__":
    sys.exit(main())
