"""Switch toggle -> redrawn Grid in a real browser, on the GPT-2-small shape (random weights).

The app is served (`streamlit run app.py`, loopback, a free port) with a random-init GPT-2-small
Hugging Face folder as its only model (written by a child process under a temporary
ATTENTION_LAB_CHECKPOINTS), a 128-token prompt typed in, and the sidebar's Causal mask clicked
until the Grid's heatmap holds new numbers, --repeats times. Bar: median <= 2 s. Debian's
Chromium through Playwright (never `playwright install`).

The same loop on the shipped 4 x 4 `baseline` (--reference, default checkpoints/baseline) runs
after it, so a loaded machine is read from the ratio as well as from the GPT-2 figure alone.

    .venv/bin/python -m bench.bench_gpt2_browser --repeats 7
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_gpt2 import build_folder  # noqa: E402
from fixtures.browser_server import GRID_Z  # noqa: E402  (the grid's numbers, read in the page)

TOGGLE_BAR_S = 2.0
PROMPT = "When Mary and John went to the store, John gave a drink to Mary. " * 9  # ~130 tokens
QUIET = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]  # fmt: skip
    env = {**os.environ, "ATTENTION_LAB_CHECKPOINTS": str(root)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"streamlit did not come up:\n{log.read_text()[-3000:]}")


def toggles(url: str, repeats: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url, timeout=120_000)
            page.wait_for_function(GRID_Z, timeout=300_000)
            prompt = page.get_by_label("Prompt", exact=True)
            prompt.fill(PROMPT)
            prompt.press("Control+Enter")
            page.wait_for_timeout(500)
            page.wait_for_function(QUIET, timeout=300_000)
            mask = page.get_by_test_id("stSidebarUserContent").get_by_text(
                "Causal mask", exact=True
            )
            times, shown = [], page.evaluate(GRID_Z)
            for _ in range(repeats + 1):  # the first toggle of each state fills the caches
                start = time.perf_counter()
                mask.click()
                page.wait_for_function(
                    f"(b) => ({GRID_Z})() !== null && ({GRID_Z})() !== b",
                    arg=shown,
                    timeout=120_000,
                )
                times.append(time.perf_counter() - start)
                shown = page.evaluate(GRID_Z)
                page.wait_for_timeout(300)
                page.wait_for_function(QUIET, timeout=120_000)
            return times[1:]
        finally:
            browser.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--reference", type=Path, default=REPO / "checkpoints" / "baseline")
    args = ap.parse_args()
    before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "checkpoints"
        print("writing a random-init GPT-2-small folder (child process)...", flush=True)
        build_folder(root / "baseline")  # the picker opens on "baseline"
        reference = Path(tmp) / "reference"
        if args.reference.is_dir():
            reference.mkdir()
            (reference / "baseline").symlink_to(args.reference.resolve())
        results = {}
        for name, served in (("GPT-2 small shape", root), ("reference", reference)):
            if not served.is_dir():
                continue
            proc, url = serve(served, Path(tmp) / f"{served.name}.log")
            try:
                results[name] = toggles(url, args.repeats)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    after = os.getloadavg()
    print(
        f"load average before {before[0]:.2f}, after {after[0]:.2f} (1 min); {os.cpu_count()} cores"
    )
    for name, times in results.items():
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"mask toggle -> grid, {name}, 128 tokens: median "
            f"{statistics.median(times):.2f} s  [{shown}]"
        )
    median = statistics.median(results["GPT-2 small shape"])
    if "reference" in results:
        print(f"ratio GPT-2 / reference: {median / statistics.median(results['reference']):.2f}")
    print(f"bar {TOGGLE_BAR_S} s: {'ok' if median <= TOGGLE_BAR_S else 'MISSED'}")
    return 0 if median <= TOGGLE_BAR_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
