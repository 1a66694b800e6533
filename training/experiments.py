"""The ablation suite: every variant at its own best learning rate, several seeds, shipped records.

    python -m training.experiments [--suite configs/suite.toml] [--only baseline lstm] [--jobs 2]
    python -m training.experiments --ray auto            # spread the runs over a Ray cluster
    python -m training.experiments --status              # what is done, running, waiting

The plan (training/suite.py): each variant trains at every grid point with the first seed, the point
with the lowest loss on a held-out slice of the training split wins, and the winner trains again with
the remaining seeds. Every run is an independent job (training/suite_job.py) in its own process
(training/executors.py; a Ray task with training/suite_ray.py) that resumes from its last
checkpoint, so an interrupted suite continues where it stopped; a run that another live process is
training is never started twice. When all seeds of a variant have finished,
its record and the median seed's weights are written to <out_dir>/<variant>/ (training/suite_record.py).
A run folder that holds a run of another spec (the spec changed, its work_dir did not) is neither
counted nor resumed: the scheduler refuses it and names the fields that differ
(training/suite.py, `stale_reason`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from model.safe_read import ReadRefused
from training.executors import Executor, LocalExecutor, log_path
from training.suite import (
    RunKey,
    Suite,
    Variant,
    best_point,
    pending_runs,
    read_suite,
    stale_reason,
    summary_of,
    variant_done,
)
from training.suite_job import lock_holder


def run_suite(suite: Suite, names: list[str], executor: Executor) -> list[str]:
    """Submit every pending run of `names` in priority order as slots free up, record each variant
    when its last seed finishes; returns the runs that failed (crashed, not diverged)."""
    variants = [suite.variant(n) for n in names]
    failed: list[str] = []
    finalized: set[str] = set()
    while True:
        pending = pending_runs(suite, variants)
        # runs another process trains (not this scheduler's own children, which hold locks too)
        elsewhere = {
            k
            for k in pending
            if k not in executor.running and lock_holder(suite.run_dir(k)) is not None
        }
        todo = [
            k
            for k in pending
            if k not in executor.running and k not in elsewhere and str(k) not in failed
        ]
        for key, why in [(k, stale_reason(suite, k)) for k in todo]:
            if why is not None:
                todo.remove(key)
                failed.append(str(key))
                print(
                    f"refused {key}: {suite.run_dir(key)} holds a run of another spec ({why}); "
                    "give the suite a new work_dir or remove that folder",
                    flush=True,
                )
        # runs another process is training (an earlier scheduler's children) take slots too
        while todo and len(executor.running) + len(elsewhere) < executor.slots:
            key = todo.pop(0)
            executor.submit(key)
            print(f"started {key}", flush=True)
        for v in variants:
            if v.name not in finalized and variant_done(suite, v):
                finalized.add(v.name)
                if record_is_current(suite, v):
                    continue  # written by an earlier scheduler from these same runs
                try:
                    finalize(suite, v.name)
                except Exception as e:  # a record can be rewritten later with --finalize
                    print(f"could not record {v.name}: {type(e).__name__}: {e}", flush=True)
        if not executor.running and not todo:
            if not elsewhere:
                return failed
            time.sleep(5)  # another process is training some of these runs; wait for it
            continue
        for key, code in executor.finished(timeout=1.0):
            summary = summary_of(suite, key)
            if code or summary is None:
                failed.append(str(key))
                print(f"failed {key}: exit {code} (see {log_path(suite, key)})", flush=True)
            else:
                loss = summary.holdout_loss if summary.holdout_loss is not None else math.nan
                print(
                    f"finished {key}: {summary.status}, holdout {loss:.4f}, {summary.seconds} s",
                    flush=True,
                )


def record_is_current(suite: Suite, variant: Variant) -> bool:
    """Whether the shipped record was written from the runs that exist now (same config, recipe,
    points tried and seeds, and its side-by-side timing where it needs one), so a restarted
    scheduler does not redo its evaluations (LAMBADA, samples, mask flips)."""
    from training.suite_record import VariantRecord, spec_changes, timed_against

    try:
        record = VariantRecord.read(suite.out_dir / variant.name)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    point = best_point(suite, variant)
    return (
        record.complete
        and point is not None
        and record.recipe.get("chosen") == point
        and [g.point for g in record.recipe.get("grid", [])]
        == [k.point for k in suite.search_runs(variant)]
        and sorted(s.seed for s in record.seeds) == sorted(suite.seeds)
        and not spec_changes(suite, record)
        and (record.speed is not None or timed_against(suite, variant) is None)
    )


def finalize(suite: Suite, name: str) -> None:
    from training.suite_record import write_variant_record

    record = write_variant_record(suite, suite.variant(name))
    print(f"recorded {name}: {record.summary_line()}", flush=True)


def print_status(suite: Suite) -> None:
    for v in suite.variants:
        keys = suite.search_runs(v)
        done = [k for k in keys if summary_of(suite, k) is not None]
        state = "complete" if variant_done(suite, v) else f"search {len(done)}/{len(keys)}"
        point = best_point(suite, v)
        runs = [*keys, *(suite.seed_runs(v, point) if point else [])]
        stale = {str(k): why for k in runs if (why := stale_reason(suite, k)) is not None}
        if stale:
            first = min(stale)
            state += (
                f"; {len(stale)} folder{'s' if len(stale) > 1 else ''} of another spec's runs "
                f"(e.g. {first}: {stale[first]})"
            )
        print(f"{v.name:20s} {state}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train every variant of an ablation suite at its best recipe and record the results."
    )
    parser.add_argument("--suite", default="configs/suite.toml", help="suite spec (TOML)")
    parser.add_argument(
        "--only", nargs="*", help="variant names to run (default: all, in spec order)"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once, each in its own process"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument(
        "--ray", metavar="ADDRESS", help="run the jobs on a Ray cluster ('auto' or HOST:PORT)"
    )
    parser.add_argument("--job", metavar="KEY", help="train one run (VARIANT/POINT/seedN) and exit")
    parser.add_argument(
        "--finalize",
        nargs="*",
        metavar="VARIANT",
        help="(re)write the records of finished variants",
    )
    parser.add_argument("--status", action="store_true", help="print what is done and exit")
    args = parser.parse_args(argv)
    try:
        suite = read_suite(args.suite)
    except (OSError, ValueError, KeyError) as e:
        named = isinstance(e, ReadRefused)  # the bounded reader names the file itself
        print(f"error: {e}" if named else f"error: {args.suite}: {e}", file=sys.stderr)
        return 2
    if args.threads < 1 or args.jobs < 1:
        parser.error("--jobs and --threads must be at least 1")
    if args.job:
        import torch

        from training.suite_job import StaleRun, run_job

        torch.set_num_threads(args.threads)
        try:
            summary = run_job(suite, RunKey.parse(args.job))
        except StaleRun as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{args.job}: {summary}", flush=True)
        return 0
    if args.status:
        print_status(suite)
        return 0
    names = args.only or [v.name for v in suite.variants]
    unknown = sorted(set(names) - {v.name for v in suite.variants})
    if unknown:
        parser.error(f"unknown variants {unknown}")
    if args.finalize is not None:
        for name in args.finalize or [n for n in names if variant_done(suite, suite.variant(n))]:
            finalize(suite, name)
        return 0
    if args.ray:
        from training.suite_ray import RayExecutor

        try:
            executor: Executor = RayExecutor(suite, args.suite, args.threads, args.ray, args.jobs)
        except (ImportError, ConnectionError, RuntimeError) as e:
            print(f"error: --ray {args.ray}: {e}", file=sys.stderr)
            return 2
    else:
        executor = LocalExecutor(suite, args.suite, args.threads, args.jobs)
    failed = run_suite(suite, names, executor)
    if failed:
        print(f"failed runs: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
