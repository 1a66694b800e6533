"""AppTest drives every page on tiny checkpoints: each switch, layer/head/position choice, every
bad input; no exception ever, and the numbers shown move when they should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.catalog import ENV_ROOT
from fixtures.app_checkpoints import TEXT, TINY, make_checkpoints
from model.switches import SWITCHES
from ui.state import STRICT_ENV
from views.registry import VIEWS

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60  # the first run imports torch and plotly; the machine is shared


@pytest.fixture(scope="module")
def ckpt_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoints(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(autouse=True)
def app_env(ckpt_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ROOT, str(ckpt_root))
    # unexpected errors must fail the test (at.exception), not become the user-facing message
    monkeypatch.setenv(STRICT_ENV, "1")
    st.cache_data.clear()
    st.cache_resource.clear()


def explore() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return found[0]


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def dump(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def ok(target) -> AppTest:
    """Run the app (from the AppTest or from a widget just changed); no exception allowed."""
    at = target.run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


# --- Explore --------------------------------------------------------------------------------------


def test_landing_page_opens_on_baseline_with_example_prompt_and_grid():
    at = explore()
    assert at.selectbox(key="explore_model").value == "baseline"
    assert at.text_area(key="prompt").value.startswith("ROMEO")
    assert not at.error and not at.warning
    assert float(metric(at, "Loss (nats/token)")) > 0
    (grid,) = charts(at)
    (mosaic,) = grid["data"]  # every head tiled into one heatmap
    assert [a["text"] for a in grid["layout"]["annotations"]][:4] == ["H0", "H1", "L0", "L1"]
    # the Grid view's files and "export everything"
    assert len(at.get("download_button")) == len(VIEWS[0].exports) + 1
    assert at.expander[0].label == "What am I looking at?"  # a first visit gets an orientation


def test_the_intro_says_what_removing_the_mask_does_to_this_models_loss():
    at = explore()
    intro = at.expander[0].markdown[0].value
    before = float(metric(at, "Loss (nats/token)"))
    ok(at.checkbox(key="sw_causal_mask").uncheck())
    after = float(metric(at, "Loss (nats/token)"))
    word = "*rises*" if after > before + 0.01 else "*drops*" if after < before - 0.01 else "barely"
    assert word in intro and f"from {before:.2f} to {after:.2f} nats/token" in intro


@pytest.mark.slow
def test_the_intro_says_the_shipped_baselines_loss_rises_without_the_mask(tmp_path, monkeypatch):
    import shutil

    from analysis.catalog import REPO

    shipped = REPO / "checkpoints" / "baseline"
    if not (shipped / "config.json").is_file():
        pytest.skip("no shipped baseline checkpoint")
    shutil.copytree(shipped, tmp_path / "baseline")
    monkeypatch.setenv(ENV_ROOT, str(tmp_path))
    intro = explore().expander[0].markdown[0].value
    assert "loss *rises*" in intro and "never learned to use what lies ahead" in intro


@pytest.mark.parametrize("switch", [f"sw_{name}" for name in SWITCHES])
def test_each_switch_changes_the_loss_and_shows_the_change(switch):
    at = explore()
    before = metric(at, "Loss (nats/token)")
    ok(at.checkbox(key=switch).uncheck())
    after = metric(at, "Loss (nats/token)")
    assert after != before
    delta = next(m.delta for m in at.metric if m.label == "Loss (nats/token)")
    assert "vs unswitched" in delta
    assert metric(at, "Unswitched loss") == before
    ok(at.checkbox(key=switch).check())
    assert metric(at, "Loss (nats/token)") == before


def test_removing_the_mask_changes_the_heatmap():
    at = explore()
    z_before = charts(at)[0]["data"][0]["z"]
    ok(at.checkbox(key="sw_causal_mask").uncheck())
    assert charts(at)[0]["data"][0]["z"] != z_before


def test_head_knockouts_zero_and_mean_change_the_loss():
    at = explore()
    base = metric(at, "Loss (nats/token)")
    ok(at.multiselect(key="sw_knockouts").select("L0H0").select("L1H1"))
    zero = metric(at, "Loss (nats/token)")
    ok(at.radio(key="sw_ko_mode").set_value("mean"))
    mean = metric(at, "Loss (nats/token)")
    assert len({base, zero, mean}) == 3
    ok(at.multiselect(key="sw_knockouts").unselect("L0H0").unselect("L1H1"))
    assert metric(at, "Loss (nats/token)") == base


@pytest.mark.parametrize("view", VIEWS, ids=[v.key for v in VIEWS])
def test_every_registered_view_renders_with_its_controls_and_exports(view):
    at = explore()
    at.session_state["view"] = view.name
    ok(at)
    if "layer_head" in view.controls:
        ok(at.selectbox(key="layer").set_value(1))
        ok(at.selectbox(key="head").set_value(1))
    if view.key == "tokens":  # HTML, not a chart: the focused layer, its focused head lit
        (page,) = [h.proto.body for h in at.get("html")]
        assert 'data-layer="1"' in page and "new Set([1])" in page
    elif view.key != "generate":  # the Generate view draws once something was generated
        assert charts(at) or at.dataframe
    if "layer_head" in view.controls and view.key != "tokens":
        assert any("Layer 1 head 1" in dump(c["layout"]["title"]) for c in charts(at))
    buttons = at.get("download_button")
    assert len(buttons) == len(view.exports) + 1  # and "export everything"


def test_focused_head_labels_every_token():
    at = explore()
    at.session_state["view"] = "Focused head"
    ok(at)
    (fig,) = charts(at)
    n = int(metric(at, "Tokens analysed"))
    for axis in ("xaxis", "yaxis"):
        assert (
            len(fig["layout"][axis]["tickvals"]) == n == len(set(fig["layout"][axis]["tickvals"]))
        )


LINK = {
    "model": "no_pos",
    "prompt": "the cat sat on the mat",
    "causal_mask": "0",
    "ko": "L0H1",
    "ko_mode": "mean",
    "view": "Focused head",
    "layer": "1",
    "head": "1",
}


def test_a_link_reopens_the_same_model_prompt_switches_view_and_head():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(LINK)
    ok(at)
    assert at.selectbox(key="explore_model").value == "no_pos"
    assert at.text_area(key="prompt").value == LINK["prompt"]
    assert at.checkbox(key="sw_causal_mask").value is False
    assert at.multiselect(key="sw_knockouts").value == ["L0H1"]
    assert at.radio(key="sw_ko_mode").value == "mean"
    assert "Layer 1 head 1" in dump(charts(at)[0]["layout"]["title"])
    # and the page writes what it shows back into the link
    assert {k: at.query_params[k] for k in at.query_params} == LINK
    ok(at.checkbox(key="sw_causal_mask").check())
    assert "causal_mask" not in at.query_params


def test_a_link_with_nonsense_is_ignored_without_an_error():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(model="nope", layer="99", head="x", ko="L9H9,<b>", view="Nope")
    ok(at)
    assert at.selectbox(key="explore_model").value == "baseline"
    assert not at.error and charts(at)


def test_the_lstm_gets_a_hidden_state_tab_without_layernorm_help():
    at = explore()
    ok(at.selectbox(key="explore_model").set_value("lstm"))
    labels = [t.label for t in at.tabs]
    assert "Hidden states" in labels and "Residual & LayerNorm" not in labels
    at.session_state["view"] = "Hidden states"
    ok(at)
    assert "no residual stream and no LayerNorm" in " ".join(c.value for c in at.caption)


def test_layer_head_and_gamma_survive_an_empty_prompt():
    at = explore()
    at.session_state["view"] = "Focused head"
    ok(at)
    ok(at.selectbox(key="layer").set_value(1))
    ok(at.selectbox(key="head").set_value(1))
    ok(at.slider(key="gamma").set_value(0.5))
    ok(at.text_area(key="prompt").input(""))
    assert "empty" in errors(at)
    ok(at.text_area(key="prompt").input("the cat sat"))
    assert at.selectbox(key="layer").value == 1 and at.selectbox(key="head").value == 1
    assert at.slider(key="gamma").value == 0.5
    assert "Layer 1 head 1" in dump(charts(at)[0]["layout"]["title"])


def test_knocked_out_heads_are_marked_in_the_grid():
    at = explore()
    ok(at.multiselect(key="sw_knockouts").select("L1H0"))
    assert "knocked out" in dump(charts(at)[0]["layout"]["annotations"])


def test_qkv_inspector_follows_the_chosen_query_and_key():
    at = explore()
    at.session_state["view"] = "Q/K/V"
    ok(at)
    ok(at.selectbox(key="q_pos").set_value(10))
    ok(at.selectbox(key="k_pos").set_value(3))
    assert "query 10 → key 3" in dump(charts(at)[0]["layout"]["title"])


def test_layernorm_view_says_so_when_layernorm_is_off():
    at = explore()
    at.session_state["view"] = "Residual & LayerNorm"
    ok(at)
    assert len(charts(at)) == 3
    ok(at.checkbox(key="sw_layernorm").uncheck())
    assert len(charts(at)) == 1
    assert any("No LayerNorm ran" in c.value for c in at.caption)
    assert "Residual-stream norm" in dump(charts(at)[0]["layout"]["title"])


def test_per_token_loss_view_shows_coloured_prompt_and_topk_table():
    at = explore()
    at.session_state["view"] = "Per-token loss"
    ok(at)
    assert at.dataframe and len(at.dataframe[0].value) == len(at.text_area(key="prompt").value)


def test_generation_streams_and_appends_to_the_analysed_prompt():
    at = explore()
    at.session_state["view"] = "Generate"
    ok(at)
    prompt = at.text_area(key="prompt").value
    ok(at.number_input(key="gen_tokens").set_value(5))
    ok(at.button(key="gen_go").click())
    assert at.text_area(key="prompt").value.startswith(prompt)
    assert len(at.text_area(key="prompt").value) == len(prompt) + 5
    assert metric(at, "Tokens analysed") == str(len(prompt) + 5)
    (step_fig,) = charts(at)  # the per-step attention recorded through the KV cache
    assert len(step_fig["data"][0]["y"]) == 2 * 2
    ok(at.select_slider(key="gen_step").set_value(4))


def test_example_prompts_switch_the_text():
    at = explore()
    ok(at.selectbox(key="example").set_value("Counting"))
    assert at.text_area(key="prompt").value.startswith("one two")


@pytest.mark.parametrize(
    ("text", "level", "needle"),
    [
        ("", "error", "empty"),
        ("   \n ", "error", "empty"),
        ("snow ☃ and ✓", "error", "'☃'"),
        (TEXT * 3, "warning", "context is 64"),
        ("a" * 100_000, "warning", "100,000 characters"),
    ],
)
def test_bad_prompts_get_a_clear_message(text, level, needle):
    at = explore()
    ok(at.text_area(key="prompt").input(text))
    shown = errors(at) if level == "error" else warnings(at)
    assert needle in shown
    if level == "warning":  # still analysed: the last n_ctx tokens
        assert metric(at, "Tokens analysed") == "64"
    # the app keeps working after the bad input
    ok(at.text_area(key="prompt").input("the cat sat"))
    assert not at.error and metric(at, "Tokens analysed") == "11"


def _bad_folder(tmp: Path, kind: str) -> Path:
    folder = tmp / kind
    if kind == "missing":
        return folder
    good = Path(__import__("os").environ[ENV_ROOT]) / "baseline"
    folder.mkdir()
    for f in good.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    if kind == "corrupt":
        (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    elif kind == "mismatched":
        cfg = json.loads((folder / "config.json").read_text())
        cfg["d_model"] = 48
        (folder / "config.json").write_text(json.dumps(cfg))
    elif kind == "pickle":
        (folder / "model.safetensors").unlink()
        (folder / "model.pt").write_bytes(b"\x80\x04fake pickle")
    elif kind == "bad_json":
        (folder / "config.json").write_text("{not json")
    return folder


@pytest.mark.parametrize("kind", ["missing", "corrupt", "mismatched", "pickle", "bad_json"])
def test_bad_checkpoint_folders_get_a_clear_error_and_the_app_recovers(kind, tmp_path):
    at = explore()
    ok(at.selectbox(key="explore_model").set_value("Other folder…"))
    ok(at.text_input(key="explore_path").input(str(_bad_folder(tmp_path, kind))))
    assert "Cannot load this checkpoint" in errors(at)
    ok(at.selectbox(key="explore_model").set_value("baseline"))
    assert not at.error and float(metric(at, "Loss (nats/token)")) > 0


def test_user_folder_loads_like_a_shipped_variant(ckpt_root):
    at = explore()
    ok(at.selectbox(key="explore_model").set_value("Other folder…"))
    ok(at.text_input(key="explore_path").input(str(ckpt_root / "no_pos")))
    assert not at.error
    absent = at.checkbox(key="sw_pos_encoding_absent")  # trained without positions
    assert absent.disabled and absent.value is False  # unticked: the model has no such part


def test_lstm_checkpoint_shows_what_applies():
    at = explore()
    ok(at.selectbox(key="explore_model").set_value("lstm"))
    assert any("LSTM" in i.value and "do not apply" in i.value for i in at.info)
    assert at.checkbox(key="sw_causal_mask_absent").disabled
    assert float(metric(at, "Loss (nats/token)")) > 0
    for view in ("Residual & LayerNorm", "Per-token loss", "Generate"):
        at.session_state["view"] = view
        ok(at)
        if view == "Residual & LayerNorm":
            assert "LSTM hidden-state norm" in dump(charts(at)[0]["layout"]["title"])
    ok(at.number_input(key="gen_tokens").set_value(3))
    ok(at.button(key="gen_go").click())


def test_model_change_clamps_layer_head_and_knockouts(ckpt_root):
    at = explore()
    at.session_state["view"] = "Focused head"
    ok(at)
    ok(at.selectbox(key="layer").set_value(1))
    ok(at.multiselect(key="sw_knockouts").select("L1H1"))
    ok(at.selectbox(key="explore_model").set_value("lstm"))
    ok(at.selectbox(key="explore_model").set_value("baseline"))


def test_without_shipped_variants_the_app_asks_for_a_folder(tmp_path, monkeypatch, ckpt_root):
    monkeypatch.setenv(ENV_ROOT, str(tmp_path / "empty"))
    at = explore()
    assert any("No shipped variants" in i.value for i in at.info)
    ok(at.text_input(key="explore_path").input(str(ckpt_root / "baseline")))
    assert float(metric(at, "Loss (nats/token)")) > 0


def test_two_sessions_do_not_share_switches():
    a, b = explore(), explore()
    base = metric(b, "Loss (nats/token)")
    ok(a.checkbox(key="sw_causal_mask").uncheck())
    ok(b)
    assert metric(b, "Loss (nats/token)") == base != metric(a, "Loss (nats/token)")


# --- Compare --------------------------------------------------------------------------------------


def compare() -> AppTest:
    at = explore()
    return ok(at.switch_page("pages/compare.py"))


def test_compare_two_models_side_by_side_and_records():
    at = compare()
    assert at.selectbox(key="cmp_a_model").value == "baseline"
    assert at.selectbox(key="cmp_b_model").value != "baseline"
    ok(at.selectbox(key="cmp_b_model").set_value("no_pos"))
    titles = [dump(c["layout"].get("title")) for c in charts(at)]
    assert any("max |Δ|" in dump(c) for c in charts(at))  # the difference panel
    assert any("Training curves" in t for t in titles)
    assert at.selectbox(key="cmp_metric").value == "val_loss"  # opens on validation loss
    assert any('"val_loss"' in t for t in titles)
    ok(at.selectbox(key="cmp_layer").set_value(1))
    ok(at.selectbox(key="cmp_head").set_value(1))
    ok(at.selectbox(key="cmp_metric").set_value("lambada_accuracy"))
    ok(at.selectbox(key="cmp_metric").set_value("val_loss (seed mean)"))
    bars = next(c for c in charts(at) if c["data"][0]["type"] == "bar")
    assert bars["data"][0]["error_y"]["array"]  # the spread over seeds, as error bars


def test_compare_shows_every_heads_difference_in_one_map():
    at = compare()
    ok(at.selectbox(key="cmp_b_model").set_value("no_pos"))
    (grid,) = [c for c in charts(at) if "Every head" in dump(c["layout"].get("title"))]
    (trace,) = grid["data"]
    assert grid["layout"]["coloraxis"]["cmin"] == -grid["layout"]["coloraxis"]["cmax"] < 0
    assert trace["x"][0].startswith("H0 · k 0") and trace["y"][-1].startswith("L1 · q")


def test_compare_draws_the_compared_models_curves_and_those_picked():
    at = compare()
    ok(at.selectbox(key="cmp_b_model").set_value("no_pos"))
    (curves,) = [c for c in charts(at) if "Training curves" in dump(c["layout"].get("title"))]
    drawn = {t["legendgroup"] for t in curves["data"]}
    assert drawn == {"baseline", "no_pos"}
    ok(at.multiselect(key="cmp_curve_runs").select("lstm"))
    (curves,) = [c for c in charts(at) if "Training curves" in dump(c["layout"].get("title"))]
    assert {t["legendgroup"] for t in curves["data"]} == {"baseline", "no_pos", "lstm"}


def test_compare_gives_each_variant_one_colour_on_every_chart():
    at = compare()
    figs = charts(at)
    curves = next(c for c in figs if "Training" in dump(c["layout"]["title"]))
    bars = next(c for c in figs if c["data"][0]["type"] == "bar")
    curve_colour = {t["legendgroup"]: t["line"]["color"] for t in curves["data"]}
    bar = bars["data"][0]
    bar_colour = dict(zip(bar["x"], bar["marker"]["color"], strict=True))
    # the curves drawn are the compared models'; each in its bar's colour
    assert curve_colour == {name: bar_colour[name] for name in curve_colour}
    assert len(set(curve_colour.values())) == len(curve_colour)


def test_compare_one_model_two_switch_sets_shows_the_loss_change():
    at = compare()
    ok(at.radio(key="cmp_mode").set_value("One model, two switch sets"))
    assert metric(at, "B − A") == "+0.0000"
    ok(at.checkbox(key="b_causal_mask").uncheck())
    assert metric(at, "B − A") != "+0.0000"
    ok(at.multiselect(key="a_knockouts").select("L0H1"))
    for key in ("a_residual", "a_layernorm", "a_pos_encoding"):
        ok(at.checkbox(key=key).uncheck())


def test_compare_switches_set_in_one_model_mode_stay_in_sight_in_two_models_mode():
    at = compare()
    ok(at.radio(key="cmp_mode").set_value("One model, two switch sets"))
    ok(at.checkbox(key="b_causal_mask").uncheck())
    ok(at.radio(key="cmp_mode").set_value("Two models"))
    ok(at.selectbox(key="cmp_b_model").set_value("no_pos"))
    (side_b,) = [e for e in at.expander if e.label.startswith("Switches of B")]
    assert side_b.proto.expanded and "switched off" in side_b.label
    (side_a,) = [e for e in at.expander if e.label.startswith("Switches of A")]
    assert not side_a.proto.expanded  # nothing off on A: folded as before
    assert "−mask" in " ".join(m.label for m in at.metric)


def test_compare_keeps_model_b_across_a_round_trip_through_one_model_mode():
    at = compare()
    ok(at.selectbox(key="cmp_b_model").set_value("lstm"))
    ok(at.radio(key="cmp_mode").set_value("One model, two switch sets"))
    ok(at.radio(key="cmp_mode").set_value("Two models"))
    assert at.selectbox(key="cmp_b_model").value == "lstm"


def test_a_long_alphabet_is_shown_folded():
    at = explore()
    chars = "".join(sorted(set(TEXT)))
    assert len(chars) > 40
    (folded,) = [e for e in at.sidebar.expander if "characters" in e.label]
    assert folded.label == f"This model reads {len(chars)} characters"


def test_every_example_fits_the_models_context():
    from analysis.prompts import EXAMPLES, examples_for, prepare_prompt
    from model.tokenizers import CharTokenizer

    tok = CharTokenizer.train("".join(EXAMPLES.values()))
    for n_ctx in (64, 128):
        for name, text in examples_for(tok, n_ctx).items():
            prepared = prepare_prompt(text, tok, n_ctx)
            assert prepared.ok and not prepared.messages, (n_ctx, name, prepared.messages)


def test_compare_with_an_lstm_and_bad_prompt():
    at = compare()
    ok(at.selectbox(key="cmp_b_model").set_value("lstm"))
    assert any("LSTM" in i.value for i in at.info)
    ok(at.text_area(key="cmp_prompt").input("snow ☃"))
    assert "'☃'" in errors(at)
    ok(at.text_area(key="cmp_prompt").input(""))
    assert "empty" in errors(at)


@pytest.mark.parametrize(
    ("content", "note"),
    [
        ("{broken", "cannot be read"),
        (json.dumps({"name": "no_pos", "final": {"val_loss": 3.5}}), "schema 1"),
        (json.dumps({"schema_version": 2, "name": "no_pos"}), "does not match schema 2"),
    ],
)
def test_compare_records_of_an_older_schema_or_broken_get_a_note(ckpt_root, content, note):
    path = ckpt_root / "no_pos" / "record.json"
    original = path.read_text()
    path.write_text(content)
    try:
        at = compare()
        assert not at.error
        notes = " ".join(m.value for m in at.markdown)
        assert "no_pos" in notes and note in notes
        assert at.selectbox(key="cmp_metric").value == "val_loss"  # the others still compare
    finally:
        path.write_text(original)


def test_a_model_with_its_own_alphabet_brings_its_own_examples(tmp_path):
    """A reversal-task model reads only a few symbols: the default prompt cannot be encoded, so
    Explore switches to the model's own example and says which characters it reads."""
    import torch

    from model.build import build_model
    from model.checkpoint import save_checkpoint
    from model.config import ModelConfig
    from model.tokenizers import CharTokenizer

    tok = CharTokenizer(list("abcdefgh|"))
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=tok.n_vocab, **{**TINY, "n_ctx": 16}))
    folder = save_checkpoint(tmp_path / "reversal", model, tok, {"name": "reversal"})
    at = explore()
    ok(at.selectbox(key="explore_model").set_value("Other folder…"))
    ok(at.text_input(key="explore_path").input(str(folder)))
    assert not at.error
    assert at.text_area(key="prompt").value == "hcaebgdf|fdgbeac"  # 16 symbols: the context
    assert at.selectbox(key="example").options == ["Reversal", "Alphabet"]
    assert any("abcdefgh|" in c.value for c in at.caption)
    assert metric(at, "Tokens analysed") == "16"


