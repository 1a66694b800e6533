"""Hyperparameter sweeps: every combination of a few field values, over several seeds.

    python -m training.sweep --config configs/baby_gpt_char.toml \\
        --grid lr=1e-3,2.5e-3 --grid gelu=tanh,exact --seeds 1337,1338 \\
        [--grid lr+min_lr=2e-3:2e-4,4e-3:4e-4]  (fields that move together) \\
        [--set max_steps=1500 ...] [--jobs 2 --threads 1] [--out runs/sweep]

Each run is `python -m training.train` in a process of its own, so a divergence or a crash is one
row of the table rather than the end of the sweep, and runs can go side by side (--jobs; on a CPU
give each --threads cores' worth, or they fight over the cores and every run slows down). Every
combination is checked against the config dataclasses before the first run starts. Prints the
final full-split validation loss per combination (mean, min and max over seeds) and its training
seconds, best first, and writes one JSON line per run to <out>/results.jsonl.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from training.cli import OneLineParser, config_parser, run_config_from_args
from training.metrics import read_metrics

REPO = Path(__file__).resolve().parents[1]  # runs start here, so `-m training.train` resolves
Assignment = tuple[tuple[str, str], ...]  # (field, value as typed on the command line), in order


@dataclass(frozen=True)
class SweepRun:
    combo: Assignment  # the grid's values (the seed excluded)
    fixed: Assignment  # the --set values, the same for every run
    seed: int
    out_dir: Path

    @property
    def flags(self) -> list[str]:
        pairs = [*self.fixed, *self.combo, ("seed", str(self.seed)), ("out_dir", str(self.out_dir))]
        return [token for name, value in pairs for token in (f"--{name}", value)]


def parse_axis(text: str) -> list[Assignment]:
    """One axis of the grid, a list of points:
    "lr=1e-3,2e-3"             -> [(("lr", "1e-3"),), (("lr", "2e-3"),)]
    "lr+min_lr=1e-3:1e-4,2e-3:2e-4" -> [(("lr", "1e-3"), ("min_lr", "1e-4")), ...]
    """
    names_text, sep, values = text.partition("=")
    names = [n.strip() for n in names_text.split("+")]
    points = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not all(names) or not points:
        raise ValueError(f"{text!r}: expected FIELD[+FIELD...]=VALUE[:VALUE...][,...]")
    axis = []
    for point in points:
        parts = point.split(":")
        if len(parts) != len(names):
            raise ValueError(
                f"{text!r}: {point!r} gives {len(parts)} values for {len(names)} fields"
            )
        axis.append(tuple(zip(names, parts, strict=True)))
    return axis


def run_name(combo: Assignment, seed: int) -> str:
    parts = [f"{name}-{value}" for name, value in combo] + [f"seed-{seed}"]
    return re.sub(r"[^A-Za-z0-9._-]", "_", "_".join(parts))


RESERVED = ("seed", "out_dir", "config")  # the sweep sets these itself, per run


def plan(
    config: str | None, grid: list[str], fixed: list[str], seeds: list[int], out: Path
) -> list[SweepRun]:
    """Every combination of the grid for every seed; raises ValueError on a bad field or value,
    on a field given twice (the last flag would win silently) and on runs sharing a folder."""
    axes = [parse_axis(g) for g in grid]
    base: list[tuple[str, str]] = []
    for text in fixed:
        points = parse_axis(text)
        if len(points) != 1:
            raise ValueError(f"--set {text!r}: one value per field (use --grid for several)")
        base.extend(points[0])
    named = [name for name, _ in base] + [name for axis in axes for name, _ in axis[0]]
    for name in named:
        if name in RESERVED:
            raise ValueError(f"{name!r} is set by the sweep itself (use --seeds / --out)")
        if named.count(name) > 1:
            raise ValueError(f"{name!r} is given more than once across --grid and --set")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds} repeat one: the runs would be identical")
    runs = []
    for point in itertools.product(*axes):
        combo = tuple(pair for assignment in point for pair in assignment)
        for seed in seeds:
            run = SweepRun(combo, tuple(base), seed, out / run_name(combo, seed))
            _check(config, run)
            runs.append(run)
    if len({r.out_dir for r in runs}) != len(runs):
        raise ValueError("two runs map to one folder name: values differ only in punctuation")
    return runs


def _check(config: str | None, run: SweepRun) -> None:
    parser = config_parser("check")
    argv = (["--config", config] if config else []) + run.flags
    try:
        run_config_from_args(parser.parse_args(argv))
    except SystemExit as e:  # argparse names the bad flag or value on stderr
        raise ValueError(f"{' '.join(run.flags)}: not a valid training command line") from e
    except (TypeError, ValueError, OSError) as e:
        raise ValueError(f"{' '.join(run.flags)}: {e}") from e


@dataclass(frozen=True)
class RunResult:
    combo: dict[str, str]
    seed: int
    status: Literal["completed", "diverged", "failed"]
    val_loss: float | None  # the last evaluation's (the final one covers the whole split)
    step: int | None
    seconds: float | None  # training time the run logged
    out_dir: str


@dataclass(frozen=True)
class SummaryRow:
    combo: dict[str, str]
    runs: int
    failed: int  # diverged or crashed
    mean: float  # over completed runs; inf when none completed
    min: float
    max: float
    seconds: float | None  # median over completed runs


def execute(config: str | None, run: SweepRun, threads: int | None) -> RunResult:
    """Train one run in a subprocess and summarise its metrics log."""
    # each sweep run starts afresh in its folder, as it always did (train refuses to replace an
    # earlier run unless told to)
    argv = [sys.executable, "-m", "training.train", "--progress", "false", "--overwrite"]
    argv += run.flags
    if config:
        argv += ["--config", str(Path(config).resolve())]
    env = dict(os.environ)
    if threads:
        argv += ["--threads", str(threads)]
        env["OMP_NUM_THREADS"] = str(threads)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    log_path = run.out_dir / "metrics.jsonl"
    log_path.unlink(missing_ok=True)  # a run that dies early must not report an earlier sweep's
    with open(run.out_dir / "train.log", "w") as log:
        code = subprocess.run(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO
        ).returncode
    records = read_metrics(log_path)
    evals = [r for r in records if "val_loss" in r]
    diverged = any(r.get("event") == "diverged" for r in records)
    last = evals[-1] if evals else {}
    return RunResult(
        combo=dict(run.combo),
        seed=run.seed,
        status="diverged" if diverged else ("completed" if code == 0 and evals else "failed"),
        val_loss=last.get("val_loss"),
        step=last.get("step"),
        seconds=records[-1].get("elapsed_s") if records else None,
        out_dir=str(run.out_dir),
    )


def summarise(results: list[RunResult]) -> list[SummaryRow]:
    """One row per combination: those whose every seed completed first, then by mean final val
    loss; a combination that diverged on any seed never ranks above one that never did."""
    groups: dict[str, list[RunResult]] = {}
    for r in results:
        groups.setdefault(json.dumps(r.combo), []).append(r)
    rows = []
    for key, rs in groups.items():
        ok = [r for r in rs if r.status == "completed" and r.val_loss is not None]
        losses = [float(r.val_loss) for r in ok if r.val_loss is not None]
        seconds = [r.seconds for r in ok if r.seconds is not None]
        rows.append(
            SummaryRow(
                combo=json.loads(key),
                runs=len(rs),
                failed=len(rs) - len(ok),
                mean=statistics.fmean(losses) if losses else math.inf,
                min=min(losses, default=math.inf),
                max=max(losses, default=math.inf),
                seconds=statistics.median(seconds) if seconds else None,
            )
        )
    return sorted(rows, key=lambda row: (row.failed > 0, row.mean))


def format_table(rows: list[SummaryRow]) -> str:
    lines = ["  val loss (mean  min  max)  runs  failed  median s  combination"]
    for row in rows:
        combo = " ".join(f"{k}={v}" for k, v in row.combo.items()) or "(config as given)"
        seconds = f"{row.seconds:8.1f}" if row.seconds is not None else "       -"
        lines.append(
            f"  {row.mean:8.4f} {row.min:7.4f} {row.max:7.4f}  {row.runs:4d}"
            f"  {row.failed:6d}  {seconds}  {combo}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])  # a refusal is one line
    parser.add_argument("--config", help="the base TOML/JSON config every run starts from")
    parser.add_argument(
        "--grid", action="append", default=[], help="FIELD=V1,V2 or F1+F2=A1:A2,B1:B2: an axis"
    )
    parser.add_argument("--set", action="append", default=[], help="FIELD=V for every run")
    parser.add_argument("--seeds", default="1337", help="comma-separated seeds (default 1337)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at the same time")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run")
    parser.add_argument("--out", default="runs/sweep", help="folder for runs and results.jsonl")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()  # runs start in the repository root
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        runs = plan(args.config, args.grid, args.set, seeds, out)
    except ValueError as e:
        parser.error(str(e))
    print(f"{len(runs)} runs, {args.jobs} at a time, in {out}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    with (
        ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool,
        open(out / "results.jsonl", "w") as sink,
    ):
        futures = [pool.submit(execute, args.config, run, args.threads) for run in runs]
        for future in as_completed(futures):  # written as each finishes: a cut sweep keeps its rows
            result = future.result()
            results.append(result)
            sink.write(json.dumps(asdict(result)) + "\n")
            sink.flush()
            print(f"  {result.status:9s} {result.val_loss}  {result.out_dir}")
    print(format_table(summarise(results)))
    return 0 if any(r.status == "completed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
