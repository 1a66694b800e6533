"""The Train page while a run trains: page reruns, and the run's throughput against the CLI's.

    python bench/bench_train_page.py [--steps 150] [--rounds 2] [--threads 1] [--modes process thread]

Side by side, in alternating rounds (so load on the shared machine hits every mode alike):

    cli       `python -m training.train --config run.json`, the same RunConfig, nobody watching
    process   the Train page's worker process, started from the page (AppTest), the page rerun
              about once a second as its fragment does, and Explore rerun beside it
    thread    the same, the worker a thread of the page's process (the alternative not taken)

Prints, per mode, the median tokens/s over rounds and the ratio to the CLI's, and the medians of
the Train page's and Explore's reruns while the run trained. Bars: reruns <= 0.5 s median,
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


def cli_tokens_per_s(work: Path, steps: int, threads: int) -> float:
    out = work / "cli"
    run = spec_for(out, steps, threads).run
    config = work / "cli.json"
    config.write_text(json.dumps(run.to_dict()))
    done = subprocess.run(
        [sys.executable, "-m", "training.train", "--config", str(config), "--overwrite"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.search(r"([\d,]+) tokens/s", done.stdout).group(1).replace(",", ""))


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
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["process", "thread"])
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"cli": [], **{m: [] for m in args.modes}}
    reruns: dict[str, tuple[list, list]] = {m: ([], []) for m in args.modes}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for r in range(args.rounds):
        for mode in ["cli", *args.modes]:
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                if mode == "cli":
                    rates[mode].append(cli_tokens_per_s(work, args.steps, args.threads))
                else:
                    rate, page_s, explore_s = page_run(
                        work, args.steps, args.threads, mode == "thread"
                    )
                    rates[mode].append(rate)
                    reruns[mode][0].extend(page_s)
                    reruns[mode][1].extend(explore_s)
            print(f"round {r} {mode:8s} {rates[mode][-1]:10,.0f} tokens/s", flush=True)
    cli = statistics.median(rates["cli"])
    print(f"\nload average after: {os.getloadavg()[0]:.1f}; threads {args.threads}")
    print(
        f"{'mode':8s} {'tokens/s':>10s} {'x CLI':>6s} {'Train rerun':>12s} {'Explore rerun':>14s}"
    )
    print(f"{'cli':8s} {cli:10,.0f} {1.0:6.2f}")
    for mode in args.modes:
        rate = statistics.median(rates[mode])
        page, explore = (statistics.median(x) for x in reruns[mode])
        verdict = (
            "meets"
            if rate / cli >= THROUGHPUT_BAR and max(page, explore) <= RERUN_BAR_S
            else "MISSES"
        )
        print(
            f"{mode:8s} {rate:10,.0f} {rate / cli:6.2f} {page:10.3f} s {explore:12.3f} s  "
            f"{verdict} the bars (>= {THROUGHPUT_BAR}x, <= {RERUN_BAR_S} s)"
        )


if __name__ == "__main__":
    main()
