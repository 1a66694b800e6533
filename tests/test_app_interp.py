"""The interpretability views of Explore (head types, logit lens, attribution, patching, circuits,
stream health): each renders for every transformer variant and on a shipped checkpoint, bad input
gets a message instead of a traceback, picking a head focuses it, and every export is a valid file.

AppTest runs are few and each opens several tabs in one session: the machine is shared.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from analysis.capture import capture
from analysis.catalog import ENV_ROOT, checkpoint_root, list_variants
from fixtures.app_checkpoints import TEXT, TINY
from model.build import build_model
from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.config import ModelConfig
from model.switches import NO_SWITCHES, Switches
from model.tokenizers import CharTokenizer
from tests.variants import VARIANTS
from ui.state import STRICT_ENV
from views.exports import ExportContext
from views.interp_lab import InterpLab
from views.items import Chart, Note, SideBySide
from views.registry import VIEWS, ViewInput, default_input, views_for
from viz.export import read_npz_metadata

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 90  # the first run imports torch and plotly; the machine is shared
INTERP = [v for v in VIEWS if v.budget_s is not None]  # the views that compute from the model
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# the app's variants: every architecture switch the brief names, and an LSTM (no attention)
APP_VARIANTS = {
    "baseline": {},
    "unmasked": {"causal_mask": False},
    "shared": {"share_layers": True},
    "post_ln": {"norm": "post"},
    "no_ln": {"norm": "none"},
    "no_residual": {"residual": False},
    "lstm": {"architecture": "lstm"},
}
TINY_CFG = ModelConfig(**TINY)


def test_the_interpretability_views_are_in_the_registry():
    assert [v.key for v in INTERP] == [
        "walk",
        "heads",
        "knockout",
        "lens",
        "attribution",
        "patching",
        "circuits",
        "health",
    ]
    assert all(v.needs_attention and v.timed for v in INTERP)
    assert not set(INTERP) & set(views_for(False))  # the LSTM's tabs


# --- without Streamlit: every variant, every export -------------------------------------------


def _case(cfg: ModelConfig, text: str = TEXT[:40], switches: Switches = NO_SWITCHES):
    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    model = build_model(cfg.replace(vocab_size=tok.n_vocab)).eval()
    ids = tuple(tok.encode(text))
    cap = capture(model, tok, ids, switches)
    return cap, default_input(cap, InterpLab(model, tok, ids, switches))


def _charts(items) -> list[Chart]:
    out = []
    for item in items:
        out += list(item.charts) if isinstance(item, SideBySide) else [item]
    return [c for c in out if isinstance(c, Chart)]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_interp_view_builds_for_every_variant(variant):
    cfg = VARIANTS[variant].replace(n_ctx=64)
    cap, inp = _case(cfg)
    for view in INTERP:
        items = view.build(cap, inp)
        assert items, view.key
        if view.key == "attribution" and not cfg.residual:  # no sum to decompose: a message
            (note,) = items
            assert isinstance(note, Note) and "residual" in note.text
        else:
            assert _charts(items), (view.key, [getattr(i, "text", "") for i in items])
        if view.key == "circuits":  # every part the model lacks is named
            notes = " ".join(i.text for i in items if isinstance(i, Note))
            if cfg.pos_encoding == "none":
                assert "Positional QK" in notes
            assert "Score terms" in notes  # layer 1 is focused: terms exist at layer 0 only


def test_switches_that_remove_a_decomposition_give_a_message():
    cap, inp = _case(TINY_CFG, switches=Switches(residual=False))
    (note,) = next(v for v in INTERP if v.key == "attribution").build(cap, inp)
    assert isinstance(note, Note) and "no residual stream" in note.text


@pytest.fixture(scope="module")
def export_case():
    cap, inp = _case(TINY_CFG.replace(causal_mask=False))
    ctx = ExportContext("tiny", TINY_CFG, TEXT[:40], Switches())
    return ctx, cap, inp


@pytest.mark.parametrize("view", INTERP, ids=[v.key for v in INTERP])
def test_every_export_of_every_interp_view_is_a_valid_file(view, export_case):
    ctx, cap, inp = export_case
    assert {f.suffix for f in view.exports} == {"png", "svg", "html", "csv", "npz"}
    for f in view.exports:
        data = f.data(ctx, cap, inp)
        name = f.file_name(ctx, inp.focus)
        assert name.startswith("tiny_") and name.endswith(f".{f.suffix}")
        if f.suffix == "png":
            assert data.startswith(PNG_SIGNATURE)
        elif f.suffix == "svg":
            assert ET.fromstring(data).tag.endswith("svg")
        elif f.suffix == "html":
            assert data.startswith("<html>") and 'src="http' not in data  # plotly.js inlined
            assert "tiny" in data and data.count("Plotly.newPlot") >= 1
        elif f.suffix == "csv":
            rows = list(csv.reader(io.StringIO(data)))
            assert rows[0][:4] == ["matrix", "row", "col", "value"] and len(rows) > 1
            assert all(np.isfinite(float(r[3])) or r[3] == "nan" for r in rows[1:])
        else:
            meta = read_npz_metadata(data)
            assert meta["view"] and meta["model"] == "tiny" and meta["matrices"]
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                name = next(iter(meta["matrices"]))
                values, rows = npz[name], npz[f"{name}_rows"]
                assert values.shape[0] == len(rows)


def test_an_unavailable_view_still_exports_what_it_says(export_case):
    ctx, _, _ = export_case
    cap, inp = _case(TINY_CFG.replace(residual=False))
    view = next(v for v in INTERP if v.key == "attribution")
    files = {f.suffix: f.data(ctx, cap, inp) for f in view.exports}
    assert "residual" in read_npz_metadata(files["npz"])["unavailable"]
    assert files["csv"].startswith("#") and "residual" in files["csv"]
    assert files["png"].startswith(PNG_SIGNATURE)


# --- the app --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def variant_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("interp_checkpoints")
    tok = CharTokenizer.train(TEXT)
    for name, change in APP_VARIANTS.items():
        torch.manual_seed(0)
        model = build_model(ModelConfig(vocab_size=tok.n_vocab, **TINY).replace(**change))
        save_checkpoint(root / name, model, tok, {"name": name})
    return root


@pytest.fixture(autouse=True)
def app_env(variant_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROOT, str(variant_root))
    monkeypatch.setenv(STRICT_ENV, "1")  # an unexpected error fails the test (at.exception)
    st.cache_data.clear()
    st.cache_resource.clear()


def ok(target) -> AppTest:
    at = target.run()
    assert not at.exception, at.exception
    return at


def explore(model: str | None = None) -> AppTest:
    at = ok(AppTest.from_file(APP, default_timeout=TIMEOUT))
    if model is not None:
        at = ok(at.selectbox(key="explore_model").set_value(model))
    return at


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at: AppTest) -> str:
    return json.dumps([c["layout"].get("title") for c in charts(at)], ensure_ascii=False)


def shown_text(at: AppTest) -> str:
    return " ".join(e.value for kind in ("caption", "warning", "error") for e in at.get(kind))


def open_view(at: AppTest, name: str) -> AppTest:
    at.session_state["view"] = name
    return ok(at)


def _render_every_interp_view(at: AppTest) -> None:
    for view in INTERP:
        open_view(at, view.name)
        assert charts(at) or at.dataframe or at.caption, view.key
        assert len(at.get("download_button")) == len(view.exports) + 1  # + export everything
        assert "Cannot compute" not in shown_text(at), (view.key, shown_text(at))


@pytest.mark.parametrize("variant", [v for v in APP_VARIANTS if v != "lstm"])
def test_every_interp_view_renders_in_the_app_for_each_variant(variant):
    at = explore(variant)
    _render_every_interp_view(at)
    if variant == "no_residual":
        open_view(at, "Logit attribution")
        assert "no residual stream" in shown_text(at)


def test_the_lstm_hides_the_interp_views():
    at = explore("lstm")
    info = " ".join(i.value for i in at.info)
    assert all(v.name in info for v in INTERP)  # named as not applying


@pytest.fixture
def shipped_root(tmp_path: Path) -> Path:
    """A copy of the first shipped transformer checkpoint that loads (they are being replaced
    while tests run: a copy cannot change under the test)."""
    for variant in list_variants(checkpoint_root()):
        try:
            ckpt = load_checkpoint(variant.path)
        except (CheckpointError, OSError):
            continue
        if ckpt.config.architecture == "transformer":
            folder = tmp_path / variant.name
            folder.mkdir()
            for name in ("config.json", "model.safetensors", "tokenizer.json", "meta.json"):
                if (variant.path / name).is_file():
                    shutil.copy(variant.path / name, folder / name)
            return tmp_path
    pytest.skip(f"no shipped transformer checkpoint loads in {checkpoint_root()}")


def test_every_interp_view_renders_on_a_shipped_checkpoint(shipped_root, monkeypatch):
    monkeypatch.setenv(ENV_ROOT, str(shipped_root))
    at = explore()
    assert not at.error
    _render_every_interp_view(at)


def test_patching_asks_for_a_corrupted_prompt_of_the_same_length():
    at = open_view(explore(), "Patching")
    assert len(charts(at)) == 3  # the suggested corruption: heads, stream and MLP maps
    assert "clean run" in shown_text(at)
    prompt_tokens = len(at.text_area(key="prompt").value)  # characters = tokens here
    ok(at.text_area(key="patch_corrupted").input("the cat sat"))
    warning = " ".join(w.value for w in at.warning)
    assert f"11 tokens and the prompt has {prompt_tokens}" in warning
    assert "same number of tokens" in warning
    assert not charts(at)
    ok(at.text_area(key="patch_corrupted").input("snow ☃"))
    assert "cannot encode" in " ".join(w.value for w in at.warning)
    same = at.text_area(key="prompt").value
    ok(at.text_area(key="patch_corrupted").input(same))
    assert "equals the prompt" in shown_text(at)
    # a valid corruption and the other direction
    ok(at.text_area(key="patch_corrupted").input("X" + same[1:]))
    ok(at.radio(key="patch_direction").set_value("noising"))
    assert len(charts(at)) == 3 and "noising" in titles(at)


def test_patching_one_picked_site_reports_its_recovered_fraction():
    at = open_view(explore(), "Patching")
    ok(at.selectbox(key="patch_hook").set_value("blocks.1.hook_resid_pre"))
    ok(at.selectbox(key="patch_pos").set_value(3))
    (info,) = [i.value for i in at.info if "patched alone" in i.value]
    assert info.startswith("blocks.1.hook_resid_pre at position 3") and "recovered" in info


def test_picking_a_head_focuses_it_in_explore():
    at = open_view(explore(), "Head types")
    assert "Head types" in titles(at)
    ok(at.selectbox(key="focus_head").set_value("L1H0"))
    assert at.session_state["layer"] == 1 and at.session_state["head"] == 0
    ok(at.button(key="focus_open").click())
    assert at.session_state["view"] == "Focused head"
    assert at.selectbox(key="layer").value == 1 and at.selectbox(key="head").value == 0
    assert "Layer 1 head 0" in titles(at)


def test_attribution_follows_the_chosen_tokens_and_the_lens_its_measure():
    at = open_view(explore(), "Logit attribution")
    assert "true next token" in titles(at)
    ok(at.selectbox(key="dla_target").set_value(5))
    ok(at.selectbox(key="dla_versus").set_value(5))
    assert "same token twice" in shown_text(at) and not charts(at)
    ok(at.selectbox(key="dla_versus").set_value(6))
    assert "−" in titles(at)
    ok(at.selectbox(key="dla_pos").set_value(3))
    assert "At position 3" in titles(at)
    open_view(at, "Logit lens")
    ok(at.radio(key="lens_measure").set_value("rank"))
    assert "log10(1+rank)" in json.dumps(charts(at)[0])
    ok(at.selectbox(key="lens_pos").set_value(2))
    assert len(at.dataframe[0].value) == 3  # embed and after each of the 2 blocks


def test_circuits_follow_the_focused_head_and_name_what_is_missing():
    at = open_view(explore(), "Weight circuits")
    ok(at.selectbox(key="layer").set_value(0))
    ok(at.selectbox(key="head").set_value(1))
    assert "Layer 0 head 1" in titles(at) and "raw scores" in titles(at)
    ok(at.selectbox(key="layer").set_value(1))
    assert "Score terms: not shown" in shown_text(at)


def test_stream_health_and_a_view_input_without_a_model():
    at = open_view(explore(), "Stream health")
    assert "Rank collapse" in titles(at) and "Who writes" in titles(at)
    (note,) = INTERP[0].build(None, ViewInput())  # type: ignore[arg-type]
    assert isinstance(note, Note) and "no model" in note.text


def test_a_click_on_the_head_map_names_its_head():
    """The Head types map carries an invisible marker per cell with [layer, head]; the page's
    selection callback reads the head from the clicked point (the browser test clicks it)."""
    from ui.controls import picked_head

    event = {"selection": {"points": [{"x": "H0", "y": "L1", "customdata": [1, 0]}]}}
    assert picked_head(event) == (1, 0)
    for nothing in (None, {}, {"selection": {"points": []}}, {"selection": {"points": [{}]}}):
        assert picked_head(nothing) is None
    # the heatmap's own point (hover text as customdata) is passed over for the marker's
    cell = {"x": "H0", "y": "L1", "customdata": "induction"}
    assert picked_head({"selection": {"points": [cell, event["selection"]["points"][0]]}}) == (1, 0)
