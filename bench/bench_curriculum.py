"""The Curriculum page's bars, measured through Streamlit's AppTest (no browser):

1. the first tab, cold (empty caches, the page opened from another page): goal <= 3 s;
2. every further tab, first visit and revisit: goal <= 1 s each.

Live parts load the shipped variants' weights and measure on the default prompt, so the models
matter: by default a suite root is written to a temp folder with schema-2 records for every
variant and weights at the suite spec's own size (4 layers, d_model 128, context 128; random
weights: timing does not depend on them). `--root checkpoints` measures the shipped folder as it
is. Wall clock, on whatever else the machine is running.

    .venv/bin/python -m bench.bench_curriculum [--root checkpoints]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also runnable as `python bench/bench_curriculum.py`
    sys.path.insert(0, str(REPO_ROOT))

TABS = ("Q1 · time", "Q2 · Q, K, V", "Q3 · layers", "Q4 · skips", "The mask")
LIVE = ("baseline", "lstm", "shared_layers", "narrow_separate", "no_residual", "post_ln")


def timed(at, tab: str | None = None) -> float:
    if tab is not None:
        at.session_state["cur_tab"] = tab
    t0 = time.perf_counter()
    at.run()
    if at.exception:
        raise RuntimeError(f"{tab}: {at.exception}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="a checkpoint root; default: a written suite root")
    args = parser.parse_args(argv)
    from streamlit.testing.v1 import AppTest

    from analysis.catalog import ENV_ROOT

    if args.root:
        root = Path(args.root)
    else:
        from fixtures.curriculum import make_root

        root = make_root(Path(tempfile.mkdtemp()) / "suite", full_size=LIVE)
    os.environ[ENV_ROOT] = str(root)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120).run()  # imports
    at.switch_page("pages/curriculum.py")
    rows = [("first tab, cold", TABS[0], timed(at), 3.0)]
    for tab in TABS[1:]:
        rows.append(("first visit", tab, timed(at, tab), 1.0))
    for tab in TABS:
        rows.append(("revisit", tab, timed(at, tab), 1.0))
    ok = True
    for what, tab, seconds, goal in rows:
        ok &= seconds <= goal
        print(
            f"{what:16s} {tab:14s} {seconds:6.2f} s  (goal <= {goal:.0f} s){'' if seconds <= goal else '  OVER'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
