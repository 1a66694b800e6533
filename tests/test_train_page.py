"""The Train page (AppTest): the form offers every training-time switch, bad values get a clear
message, a run trains in its worker and shows its progress, sessions keep their own runs, the
per-server cap says so, Stop keeps a checkpoint and Save lists the model in Explore's picker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.catalog import ENV_ROOT, USER_ENV, list_variants
from analysis.live_training import MAX_RUNS_ENV
from analysis.train_form import form_fields, live_spec
from model.checkpoint import load_checkpoint
from ui.state import STRICT_ENV

REPO = Path(__file__).resolve().parents[1]
PAGE = str(REPO / "pages/train.py")
TIMEOUT = 60
SMALL = {"d_model": 16, "d_head": 8, "d_mlp": 32, "n_layers": 1, "n_heads": 2, "n_ctx": 32}


@pytest.fixture(autouse=True)
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(USER_ENV, str(tmp_path / "user"))
    monkeypatch.setenv(STRICT_ENV, "1")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tmp_path / "user"
    from ui.train_panel import registry

    for session in ("a", "b"):  # no worker outlives its test
        run = registry().get(session)
        if run is not None and run.proc is not None:
            run.stop()
            run.proc.wait(timeout=60)
    st.cache_resource.clear()


def ok(target) -> AppTest:
    at = target.run()
    assert not at.exception, at.exception
    return at


def page(session: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["run"] = session
    return ok(at)


def start_small(at: AppTest, steps: int = 2000) -> AppTest:
    for name, value in SMALL.items():
        at.number_input(key=f"tr_{name}").set_value(value)
    at.number_input(key="tr_steps").set_value(steps)
    return ok(at.button(key="tr_start").click())


def stop_button(at: AppTest):
    return next(b for b in at.button if b.label == "Stop training")


def caption_text(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def wait_for(at: AppTest, needle: str, timeout: float = 120.0) -> AppTest:
    deadline = time.time() + timeout
    while time.time() < deadline:
        ok(at)
        if needle in caption_text(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"never saw {needle!r}; last: {caption_text(at)[-300:]}")


def test_the_form_offers_every_training_time_field():
    at = page("a")
    keys = {w.key for w in [*at.checkbox, *at.selectbox, *at.number_input]}
    assert {f"tr_{f.name}" for f in form_fields()} <= keys
    assert "tr_vocab_size" not in keys  # the corpus decides it
    names = {f.name for f in form_fields()}
    assert {
        "residual",
        "causal_mask",
        "share_layers",
        "norm",
        "pos_encoding",
        "attn_score",
    } <= names


def test_a_preset_fills_the_switches():
    at = page("a")
    ok(at.selectbox(key="tr_preset").set_value("no_residual"))
    assert at.checkbox(key="tr_residual").value is False
    ok(at.selectbox(key="tr_preset").set_value("post_ln"))
    assert at.checkbox(key="tr_residual").value is True
    assert at.selectbox(key="tr_norm").value == "post"


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"n_layers": 50}, "n_layers must be between"),
        ({"dropout": 1.5}, "dropout"),
        ({"norm": "sideways"}, "norm"),
    ],
)
def test_bad_values_are_refused_by_name(tmp_path, changes, needle):
    fields = {f.name: f.default for f in form_fields()} | changes
    with pytest.raises((ValueError, TypeError), match=needle):
        live_spec(fields, 100, 1e-3, 4, 0, tmp_path / "r", 60.0)
    with pytest.raises(ValueError, match="steps"):
        live_spec({f.name: f.default for f in form_fields()}, 5, 1e-3, 4, 0, tmp_path, 60.0)


@pytest.mark.slow
def test_two_sessions_train_their_own_runs_and_the_cap_says_so(shared_data, monkeypatch):
    monkeypatch.setenv("ATTENTION_LAB_DATA", str(shared_data))
    monkeypatch.setenv(MAX_RUNS_ENV, "2")
    a = start_small(page("a"))
    b = start_small(page("b"))
    wait_for(a, "Training: step")
    wait_for(b, "Training: step")
    from ui.train_panel import registry

    ra, rb = registry().get("a"), registry().get("b")
    assert ra.run_dir != rb.run_dir and ra.proc.pid != rb.proc.pid
    # a third session is told about the cap, and trains nothing
    c = start_small(page("c"))
    assert any("its limit" in w.value for w in c.warning)
    assert registry().get("c") is None
    # Stop keeps a checkpoint; the other session's run trains on
    ok(stop_button(a).click())
    wait_for(a, "Stopped at step")
    assert rb.alive()
    assert load_checkpoint(ra.checkpoint()).meta["stopped"] is True


@pytest.mark.slow
def test_stop_resume_and_save_lists_the_model_in_explore(shared_data, monkeypatch, app_env):
    monkeypatch.setenv("ATTENTION_LAB_DATA", str(shared_data))
    a = start_small(page("a"), steps=3000)
    wait_for(a, "Training: step")
    ok(stop_button(a).click())
    wait_for(a, "Stopped at step")
    ok(a.button(key="tr_resume").click())
    wait_for(a, "Training: step")
    ok(stop_button(a).click())
    wait_for(a, "Stopped at step")
    a.text_input(key="tr_save_name").input("my_run")
    ok(a.button[-1].click())
    assert any("app/my_run" in s.value for s in a.success)
    assert "app/my_run" in [v.name for v in list_variants()]
    assert load_checkpoint(app_env / "my_run").meta["name"] == "my_run"
    monkeypatch.setenv(ENV_ROOT, str(REPO / "checkpoints"))
    monkeypatch.setenv(USER_ENV, str(app_env))
    explore = ok(AppTest.from_file(str(REPO / "pages/explore.py"), default_timeout=TIMEOUT))
    assert "app/my_run" in explore.selectbox(key="explore_model").options
    ok(explore.selectbox(key="explore_model").set_value("app/my_run"))
    # a taken name is refused with a message
    a.text_input(key="tr_save_name").input("my_run")
    ok(a.button[-1].click())
    assert any("already exists" in e.value for e in a.error)
