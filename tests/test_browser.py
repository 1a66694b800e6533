"""End to end in a real browser: `streamlit run app.py` headless on a free loopback port, driven
by Playwright with Debian's Chromium (never `playwright install`). Toggle the causal mask, see the
heatmap change within the bar (<= 2 s), download an export and check the file."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.app_checkpoints import make_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
TOGGLE_BAR_S = 2.0
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# JSON of the first heatmap's z: enough to see whether the grid was redrawn with new numbers
GRID_Z = """() => {
    const plot = document.querySelector('.js-plotly-plot');
    if (!plot || !plot.data || !plot.data.length) return null;
    return JSON.stringify(plot.data[0].z);
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    pytest.importorskip("playwright.sync_api")
    root = make_checkpoints(tmp_path_factory.mktemp("ckpts"), lstm=False)
    port = _free_port()
    env = {**os.environ, "ATTENTION_LAB_CHECKPOINTS": str(root)}
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
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
                pytest.fail(f"streamlit did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_mask_toggle_redraws_the_grid_and_npz_downloads(server: str, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
            page.goto(server, timeout=60_000)
            page.wait_for_function(GRID_Z, timeout=90_000)  # first load: torch + plotly imports
            before = page.evaluate(GRID_Z)
            loss = page.get_by_test_id("stMetric").nth(1).inner_text()
            assert "traceback" not in page.content().lower()

            # Three toggles (off, on, off): the first computes the unmasked activations, the
            # others may hit the activation cache, as a user flipping a switch back and forth does.
            times, shown = [], before
            for _ in range(3):
                start = time.perf_counter()
                page.get_by_text("Causal mask", exact=True).click()
                page.wait_for_function(
                    f"(b) => ({GRID_Z})() !== null && ({GRID_Z})() !== b", arg=shown, timeout=30_000
                )
                times.append(time.perf_counter() - start)
                shown = page.evaluate(GRID_Z)
            median = sorted(times)[1]
            print(
                f"\nbrowser: mask toggle -> grid redrawn in {', '.join(f'{t:.2f}' for t in times)} s"
                f" (median {median:.2f} s, bar {TOGGLE_BAR_S} s)"
            )
            assert page.get_by_test_id("stMetric").nth(1).inner_text() != loss  # mask is off
            assert median <= TOGGLE_BAR_S
            page.get_by_text("Export the focused head and the grid").click()
            with page.expect_download(timeout=60_000) as info:
                page.get_by_role("button", name="NPZ (all tensors)").click()
            target = tmp_path / info.value.suggested_filename
            info.value.save_as(target)
            with np.load(io.BytesIO(target.read_bytes()), allow_pickle=False) as npz:
                assert npz["patterns"].shape[:2] == (2, 2)
                # the export reflects the switched state: attention on future keys
                assert not np.allclose(np.triu(npz["patterns"][0, 0], 1), 0.0)
            assert "traceback" not in page.content().lower()
        finally:
            browser.close()
