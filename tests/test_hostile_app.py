"""The app given every hostile checkpoint folder as a typed path: a specific message (never the
generic "Something went wrong"), nothing else said beside it, no folder of the user's touched,
and the page still works afterwards. Out-of-range sampling values get a message too."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.catalog import ENV_ROOT
from fixtures.app_checkpoints import make_checkpoints
from fixtures.hostile_cases import CHECKPOINT_CASES, build_case, snapshot_tree
from ui.state import STRICT_ENV

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60
FAST = [c for c in CHECKPOINT_CASES if not c.heavy]


@pytest.fixture(scope="module")
def ckpt_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoints(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(autouse=True)
def app_env(ckpt_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROOT, str(ckpt_root))
    monkeypatch.setenv(STRICT_ENV, "1")  # an unexpected error fails the test
    st.cache_data.clear()
    st.cache_resource.clear()


def ok(target) -> AppTest:
    at = target.run()
    assert not at.exception, at.exception
    return at


def typed(at: AppTest, path: str) -> AppTest:
    ok(at.selectbox(key="explore_model").set_value("Other folder…"))
    return ok(at.text_input(key="explore_path").input(path))


def test_every_hostile_folder_gets_its_own_message_and_the_page_recovers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = {c.name: build_case(c, tmp_path / f"c{i}") for i, c in enumerate(FAST)}
    before = snapshot_tree(tmp_path)
    at = ok(AppTest.from_file(APP, default_timeout=TIMEOUT))
    failures = []
    for case in FAST:
        given = str(paths[case.name].relative_to(tmp_path))
        typed(at, given)
        shown = " ".join(e.value for e in at.error)
        infos = " ".join(i.value for i in at.info)
        if not (
            len(at.error) == 1
            and shown.startswith("Cannot load this checkpoint: ")
            and case.words in shown
            and "Something went wrong" not in shown
            and "Pick a model" not in infos
            and str(tmp_path) not in shown
        ):
            failures.append((case.name, shown, infos))
    assert not failures, failures
    assert snapshot_tree(tmp_path) == before  # the app renamed, created, deleted nothing
    ok(at.selectbox(key="explore_model").set_value("baseline"))
    assert not at.error and [m for m in at.metric if m.label == "Loss (nats/token)"]


@pytest.mark.parametrize(
    "path, message",
    [
        (
            "does_not_exist",
            "Cannot load this checkpoint: does_not_exist: no such checkpoint folder",
        ),
        ("a\0b", "Cannot load this checkpoint: a\\x00b: no such checkpoint folder"),
    ],
)
def test_a_missing_folder_is_named_once(path, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    at = typed(ok(AppTest.from_file(APP, default_timeout=TIMEOUT)), path)
    assert [e.value for e in at.error] == [message]
    assert not at.info  # no "Pick a model in the sidebar to begin" beside the error


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("gen_tokens", 1000, "New tokens must be from 1 to 400, got 1000"),
        ("gen_temp", 7.0, "Temperature must be from 0 to 3, got 7"),
        ("gen_temp", 0.0001, "temperature must be 0 (greedy) or at least"),
        ("gen_topp", 0.0, "Top-p must be from 0.05 to 1, got 0"),
        ("gen_seed", -1, "Seed must be from 0 to"),
    ],
)
def test_out_of_range_sampling_values_are_named_not_replaced(key, value, words):
    at = ok(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.session_state["view"] = "Generate"
    ok(at)
    ok(at.number_input(key=key).set_value(value))
    assert at.number_input(key=key).value == value  # what the user typed stays in the widget
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="gen_go").disabled
