"""The app's two interactive bars in a real browser, on the models that ship.

1. First load of a new session: a page opened on the app until the landing grid is drawn, with
   the server warm (another session came first). Measured two ways: a new browser context (a
   first visit: every script fetched and compiled) and a new tab in a browser that has opened
   the app before (its scripts cached). Bar: median <= 3 s, on the first-visit figure.
2. Toggle: the Causal mask clicked on a 120-token prompt until the grid is redrawn with new
   numbers. Bar: median <= 0.8 s.

The server reads `checkpoints/` (the shipped `baseline`, 4 layers x 4 heads) unless
ATTENTION_LAB_CHECKPOINTS says otherwise. Load averages are printed before and after: on this
2-core machine a training run beside the benchmark slows the browser and the server alike.

    .venv/bin/python -m bench.bench_browser --repeats 7
    git worktree add /tmp/before HEAD~1 && .venv/bin/python -m bench.bench_browser --against /tmp/before

--against DIR serves a second checkout beside this one and interleaves their first visits, so a
change is read as a ratio that the machine's load hits on both sides alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from fixtures.browser_server import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    FIRST_LOAD_BAR_S,
    GRID_Z,
    PROMPT_120,
    TOGGLE_BAR_S,
    first_load,
    streamlit_server,
    toggle_times,
    wait_quiet,
)


def _line(name: str, times: list[float], bar: float | None = None) -> str:
    shown = ", ".join(f"{t:.2f}" for t in times)
    verdict = (
        ""
        if bar is None
        else f" (bar {bar} s: {'ok' if statistics.median(times) <= bar else 'MISSED'})"
    )
    return f"{name:<34} median {statistics.median(times):.2f} s{verdict}  [{shown}]"


def run(url: str, repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            first_load(browser, url)  # the server's first session pays the imports
            fresh = [first_load(browser, url) for _ in range(repeats)]
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            first_load(browser, url, context)
            tab = [first_load(browser, url, context) for _ in range(repeats)]
            page = context.new_page()
            page.goto(url, timeout=60_000)
            page.wait_for_function(GRID_Z, timeout=90_000)
            page.get_by_label("Prompt", exact=True).fill(PROMPT_120)
            page.get_by_label("Prompt", exact=True).press("Control+Enter")
            wait_quiet(page)
            toggles = toggle_times(page, repeats)
        finally:
            browser.close()
    return {"first visit": fresh, "new tab": tab, "toggle": toggles}


def against(url: str, other: str, repeats: int) -> tuple[list[float], list[float]]:
    """First visits of this checkout's server and another's, alternating."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            first_load(browser, url), first_load(browser, other)
            ours, theirs = [], []
            for i in range(repeats):
                pair = [(ours, url), (theirs, other)]
                for out, u in pair if i % 2 == 0 else pair[::-1]:
                    out.append(first_load(browser, u))
        finally:
            browser.close()
    return ours, theirs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--against", type=Path, help="another checkout: interleaved first visits")
    args = ap.parse_args()
    root = os.environ.get("ATTENTION_LAB_CHECKPOINTS", str(REPO_ROOT / "checkpoints"))
    before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, streamlit_server(Path(tmp) / "st.log") as url:
        if args.against is not None:
            with streamlit_server(Path(tmp) / "other.log", cwd=args.against) as other:
                ours, theirs = against(url, other, args.repeats)
            ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
            print(_line("first visit, this checkout", ours))
            print(_line(f"first visit, {args.against}", theirs))
            print(f"ratio this / other (median of pairs): {ratio:.2f}")
        times = run(url, args.repeats)
    after = os.getloadavg()
    print(f"checkpoints: {root}; {os.cpu_count()} cores")
    print(f"load average before {before[0]:.2f}, after {after[0]:.2f} (1 min)")
    print(_line("first load, first visit", times["first visit"], FIRST_LOAD_BAR_S))
    print(_line("first load, new tab (cached)", times["new tab"]))
    print(_line("mask toggle -> grid, 120 tokens", times["toggle"], TOGGLE_BAR_S))
    ok = statistics.median(times["first visit"]) <= FIRST_LOAD_BAR_S
    ok &= statistics.median(times["toggle"]) <= TOGGLE_BAR_S
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