def test_compare_lists_a_variant_recorded_without_weights(ckpt_root):
    """The suite may record a variant without shipping its weights: Compare still charts it, the
    model pickers do not offer it."""
    import shutil

    from fixtures.app_checkpoints import record

    folder = ckpt_root / "record_only"
    folder.mkdir()
    try:
        from model.config import ModelConfig

        (folder / "record.json").write_text(json.dumps(record("record_only", 2.5, ModelConfig())))
        at = compare()
        table = at.dataframe[0].value
        assert "record_only" in list(table["variant"])
        assert "record_only" not in at.selectbox(key="cmp_a_model").options
    finally:
        shutil.rmtree(folder)


# --- Curriculum (the page's own tests: tests/test_curriculum.py) ----------------------------------

CURRICULUM_TABS = ("Q1 · time", "Q2 · Q, K, V", "Q3 · layers", "Q4 · skips", "The mask")


@pytest.mark.parametrize("shipped", [False, True], ids=["tiny", "shipped"])
def test_curriculum_opens_every_tab_on_the_checkpoints_as_they_are(shipped, monkeypatch):
    """Any mix of schema-2, older and missing records: every tab renders, and the variants that
    have no schema-2 record are named as not trained."""
    if shipped:
        root = Path(__file__).resolve().parents[1] / "checkpoints"
        if not root.is_dir():
            pytest.skip("no shipped checkpoints here")
        monkeypatch.setenv(ENV_ROOT, str(root))
    at = ok(explore().switch_page("pages/curriculum.py"))
    said = []
    for tab in CURRICULUM_TABS:
        at.session_state["cur_tab"] = tab
        ok(at)
        said += [i.value for i in at.info]
    if not shipped:  # the tiny root has baseline, no_pos and lstm only
        assert any("Not trained yet" in s and "`shared_layers`" in s for s in said)
