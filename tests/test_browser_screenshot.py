"""The README's picture of Explore, taken from the app as it runs: the shipped baseline on its
example prompt, in Chromium at 1440 x 1560 (the sidebar, the header and the Grid).

Every run of the browser tier takes the screenshot, so a landing page that stops drawing fails
here; with `ATTENTION_LAB_SCREENSHOT=1` it is also written to docs/explore.png, the file the README
shows:

    ATTENTION_LAB_SCREENSHOT=1 .venv/bin/python -m pytest tests/test_browser_screenshot.py -m browser
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from fixtures.browser_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    GRID_Z,
    REPO,
    streamlit_server,
    wait_quiet,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHIPPED = REPO / "checkpoints"
DOCS_IMAGE = REPO / "docs" / "explore.png"
VIEWPORT = {"width": 1440, "height": 1560}
ENV_WRITE = "ATTENTION_LAB_SCREENSHOT"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError if `data` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_explore_screenshot_of_the_shipped_baseline(tmp_path: Path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)")
    if not (SHIPPED / "baseline" / "config.json").is_file():
        pytest.skip(f"no shipped baseline in {SHIPPED}")
    sync_api = pytest.importorskip("playwright.sync_api")
    shot = tmp_path / "explore.png"
    env = {"ATTENTION_LAB_CHECKPOINTS": str(SHIPPED)}
    with streamlit_server(tmp_path / "streamlit.log", env) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url, timeout=60_000)
            page.wait_for_function(GRID_Z, timeout=120_000)
            wait_quiet(page)
            assert "traceback" not in page.content().lower()
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    data = shot.read_bytes()
    assert png_size(data) == (VIEWPORT["width"], VIEWPORT["height"])
    assert len(data) > 50_000  # a drawn page, not a blank one
    if os.environ.get(ENV_WRITE) == "1":
        DOCS_IMAGE.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_IMAGE)
