"""The Train page and the step scrubber in a real browser (`streamlit run app.py`, Chromium).

Two browser contexts train at the same time, each seeing only its own run; one's loss curve is
seen to update, it is stopped and saved, and Explore's picker lists the saved model. Scrubbing a
120-token prompt's snapshots redraws the grid (timed against the 0.8 s bar). Killing the server
with SIGKILL mid-run leaves no worker behind and a checkpoint that loads.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.browser_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    GRID_Z,
    PROMPT_120,
    TOGGLE_BAR_S,
    streamlit_server,
    toggle_times,
    wait_quiet,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# points of this run's train-loss line on the Train page
CURVE_POINTS = """() => {
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        const t = plot.data && plot.data.find((d) => String(d.name).includes('train_loss'));
        if (t) return t.x.length;
    }
    return 0;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> Iterator[tuple]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("ckpts")
    scrub_model(root)
    user = tmp_path_factory.mktemp("user")
    env = {
        "ATTENTION_LAB_CHECKPOINTS": str(root),
        "ATTENTION_LAB_USER_RUNS": str(user),
        "ATTENTION_LAB_DATA": str(shared_data_dir),
        "ATTENTION_LAB_MAX_RUNS": "2",
    }
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with streamlit_server(log, env) as url:
        yield url, user


@pytest.fixture(scope="module")
def shared_data_dir() -> Path:
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "tinyshakespeare.txt").is_file():
        pytest.skip(f"real corpora not found in {SHARED_DATA} (set ATTENTION_LAB_DATA)")
    return SHARED_DATA


def scrub_model(root: Path) -> None:
    """root/baseline: the shipped baseline's shape, with snapshots of a 120-token prompt."""
    import torch

    from fixtures.app_checkpoints import TEXT
    from model.build import build_model
    from model.checkpoint import save_checkpoint
    from model.config import ModelConfig
    from model.tokenizers import CharTokenizer
    from training.snapshots import SnapshotWriter

    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=tok.n_vocab, n_ctx=128, n_layers=4, n_heads=4, d_model=128)
    model = build_model(cfg)
    save_checkpoint(root / "baseline", model, tok, {"name": "baseline"})  # replaces the folder
    writer = SnapshotWriter(root / "baseline", tok, PROMPT_120, cfg.n_ctx)
    for step in (1, 2, 4, 8, 16, 32, 64):
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() >= 2:
                    p.mul_(1.4)  # sharper attention at every step: every grid differs
        writer(step, model)


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_quiet(page)


def start_run(page, url: str, steps: int) -> None:
    page.goto(f"{url}/train", timeout=60_000)
    page.get_by_role("button", name="Start training").wait_for(timeout=90_000)
    set_number(page, "Steps", steps)
    set_number(page, "Batch size", 32)  # slow enough to be stopped before it ends
    page.get_by_role("button", name="Start training").click()


def run_dirs(user: Path) -> list[Path]:
    return sorted(p.parent for p in user.glob(".work/*/*/live.json"))


def test_two_sessions_train_one_is_stopped_saved_and_listed(server):
    from playwright.sync_api import sync_playwright

    url, user = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            one = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            two = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            start_run(one, url, 50)
            start_run(two, url, 60)
            # the curve updates at least twice, by the page's own refresh
            one.wait_for_function(f"() => ({CURVE_POINTS})() > 0", timeout=120_000)
            seen = [one.evaluate(CURVE_POINTS)]
            deadline = time.monotonic() + 120
            while len(set(seen)) < 3 and time.monotonic() < deadline:
                one.wait_for_timeout(300)
                seen.append(one.evaluate(CURVE_POINTS))
            assert len(set(seen)) >= 3, seen
            # each context sees its own run only
            two.wait_for_function("() => document.body.innerText.includes('of 60')", timeout=90_000)
            assert "of 60" not in one.inner_text("body") and "of 50" not in two.inner_text("body")
            assert len(run_dirs(user)) == 2
            one.get_by_role("button", name="Stop training").click()
            one.wait_for_function(
                "() => document.body.innerText.includes('Stopped at step')", timeout=60_000
            )
            wait_quiet(one)
            one.get_by_label("Save as model").fill("browser_run")
            one.get_by_role("button", name="Save").click()
            one.wait_for_function(
                "() => document.body.innerText.includes('app/browser_run')", timeout=30_000
            )
            assert "Training: step" in two.inner_text("body") or "Finished" in two.inner_text(
                "body"
            )
            # Explore lists the saved model at once
            one.goto(url, timeout=60_000)
            one.wait_for_function(GRID_Z, timeout=90_000)
            one.get_by_test_id("stSelectbox").filter(has_text="Model").first.click()
            assert one.get_by_role("option", name="app/browser_run", exact=True).count() == 1
            two.get_by_role("button", name="Stop training").click()
        finally:
            browser.close()


