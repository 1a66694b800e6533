"""The app on GPT-2 family folders: the picker lists cached ones and takes a typed folder or
`hf:<name>`, every Explore view and Compare render, a head is found by typing L5H1, the Grid
pages through layers, and an `hf:` name with nothing cached is one message on a working page."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

pytest.importorskip("transformers")

from analysis.catalog import ENV_ROOT  # noqa: E402
from fixtures.app_checkpoints import make_checkpoints  # noqa: E402
from fixtures.hf_gpt2_folders import SMALL, build_gpt2_folder  # noqa: E402
from ui.state import STRICT_ENV  # noqa: E402
from views.head_names import layer_windows, parse_head  # noqa: E402
from views.registry import VIEWS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TIMEOUT = 120
DEEP = dict(n_embd=32, n_layer=8, n_head=8, n_positions=64)  # 64 heads: more than one grid page
LONG_PROMPT = "the cat sat on the mat and the dog didn't. " * 40  # past the 64-token context


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf_app")
    build_gpt2_folder(root / "tiny", 1000)
    build_gpt2_folder(root / "deep", 1000, seed=1, **DEEP)
    make_checkpoints(root / "shipped", lstm=False)
    # the hub cache's layout, so the picker finds "hf:gpt2" (the deep folder's files)
    repo = root / "hub" / "models--gpt2"
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    for f in (root / "deep").iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    return {
        "tiny": root / "tiny",
        "deep": root / "deep",
        "shipped": root / "shipped",
        "hub": root / "hub",
    }


@pytest.fixture(autouse=True)
def app_env(folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROOT, str(folders["shipped"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(folders["hub"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(STRICT_ENV, "1")
    st.cache_data.clear()
    st.cache_resource.clear()


def ok(target: AppTest) -> AppTest:
    at = target.run()
    assert not at.exception, at.exception
    return at


def open_folder(source: str, page: str = APP, prefix: str = "explore") -> AppTest:
    at = ok(AppTest.from_file(page, default_timeout=TIMEOUT))
    ok(at.selectbox(key=f"{prefix}_model").set_value("Other folder…"))
    return ok(at.text_input(key=f"{prefix}_path").input(source))


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_picker_lists_the_cached_model_and_opens_it() -> None:
    at = ok(AppTest.from_file(APP, default_timeout=TIMEOUT))
    assert "hf:gpt2" in at.selectbox(key="explore_model").options
    ok(at.selectbox(key="explore_model").set_value("hf:gpt2"))
    assert not at.error
    assert any("8 layers × 8 heads" in c.value for c in at.caption), [c.value for c in at.caption]


@pytest.mark.parametrize("view", VIEWS, ids=[v.key for v in VIEWS])
def test_every_view_renders_on_a_gpt2_folder(folders: dict[str, Path], view) -> None:
    at = open_folder(str(folders["tiny"]))
    at.session_state["view"] = view.name
    ok(at)
    assert not at.error, [e.value for e in at.error]
    if view.key != "generate":  # the Generate view draws once something was generated
        assert charts(at) or at.dataframe or at.get("html") or at.markdown
    # the view's own files and the page's "export everything"
    assert len(at.get("download_button")) == len(view.exports) + 1


def test_typing_a_head_name_focuses_it(folders: dict[str, Path]) -> None:
    at = open_folder("hf:gpt2")
    at.session_state["view"] = "Focused head"
    ok(at)
    ok(at.text_input(key="head_find").input("L5H1"))
    assert (at.selectbox(key="layer").value, at.selectbox(key="head").value) == (5, 1)
    assert "Layer 5 head 1" in json.dumps(charts(at)[0]["layout"]["title"])
    ok(at.text_input(key="head_find").input("L9H0"))
    assert any("outside this model" in c.value for c in at.caption)
    assert at.selectbox(key="layer").value == 5  # a bad name changes nothing


def test_grid_pages_through_layers_of_a_deep_model(folders: dict[str, Path]) -> None:
    at = open_folder(str(folders["deep"]))
    window = at.radio(key="grid_layers")
    assert window.options == ["layers 0-2", "layers 3-5", "layers 6-7"]
    assert "layers 0-2" in json.dumps(charts(at)[0]["layout"]["title"])
    ok(window.set_value("layers 6-7"))
    grid = charts(at)[0]
    assert "layers 6-7" in json.dumps(grid["layout"]["title"])
    shown = json.dumps(grid, ensure_ascii=False)
    assert "L6 ·" in shown and "L7 ·" in shown and "L0 ·" not in shown and "L5 ·" not in shown
    # typing a head in another layer window moves the grid there too
    at.session_state["view"] = "Focused head"
    ok(at)
    ok(at.text_input(key="head_find").input("L4H3"))
    at.session_state["view"] = "Grid"
    ok(at)
    assert at.radio(key="grid_layers").value == "layers 3-5"


def test_long_prompt_is_windowed_with_a_message(folders: dict[str, Path]) -> None:
    at = open_folder(str(folders["tiny"]))
    ok(at.text_area(key="prompt").input(LONG_PROMPT))
    shown = " ".join(m.value for m in [*at.warning, *at.info, *at.caption])
    assert "context is 64" in shown and "last 64 tokens" in shown, shown
    assert [m.value for m in at.metric if m.label == "Tokens analysed"] == ["64"]


def test_every_switch_runs_on_gpt2(folders: dict[str, Path]) -> None:
    at = open_folder(str(folders["tiny"]))
    for key in ("sw_causal_mask", "sw_residual", "sw_layernorm", "sw_pos_encoding"):
        ok(at.checkbox(key=key).uncheck())
        assert not at.error
        ok(at.checkbox(key=key).check())
    ok(at.multiselect(key="sw_knockouts").select("L1H3"))
    assert not at.error


def test_uncached_hf_name_is_one_message_and_the_page_keeps_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    start = time.perf_counter()
    at = open_folder("hf:gpt2")
    assert time.perf_counter() - start < 30
    assert len(at.error) == 1 and "hf download gpt2" in at.error[0].value
    ok(at.selectbox(key="explore_model").set_value("baseline"))
    assert not at.error and [m for m in at.metric if m.label == "Loss (nats/token)"]


def test_compare_a_shipped_model_with_gpt2_and_gpt2_under_two_switch_sets(
    folders: dict[str, Path],
) -> None:
    at = ok(AppTest.from_file(str(REPO / "pages" / "compare.py"), default_timeout=TIMEOUT))
    ok(at.selectbox(key="cmp_b_model").set_value("hf:gpt2"))
    assert not at.error and charts(at)
    ok(at.radio(key="cmp_mode").set_value("One model, two switch sets"))
    ok(at.selectbox(key="cmp_a_model").set_value("hf:gpt2"))
    ok(at.checkbox(key="b_causal_mask").uncheck())
    assert not at.error
    assert [m.value for m in at.metric if m.label == "B − A"] != ["+0.0000"]


@pytest.mark.slow
def test_gpt2_small_shape_every_page_view(tmp_path: Path) -> None:
    build_gpt2_folder(tmp_path / "small", 50257, **SMALL)
    at = open_folder(str(tmp_path / "small"))
    for view in VIEWS:
        if view.budget_s is not None:  # the interpretability views: their own, longer budgets
            continue
        at.session_state["view"] = view.name
        ok(at)
        assert not at.error, (view.key, [e.value for e in at.error])


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("L5H1", (5, 1)),
        ("l5h1", (5, 1)),
        (" L11 H11 ", (11, 11)),
        ("5.1", (5, 1)),
        ("L0H0", (0, 0)),
    ],
)
def test_head_names_parse(text: str, want: tuple[int, int]) -> None:
    assert parse_head(text, 12, 12) == want


@pytest.mark.parametrize(
    ("text", "says"), [("L12H0", "outside"), ("H5", "not a head"), ("", "not")]
)
def test_bad_head_names_say_why(text: str, says: str) -> None:
    message = parse_head(text, 12, 12)
    assert isinstance(message, str) and says in message


def test_layer_windows_cover_every_layer_once() -> None:
    assert layer_windows(4, 4) == [(0, 3)]  # a small model: one window, no control drawn
    assert layer_windows(12, 12) == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)]
    windows = layer_windows(48, 25)  # gpt2-xl: wider than a window, one layer each
    assert windows == [(i, i) for i in range(48)]
