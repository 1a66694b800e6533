"""The app in a real browser: `streamlit run app.py` on a free loopback port, and the page probes
the browser test and the browser benchmark both use (one place, so they measure the same thing).

Debian's Chromium drives it (never `playwright install`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# JSON of the first heatmap's z: enough to see whether the grid was redrawn with new numbers
# (other charts, such as line charts in a folded expander, may come before it on the page)
GRID_Z = """() => {
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        const t = plot.data && plot.data.find((d) => d.type === 'heatmap' && d.z);
        if (t) return JSON.stringify(t.z);
    }
    return null;
}"""
FIRST_LOAD_BAR_S = 3.0  # a new session: opened until the landing grid is drawn
TOGGLE_BAR_S = 0.8  # the mask clicked until the grid is redrawn
PROMPT_120 = ("ROMEO:\nBut, soft! what light through yonder window breaks?\n" * 3)[:120]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(
    log: Path, env: dict[str, str] | None = None, cwd: Path = REPO
) -> Iterator[str]:
    """The app of the checkout at `cwd` served on 127.0.0.1; yields its URL once healthy."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_quiet(page) -> None:
    """Until the script run has finished (Streamlit's status widget leaves the page)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


def mask_switch(page):
    """The sidebar's Causal mask checkbox."""
    return page.get_by_test_id("stSidebarUserContent").get_by_text("Causal mask", exact=True)


def first_load(browser, url: str, context=None, viewport: dict | None = None) -> float:
    """Seconds from opening `url` in a new page to the grid drawn: a new Streamlit session.
    context None: a new browser context (a first visit: nothing cached); else a tab in it."""
    viewport = viewport or {"width": 1440, "height": 900}
    page = context.new_page() if context is not None else browser.new_page(viewport=viewport)
    try:
        start = time.perf_counter()
        page.goto(url, timeout=60_000)
        page.wait_for_function(GRID_Z, timeout=90_000)
        return time.perf_counter() - start
    finally:
        page.close()


def toggle_times(page, n: int) -> list[float]:
    """Seconds from a click on Causal mask to the grid redrawn with new numbers, `n` times."""
    times, shown = [], page.evaluate(GRID_Z)
    for _ in range(n):
        start = time.perf_counter()
        mask_switch(page).click()
        page.wait_for_function(
            f"(b) => ({GRID_Z})() !== null && ({GRID_Z})() !== b", arg=shown, timeout=30_000
        )
        times.append(time.perf_counter() - start)
        shown = page.evaluate(GRID_Z)
        wait_quiet(page)
    return times
