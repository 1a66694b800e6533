"""The induction experiment's results table and bars, generated from its records; never typed by hand.

    python -m training.induction_table [--root checkpoints] [--suite configs/induction.toml]
        [--doc docs/induction.md]

Prints the table (or replaces the text between the INDUCTION markers of the page). Every number
is read from checkpoints/induction_*/record.json: the final measurement of each seed (mean ± std
over seeds), the phase change the rule (interp/phase.py) found in each seed, the recipe the
ladder chose and the training cost. Running it twice on the same records gives the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from training.suite import read_suite
from training.suite_record import RECORD, Spread, VariantRecord

START, END = "<!-- INDUCTION:START -->", "<!-- INDUCTION:END -->"
INDUCTION_BAR = 0.3  # best head's induction score on repeated random tokens
COPY_GAIN_BAR = 0.5  # nats per token: first copy's loss minus the second's, mean over seeds


def load_records(root: Path, names: list[str]) -> list[VariantRecord]:
    out = []
    for name in names:
        path = root / name / RECORD
        if path.exists():
            out.append(VariantRecord.read(root / name))
    return out


def spread(record: VariantRecord, key: str) -> Spread:
    m = record.measurements or {}
    s = (m.get("spread") or {}).get(key)
    return Spread(**s) if s else Spread(None, None, 0)


def phases(record: VariantRecord) -> list[tuple[int, dict[str, Any]]]:
    m = record.measurements or {}
    return sorted((int(seed), p) for seed, p in (m.get("phase") or {}).items())


def phase_text(record: VariantRecord) -> str:
    cells = []
    for seed, p in phases(record):
        if p.get("found"):
            rise = ""
            if p.get("score_before") is not None:
                rise = f", head {p['score_before']:.2f}→{p['score_after']:.2f}"
            cells.append(f"seed {seed}: {p['start']}–{p['end']} (−{p['fall']:.2f}{rise})")
        else:
            cells.append(f"seed {seed}: none")
    return "; ".join(cells) if cells else "–"


def _cost(records: list[VariantRecord]) -> str:
    seconds = 0.0
    for r in records:
        seconds += sum(g.seconds for g in r.recipe.get("grid", []))
        seconds += sum(s.train_seconds for s in r.seeds if s.seed != r.recipe["grid"][0].seed)
    devices = sorted({r.device for r in records})
    runs = sum(len(r.recipe.get("grid", [])) + len(r.seeds) - 1 for r in records)
    return (
        f"Cost: {runs} training runs, {seconds / 3600:.2f} run-hours of training "
        f"(measurements included) on {', '.join(devices)}, one thread each."
    )


def table(records: list[VariantRecord]) -> str:
    lines = [
        "| model | parameters | lr (ladder) | best induction score | copy gain (nats/token) "
        "| second copy | plain validation | phase change (rule) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r.name} | {r.n_params:,} | {r.recipe.get('chosen')} "
            f"| {spread(r, 'best_induction').text(3)} | {spread(r, 'copy_gain').text(3)} "
            f"| {spread(r, 'second_copy_loss').text(3)} | {spread(r, 'val_loss').text(3)} "
            f"| {phase_text(r)} |"
        )
    return "\n".join(lines)


def bars(records: list[VariantRecord]) -> list[str]:
    """The experiment's bars, each with its measured number: met, or not."""
    out = []
    two = [r for r in records if r.model_config.get("n_layers") == 2 and _attention(r)]
    for r in two:
        score = max((s.get("best_induction") or 0.0) for s in _finals(r))
        gain = spread(r, "copy_gain")
        ok = score >= INDUCTION_BAR and gain.mean is not None and gain.mean >= COPY_GAIN_BAR
        out.append(
            f"- {'met' if ok else 'NOT met'}: {r.name}: best head {score:.3f} "
            f"(bar {INDUCTION_BAR}), copy gain {gain.text(3)} nats/token over {gain.n} seeds "
            f"(bar {COPY_GAIN_BAR})"
        )
        found = [p.get("found") for _, p in phases(r)]
        out.append(
            f"- {'met' if found and all(found) else 'NOT met'}: {r.name}: phase change found in "
            f"{sum(bool(f) for f in found)} of {len(found)} seeds"
        )
    for r in records:
        if r.model_config.get("n_layers") == 1 and _attention(r):
            out.append(
                f"- beside it, {r.name}: best head {spread(r, 'best_induction').text(3)}, "
                f"copy gain {spread(r, 'copy_gain').text(3)} nats/token"
            )
    return out


def _attention(r: VariantRecord) -> bool:
    return r.model_config.get("architecture", "transformer") == "transformer"


def _finals(r: VariantRecord) -> list[dict[str, Any]]:
    return list(((r.measurements or {}).get("final") or {}).values())


def render(root: Path, suite_path: Path) -> str:
    suite = read_suite(suite_path)
    names = [v.name for v in suite.variants]
    records = load_records(root, names)
    missing = [n for n in names if n not in {r.name for r in records}]
    parts = [table(records), "", *bars(records), ""] if records else []
    if missing:
        parts += [f"Not trained yet: {', '.join(missing)}.", ""]
    if records:
        parts += [_cost(records), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="checkpoints", type=Path)
    parser.add_argument("--suite", default="configs/induction.toml", type=Path)
    parser.add_argument(
        "--doc",
        "--readme",
        dest="readme",
        type=Path,
        help="replace the INDUCTION block of this page",
    )
    args = parser.parse_args(argv)
    text = render(args.root, args.suite)
    if args.readme is None:
        print(text, end="")
        return 0
    readme = args.readme.read_text()
    if START not in readme or END not in readme:
        print(f"{args.readme}: no {START} ... {END} block", flush=True)
        return 2
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    args.readme.write_text(f"{head}{START}\n{text}{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
