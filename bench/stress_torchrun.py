"""Run the 2-step, 2-process `torchrun` training N times and count the runs that fail.

    python -m bench.stress_torchrun                # 100 runs (the bar: 0 failures)
    python -m bench.stress_torchrun --runs 3       # a quick check that it works
    python -m bench.stress_torchrun --parallel 4   # on a machine with 8+ free cores

Why: without `training.distributed.exit_process`, about 2% of these runs abort at exit ("terminate
called without an active exception", SIGABRT in rank 1), a race between interpreter finalisation
and gloo's worker threads after DDP. One run proves nothing about a 2% race; 100 runs
without a failure make a 2% rate unlikely (0.98**100 = 13%), and the failures it does find are
printed with their exit codes and the end of their stderr.

Each run is a fresh process tree on a fresh port with a tiny model and corpus, one thread per
process, so it measures the exit path, not training. Expect a few seconds per run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from training.distributed import torchrun_command

REPO = Path(__file__).resolve().parents[1]
# the tiny run of tests/test_distributed.py: what the test suite runs, and saw abort
MODEL = dict(n_ctx=16, d_model=32, n_layers=2, n_heads=2, d_head=16, d_mlp=64)
TRAIN = dict(
    max_steps=2,
    batch_size=4,
    warmup_steps=1,
    eval_interval=1,
    eval_batch_size=32,
    checkpoint_interval=1,
    progress=False,
    device="cpu",
    threads=1,
)


@dataclass(frozen=True)
class Outcome:
    run: int
    returncode: int
    seconds: float
    stderr_tail: str


def write_config(work: Path) -> Path:
    corpus = work / "corpus.txt"
    lines = [
        f"{i} the {'cat dog fox'.split()[i % 3]} sat on mat {i * 7 % 13}.\n" for i in range(150)
    ]
    corpus.write_text("".join(lines))
    train = TRAIN | {"corpus": str(corpus), "cache_dir": str(work / "cache")}
    config = work / "run.json"
    config.write_text(json.dumps({"model": MODEL, "train": train}))
    return config


def run_once(index: int, config: Path, work: Path, timeout: float) -> Outcome:
    command = torchrun_command(config, "--out_dir", str(work / f"run{index}"))
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
        code, err = done.returncode, done.stderr
    except subprocess.TimeoutExpired as e:
        code = -1
        err = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else ""
        err += f"\n(timed out after {timeout:.0f} s)"
    return Outcome(index, code, time.perf_counter() - start, err[-1500:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="how many torchrun runs (100)")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds per run before it fails"
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="runs at once, 2 processes each (1); a failure then may also be a port two runs "
        "picked at once: its stderr says which",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.parallel < 1:
        parser.error("--runs and --parallel must be at least 1")

    failures: list[Outcome] = []  # in order of completion
    seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="stress_torchrun.") as tmp:
        work = Path(tmp)
        config = write_config(work)
        # threads suffice: each run is a subprocess tree; the port is picked just before it starts
        with ThreadPoolExecutor(args.parallel) as pool:
            jobs = [pool.submit(run_once, i, config, work, args.timeout) for i in range(args.runs)]
            for n, job in enumerate(as_completed(jobs), start=1):
                outcome = job.result()
                seconds.append(outcome.seconds)
                ok = outcome.returncode == 0
                if not ok:
                    failures.append(outcome)
                verdict = "ok" if ok else f"FAILED (exit {outcome.returncode})"
                print(
                    f"{n}/{args.runs}: run {outcome.run + 1} {verdict} in {outcome.seconds:.1f} s"
                )
    for f in failures:
        print(f"\n--- run {f.run + 1}: exit {f.returncode}; end of stderr:\n{f.stderr_tail}")
    print(
        f"\n{len(failures)} of {args.runs} torchrun runs failed "
        f"(median {sorted(seconds)[len(seconds) // 2]:.1f} s per run)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
