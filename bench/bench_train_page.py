"""The Train page while a run trains: page reruns, and the run's throughput against the CLI's.

    python bench/bench_train_page.py [--steps 300] [--rounds 2] [--threads 1] [--apart]
                                     [--modes process thread]

Each page run beside a CLI run of the same config started at the same moment, so both see the
same load on a shared machine (runs one after the other moved by 2.7x here under other jobs):

    cli       `python -m training.train --config run.json`, the same RunConfig, nobody watching,
              started at the same moment as each page run (--apart: before it)
    process   the Train page's worker process, started from the page (AppTest), the page rerun
              about once a second as its fragment does, and Explore rerun beside it
    thread    the same, the worker a thread of the page's process (the alternative not taken)

Prints, per mode, the median over rounds of the page run's tokens/s over the CLI's beside it, and
the medians of the Train page's and Explore's reruns while the run trained. Bars: reruns <= 0.5 s median,
throughput >= 0.85x the CLI's at the same thread count. Needs Tiny Shakespeare
($ATTENTION_LAB_DATA).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RERUN_BAR_S = 0.5
THROUGHPUT_BAR = 0.85
SIZES = {"n_layers": 2, "d_model": 64, "d_head": 16, "d_mlp": 256}  # ~100k parameters


def spec_for(out_dir: Path, steps: int, threads: int):
    from analysis.train_form import form_fields, live_spec

    fields = {f.name: f.default for f in form_fields()} | SIZES
    return live_spec(fields, steps, 3e-3, 12, 0, out_dir, 600.0, threads)


def start_cli(work: Path, steps: int, threads: int) -> subprocess.Popen[str]:
    out = work / "cli"
    run = spec_for(out, steps, threads).run
    config = work / "cli.json"
    config.write_text(json.dumps(run.to_dict()))
    return subprocess.Popen(
        [sys.executable, "-m", "training.train", "--config", str(config), "--overwrite"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def cli_result(proc: subprocess.Popen[str]) -> float:
    out, _ = proc.communicate()
    return float(re.search(r"([\d,]+) tokens/s", out).group(1).replace(",", ""))


def cli_tokens_per_s(work: Path, steps: int, threads: int) -> float:
    return cli_result(start_cli(work, steps, threads))


def page_run(work: Path, steps: int, threads: int, thread: bool) -> tuple[float, list, list]:
    """(tokens/s, Train page rerun seconds, Explore rerun seconds) for one run from the page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import ui.train_panel as panel
    from analysis.live_training import Registry

    os.environ["ATTENTION_LAB_USER_RUNS"] = str(work / "user")
    st.cache_resource.clear()
    st.cache_data.clear()
    registry = Registry(work / "user", thread=thread)
    panel.registry = lambda: registry  # the page's shared table, in the chosen worker mode
    train = AppTest.from_file(str(REPO / "pages/train.py"), default_timeout=120)
    train.query_params["run"] = "bench"
    train.run()
    for name, value in SIZES.items():
        train.number_input(key=f"tr_{name}").set_value(value)
    train.number_input(key="tr_steps").set_value(steps)
    train.number_input(key="tr_lr").set_value(3e-3)
    train.button(key="tr_start").click().run()
    run = registry.get("bench")
    assert run is not None, [e.value for e in train.error]
    explore = AppTest.from_file(str(REPO / "pages/explore.py"), default_timeout=120).run()
    page_s, explore_s = [], []
    while run.alive():
        t0 = time.perf_counter()
        train.run()
        page_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        explore.run()
        explore_s.append(time.perf_counter() - t0)
        time.sleep(max(0.0, 1.0 - page_s[-1] - explore_s[-1]))  # the fragment's period
    progress = run.progress()
    assert progress.state == "completed", progress
    rate = next(r["tokens_per_s"] for r in reversed(progress.curve) if "tokens_per_s" in r)
    return float(rate), page_s, explore_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["process", "thread"])
    parser.add_argument(
        "--apart",
        action="store_true",
        help="run the CLI on its own before each page run (default: at the same time, so both "
        "see the same load on a shared machine)",
    )
    args = parser.parse_args()
    ratios: dict[str, list[float]] = {m: [] for m in args.modes}
    rates: dict[str, list[float]] = {m: [] for m in args.modes}
    reruns: dict[str, tuple[list, list]] = {m: ([], []) for m in args.modes}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for r in range(args.rounds):
        for mode in args.modes:
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                cli = start_cli(work, args.steps, args.threads)
                if args.apart:
                    cli_rate = cli_result(cli)
                rate, page_s, explore_s = page_run(work, args.steps, args.threads, mode == "thread")
                if not args.apart:
                    cli_rate = cli_result(cli)
            rates[mode].append(rate)
            ratios[mode].append(rate / cli_rate)
            reruns[mode][0].extend(page_s)
            reruns[mode][1].extend(explore_s)
            print(
                f"round {r} {mode:8s} {rate:8,.0f} tokens/s, CLI beside it {cli_rate:8,.0f}: "
                f"{rate / cli_rate:.2f}x; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print(f"\nthreads {args.threads}; {'apart' if args.apart else 'side by side'}")
    print(f"{'mode':8s} {'x CLI':>6s} {'Train rerun':>12s} {'Explore rerun':>14s}  (medians)")
    for mode in args.modes:
        ratio = statistics.median(ratios[mode])
        page, explore = (statistics.median(x) for x in reruns[mode])
        ok = ratio >= THROUGHPUT_BAR and max(page, explore) <= RERUN_BAR_S
        print(
            f"{mode:8s} {ratio:6.2f} {page:10.3f} s {explore:12.3f} s  "
            f"{'meets' if ok else 'MISSES'} the bars (>= {THROUGHPUT_BAR}x, <= {RERUN_BAR_S} s)"
        )


if __name__ == "__main__":
    main()
