"""Side-by-side timing for noisy machines: interleaved rounds, medians, paired ratios.

One absolute time on a shared machine means little: another process may take a core for a
second. So every contender runs once per round, rounds repeat many times, and a ratio is the
median of the per-round ratios: noise that hits a round hits both sides of that ratio alike.
The order inside a round rotates so that no contender always runs first (cold caches) or last.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

# wall: what a user waits. cpu: this process's CPU seconds, blind to the time other processes hold
# the cores, so much steadier on a loaded machine; with more than one thread it also counts threads
# spinning at a barrier, so pair it with --threads 1.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class Timings:
    """Seconds per call, one sample per round, for each contender (in the order given)."""

    samples: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def ratio(self, name: str, baseline: str) -> float:
        """Median over rounds of time(name) / time(baseline) within the same round."""
        pairs = zip(self.samples[name], self.samples[baseline], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def ratio_quartiles(self, name: str, baseline: str) -> tuple[float, float]:
        """25th and 75th percentile of the per-round ratios: how far to trust `ratio`."""
        ratios = [a / b for a, b in zip(self.samples[name], self.samples[baseline], strict=True)]
        if len(ratios) < 2:
            return ratios[0], ratios[0]
        q = statistics.quantiles(ratios, n=4)
        return q[0], q[2]


def interleaved(
    contenders: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int = 3,
    inner: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> Timings:
    """Time each contender `repeats` times, all of them once per round.

    inner: calls per sample, averaged, for calls too short for one timer reading to be exact.
    warmup: untimed rounds first (allocator, lazy initialisation, branch predictors).
    """
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # a collection inside one sample would be charged to whoever ran then
    try:
        with torch.no_grad():
            for round_ in range(warmup + repeats):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    fn = contenders[name]
                    start = clock()
                    for _ in range(inner):
                        fn()
                    elapsed = (clock() - start) / inner
                    if round_ >= warmup:
                        samples[name].append(elapsed)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timings(samples)


def print_table(timings: Timings, baselines: tuple[str, ...], unit: str = "ms") -> None:
    """Median per contender and, for each baseline, the median paired ratio with its quartiles."""
    scale = {"ms": 1e3, "s": 1.0}[unit]
    width = max(len(name) for name in timings.samples)
    head = "".join(f"  {'vs ' + b:>21}" for b in baselines)
    print(f"  {'contender':{width}}  {'median ' + unit:>9}{head}")
    for name in timings.samples:
        cells = ""
        for b in baselines:
            if name == b:
                cells += f"  {'1.00x':>21}"
                continue
            lo, hi = timings.ratio_quartiles(name, b)
            cells += f"  {timings.ratio(name, b):5.2f}x (IQR {lo:.2f}-{hi:.2f})"
        print(f"  {name:{width}}  {timings.median(name) * scale:9.3f}{cells}")


def add_timing_args(
    parser: argparse.ArgumentParser, repeats: int, warmup: int = 3, inner: int = 1
) -> None:
    parser.add_argument("--repeats", type=int, default=repeats, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=warmup, help="untimed rounds first")
    parser.add_argument("--inner", type=int, default=inner, help="calls per timed sample")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: leave torch's)"
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="cpu (with --threads 1) is steadier when other processes load the machine",
    )


def apply_timing_args(args: argparse.Namespace) -> str:
    """Set the thread count; returns a header line naming everything that shapes the timings."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    loads = os.getloadavg()
    load = ", ".join(f"{x:.1f}" for x in loads)
    cores = os.cpu_count() or 1
    if loads[0] > cores and (torch.get_num_threads() > 1 or args.clock == "wall"):
        print(
            f"warning: load average {loads[0]:.1f} on {cores} cores: other processes hold the "
            "cores, so wall-clock ratios are mostly noise (threads stall at barriers); "
            "--threads 1 --clock cpu gives steadier ratios"
        )
    return (
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"{os.cpu_count()} cores, load average {load}; {args.clock} clock, "
        f"{args.repeats} interleaved rounds x {args.inner} calls, medians"
    )
