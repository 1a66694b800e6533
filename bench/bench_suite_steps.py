"""Training-step time of every suite variant against the baseline, timed side by side.

    python -m bench.bench_suite_steps                  # every language-model variant
    python -m bench.bench_suite_steps --only additive lstm

What a variant costs decides whether the suite fits a machine: a run is `max_steps` of these
steps plus its evaluations. Each variant's model is built as the suite builds it (a 65-character
vocabulary, the spec's batch, context and precision) and trained for a few steps in interleaved
rounds with the baseline in one process and one thread (`training.step_timing`), so the ratios
hold however busy the machine is; the seconds are this machine's, at this moment.
"""

from __future__ import annotations

import argparse

import torch

from training.step_timing import time_steps_side_by_side
from training.suite import read_suite

CHARS = 65  # Tiny Shakespeare's character vocabulary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="configs/suite.toml")
    parser.add_argument("--only", nargs="*", help="variant names (default: every LM variant)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="steps per round")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    suite = read_suite(args.suite)
    names = args.only or [v.name for v in suite.variants if v.run.train.task == "lm"]
    base = suite.variant("baseline")
    print(f"{'variant':18s} {'s/step':>8s} {'x baseline':>11s} {'one run (steps x s/step)':>26s}")
    for name in names:
        if name == "baseline":
            continue
        v = suite.variant(name)
        models = {
            "baseline": (base.run.model.replace(vocab_size=CHARS), base.run.train),
            name: (v.run.model.replace(vocab_size=CHARS), v.run.train),
        }
        t = time_steps_side_by_side(models, rounds=args.rounds, steps_per_round=args.steps)
        run_min = v.run.train.max_steps * t.seconds[name] / 60
        print(
            f"{name:18s} {t.seconds[name]:8.3f} {t.ratio(name, 'baseline'):10.2f}x "
            f"{run_min:22.1f} min",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
