"""The step scrubber in the app (AppTest): Explore redraws the views it can at a snapshot step and
says why for the others, exports carry the step, Compare scrubs two models on one axis."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from analysis.catalog import ENV_ROOT
from fixtures.app_checkpoints import make_checkpoints
from model.checkpoint import load_checkpoint
from training.snapshots import SnapshotWriter
from ui.state import STRICT_ENV

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60
PROMPT = "the cat sat on the mat. the cat sat"


@pytest.fixture(scope="module")
def ckpt_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_checkpoints(tmp_path_factory.mktemp("checkpoints"), lstm=False)
    for name, steps in (("baseline", (1, 10, 100)), ("no_pos", (5, 50))):
        ckpt = load_checkpoint(root / name)
        writer = SnapshotWriter(root / name, ckpt.tokenizer, PROMPT, ckpt.config.n_ctx)
        for step in steps:
            with torch.no_grad():
                for p in ckpt.model.parameters():
                    p.mul_(0.9)
            writer(step, ckpt.model)
        rows = [{"step": s, "train_loss": 4.0 - s / 100, "val_loss": 4.1 - s / 100} for s in steps]
        (root / name / "metrics.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    return root


@pytest.fixture(autouse=True)
def app_env(ckpt_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROOT, str(ckpt_root))
    monkeypatch.setenv(STRICT_ENV, "1")
    st.cache_data.clear()
    st.cache_resource.clear()


def ok(target) -> AppTest:
    at = target.run()
    assert not at.exception, at.exception
    return at


def chart_titles(at: AppTest) -> str:
    return json.dumps(
        [json.loads(c.proto.spec)["layout"].get("title") for c in at.get("plotly_chart")]
    )


def test_explore_scrubs_through_the_snapshots():
    at = ok(AppTest.from_file(str(REPO / "pages/explore.py"), default_timeout=TIMEOUT))
    slider = at.select_slider(key="explore_step")
    assert slider.options == ["1", "10", "100", "final"] and slider.value == "final"
    grids = []
    for step in (1, 100):
        ok(at.select_slider(key="explore_step").set_value(step))
        assert any(f"Step {step}" in i.value for i in at.info)
        loss = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
        assert loss["title"]["text"] == "Loss through training"
        assert [shape["x0"] for shape in loss["shapes"]] == [step]  # the step marked
        lines = json.loads(at.get("plotly_chart")[1].proto.spec)["layout"]
        assert lines["xaxis"]["type"] == "log"  # shapes on a log axis sit in log10 units
        assert [shape["x0"] for shape in lines["shapes"]] == [pytest.approx(math.log10(step))]
        grid = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        grids.append(json.dumps(grid[-1]["data"][0]["z"]))
    assert grids[0] != grids[1], "the grid redraws at another step"


@pytest.mark.parametrize(
    ("view", "drawn"),
    [
        ("Focused head", True),
        ("Residual & LayerNorm", True),
        ("Entropy", True),
        ("Per-token loss", True),
        ("Score pipeline", False),
        ("Q/K/V", False),
        ("Head types", False),
    ],
)
def test_at_a_step_each_view_is_drawn_or_says_why(view, drawn):
    at = ok(AppTest.from_file(str(REPO / "pages/explore.py"), default_timeout=TIMEOUT))
    ok(at.select_slider(key="explore_step").set_value(10))
    at.session_state["view"] = view
    ok(at)
    why = [i.value for i in at.info if i.value.startswith("At step 10")]
    assert bool(why) is not drawn, why


def test_exports_at_a_step_name_it(ckpt_root):
    from analysis.snapshot_capture import StepCapture
    from model.switches import Switches
    from ui.scrubber import export_name
    from views.explore import Focus
    from views.exports import ExportContext
    from views.registry import VIEWS

    ckpt = load_checkpoint(ckpt_root / "baseline")
    at = StepCapture(10, None, ("patterns",), PROMPT)  # type: ignore[arg-type]
    ctx = ExportContext(export_name("baseline", at), ckpt.config, PROMPT, Switches())
    files = [f.file_name(ctx, Focus()) for v in VIEWS for f in v.exports]
    assert files and all(name.startswith("baseline-step10") for name in files)
    assert ctx.title("grid").startswith("baseline-step10")
    assert export_name("baseline", None) == "baseline"


def test_play_advances_one_step_per_tick():
    at = ok(AppTest.from_file(str(REPO / "pages/explore.py"), default_timeout=TIMEOUT))
    ok(at.select_slider(key="explore_step").set_value(1))
    ok(at.toggle(key="explore_play").set_value(True))
    assert at.select_slider(key="explore_step").value == 10
    ok(at)  # the rerun right after an advance does not advance again
    assert at.select_slider(key="explore_step").value == 10


def test_compare_scrubs_both_models_on_one_axis():
    at = ok(AppTest.from_file(str(REPO / "pages/compare.py"), default_timeout=TIMEOUT))
    ok(at.selectbox(key="cmp_b_model").set_value("no_pos"))
    slider = at.select_slider(key="cmp_step")
    assert slider.options == ["1", "5", "10", "50", "100", "final"]
    ok(slider.set_value(50))
    titles = chart_titles(at)
    assert "@ step 10" in titles and "@ step 50" in titles  # A's latest before 50, and B's own
    ok(at.select_slider(key="cmp_step").set_value(1))
    assert any("B has no snapshot at or before step 1" in c.value for c in at.caption)