def test_scrubbing_a_step_redraws_the_grid(server):
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(url, timeout=60_000)
            page.wait_for_function(GRID_Z, timeout=90_000)
            slider = page.get_by_role("slider", name="Training step")
            slider.focus()
            page.keyboard.press("Home")  # step 1
            page.wait_for_function(
                "() => document.body.innerText.includes('120 tokens')", timeout=60_000
            )
            wait_quiet(page)
            page.wait_for_function(GRID_Z, timeout=60_000)
            times, shown = [], page.evaluate(GRID_Z)
            for _ in range(6):
                start = time.perf_counter()
                slider.press("ArrowRight")
                page.wait_for_function(
                    f"(b) => ({GRID_Z})() !== null && ({GRID_Z})() !== b", arg=shown, timeout=30_000
                )
                times.append(time.perf_counter() - start)
                shown = page.evaluate(GRID_Z)
                wait_quiet(page)
            median = statistics.median(times)
            # the same redraw by Explore's own control, side by side: the causal-mask toggle on
            # the final weights and the same prompt
            slider.press("End")
            wait_quiet(page)
            page.get_by_label("Prompt", exact=True).fill(PROMPT_120)
            page.get_by_label("Prompt", exact=True).press("Control+Enter")
            wait_quiet(page)
            page.wait_for_function(GRID_Z, timeout=60_000)
            toggles = toggle_times(page, 3)
            print(
                f"\nbrowser: scrub one step on 120 tokens -> grid redrawn in "
                f"{', '.join(f'{t:.2f}' for t in times)} s (median {median:.2f} s, "
                f"bar {TOGGLE_BAR_S} s); beside it the mask toggle: "
                f"{', '.join(f'{t:.2f}' for t in toggles)} s "
                f"(median {statistics.median(toggles):.2f} s); load {os.getloadavg()[0]:.1f}"
            )
            assert "traceback" not in page.content().lower()
        finally:
            browser.close()


def test_killing_the_server_mid_run_leaves_no_worker_and_a_checkpoint(tmp_path, shared_data_dir):
    from playwright.sync_api import sync_playwright

    from model.checkpoint import load_checkpoint

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    user = tmp_path / "user"
    env = {
        "ATTENTION_LAB_CHECKPOINTS": str(tmp_path / "none"),
        "ATTENTION_LAB_USER_RUNS": str(user),
        "ATTENTION_LAB_DATA": str(shared_data_dir),
    }
    with streamlit_server(tmp_path / "streamlit.log", env) as url:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                start_run(page, url, 2000)
                page.wait_for_function(
                    "() => document.body.innerText.includes('Training: step')", timeout=120_000
                )
            finally:
                browser.close()
        (run_dir,) = run_dirs(user)
        worker = json.loads((run_dir / "worker.json").read_text())["pid"]
        server_pid = int(Path(f"/proc/{worker}/stat").read_text().split(") ")[1].split()[1])
        os.kill(server_pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
            state = Path(f"/proc/{worker}/stat").read_text().split(") ")[1].split()[0]
            if state == "Z":  # exited; only its new parent's reaping is left
                break
            time.sleep(0.2)
        assert not Path(f"/proc/{worker}").exists() or state == "Z", (
            "the worker outlived the server"
        )
    final = json.loads((run_dir / "worker.json").read_text())
    assert final["state"] == "stopped" and final["why_stopped"] == "parent exited"
    ckpt = load_checkpoint(run_dir / "checkpoint")
    assert ckpt.meta["step"] == final["step"] > 0
