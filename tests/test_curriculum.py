"""The Curriculum page: its live measurements against hand-computed values, its sections against
the records they are built from (change a record, the words change; a difference inside the seed
spread is never a direction), and the page itself under AppTest on a suite root written here."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from analysis import curriculum as cur
from analysis.catalog import ENV_ROOT
from curriculum.evidence import RECALL, SUITE_SPEC, load_evidence, suite_order
from fixtures.app_checkpoints import TINY
from fixtures.curriculum import (
    BASE,
    build,
    edit,
    make_root,
    recall_record,
    variant_record,
    write_record,
)
from model.checkpoint import load_checkpoint
from model.config import ModelConfig
from training.suite_record import Spread
from ui.state import STRICT_ENV
from views import curriculum_live_text as says
from views.curriculum_sections import SECTIONS, Section
from viz import curriculum as figs

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 90  # first run imports torch and plotly on a shared, loaded machine
PROMPT = "ROMEO:\nBut, soft! what light through yonder window breaks?"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As the app runs torch (ui.state.load_model): spinning workers on busy cores cost seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(
        tmp_path_factory.mktemp("suite"), leave_out=("narrow_separate",), old=("post_ln",)
    )


@pytest.fixture(scope="module")
def tiny(root: Path):
    return {n: load_checkpoint(root / n) for n in ("baseline", "lstm", "shared_layers")}


@pytest.fixture
def ids(tiny) -> tuple[int, ...]:
    return tuple(tiny["baseline"].tokenizer.encode(PROMPT))


def words(s: Section) -> str:
    return "\n".join([s.headline, *(f.sentence for f in s.findings), s.uncertainty, s.status])


# --------------------------------------------------------------------------- sections from records


def test_the_setup_describes_the_spec_the_records_were_checked_against(
    root: Path, tmp_path: Path
) -> None:
    """Records read against another spec (a longer suite under evaluation) are described with
    that spec's layers, steps and seeds, not configs/suite.toml's."""
    longer = tmp_path / "longer.toml"
    longer.write_text(
        f'extends = "{SUITE_SPEC}"\n[suite]\nseeds = [0, 1]\n'
        "[base.model]\nn_layers = 3\n[base.train]\nmax_steps = 1234\n"
    )
    shipped = build(root, "Q3").experiment
    text = SECTIONS["Q3"](load_evidence(root, longer)).experiment
    assert "3-layer" in text and "trained for 1234 steps" in text and "then 2 seeds" in text
    assert "1234" not in shipped and "then 3 seeds" in shipped


def test_the_d_head_sweep_names_the_parameter_counts_it_mixes_in(root: Path) -> None:
    ev = load_evidence(root)
    for name, n in (
        ("heads4_dhead8", 615_680),
        ("baseline", 812_288),
        ("heads4_dhead64", 1_074_432),
    ):
        ev.records[name].n_params = n
    text = SECTIONS["Q2"](ev).experiment
    assert "(616k at d_head 8, " in text and "812k at d_head 32" in text
    assert "1.07M at d_head 64), so that family mixes the two" in text


def test_every_section_has_its_parts(root: Path) -> None:
    for key in SECTIONS:
        s = build(root, key)
        assert s.text.question and s.experiment and s.limits and s.headline, key
        assert s.charts and s.findings, key
        for c in s.charts:
            assert isinstance(c.figure, go.Figure)
        assert "{" not in s.limits  # the spec's numbers were filled in


def test_each_question_draws_its_record_figures(root: Path) -> None:
    titles = {
        key: " | ".join(str(c.figure.layout.title.text) for c in build(root, key).charts)
        for key in SECTIONS
    }
    assert "Recall accuracy by distance" in titles["Q1"] and "by position" in titles["Q1"]
    assert "d_head sweep" in titles["Q2"] and "attention entropy per layer" in titles["Q2"]
    assert "token cosine after training" in titles["Q4"] and "Gradient norm" in titles["Q4"]
    # 0.2 / 0.3 in the fixture, at each of its two evaluations
    assert "**baseline**: first block over last 0.67 at step 50, 0.67 at step 100" in " ".join(
        build(root, "Q4").notes
    )
    assert "Reversal task" in titles["mask"] and "seeing ahead" in titles["mask"]


def test_missing_and_older_variants_are_named(root: Path) -> None:
    q3, q4 = build(root, "Q3"), build(root, "Q4")
    assert "Not trained yet" in q3.status and "`narrow_separate`" in q3.status
    assert "`post_ln`" in q4.status and "earlier suite" in q4.status
    assert "post_ln" not in " ".join(f.sentence for f in q4.findings)  # old records never answer
    assert build(root, "Q2").status == ""


def clause(headline: str, name: str) -> str:
    """The part of a headline ("clearly worse than ...: `a`, `b`; no clear ...") naming `name`."""
    found = [c for c in headline.split(";") if f"`{name}`" in c.split(":")[-1]]
    assert len(found) == 1, (name, headline)
    return found[0]


# (question, variant whose record is edited)
CASES = [("Q1", "lstm"), ("Q2", "cosine"), ("Q3", "shared_layers"), ("Q4", "no_residual")]


@pytest.mark.parametrize(("key", "name"), CASES)
def test_a_record_change_changes_the_answer(tmp_path: Path, key: str, name: str) -> None:
    root = make_root(tmp_path)
    edit(root, name, [1.9, 1.91, 1.89])
    assert "clearly worse than `baseline`" in clause(build(root, key).headline, name)
    edit(root, name, [1.50, 1.52, 1.49])  # inside the seed spread
    assert "no clear difference from `baseline`" in clause(build(root, key).headline, name)
    edit(root, name, [1.2, 1.21, 1.19])
    assert "clearly better than `baseline`" in clause(build(root, key).headline, name)


def test_the_mask_follows_its_records(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    before = build(root, "mask")
    assert (
        "does clearly worse than the causal baseline once the mask is put back" in before.headline
    )
    r = variant_record("no_causal_mask", [0.3, 0.31, 0.29])
    r.mask_flip = {"spread": Spread.of([1.5, 1.52, 1.49])}
    write_record(root, r)
    after = build(root, "mask")
    assert "no clear difference from the causal baseline" in after.headline
    assert "1.503 ± 0.015" in words(after) and "3.000" not in words(after)


def test_recall_follows_its_record(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    assert "(97% vs 10%)" in build(root, "Q1").headline
    (root / RECALL / "record.json").write_text(json.dumps(recall_record(lstm_far=0.97)))
    head = build(root, "Q1").headline
    assert (
        "at distances 4–7 the 2-layer transformer shows no clear difference from the LSTM" in head
    )
    assert "L1.H0 puts 80%" in words(build(root, "Q1"))
    # an LSTM that never left chance (1/32 = 3%) at any rate it tried is said to be untrained,
    # not compared distance by distance
    at_chance = recall_record()
    lstm = at_chance["models"]["lstm"]
    lstm["test_accuracy"] = {"mean": 0.035, "std": 0.001, "n": 3}
    lstm["grid"] = [
        {"lr": lr, "status": "completed", "select_accuracy": 0.03} for lr in (1e-3, 3e-3)
    ]
    (root / RECALL / "record.json").write_text(json.dumps(at_chance))
    head = build(root, "Q1").headline
    assert "On recall, the LSTM stayed at chance (4%, guessing among 32 values: 3%)" in head
    assert "(0.001, 0.003)" in head and "did not learn the task" in head
    assert "recalls clearly more often" not in head
    findings = words(build(root, "Q1"))
    assert "The LSTM stayed at chance" in findings and "recall accuracy at distance" not in findings
    lstm["grid"][0]["select_accuracy"] = 0.5  # one rate did learn: not "at every rate"
    (root / RECALL / "record.json").write_text(json.dumps(at_chance))
    assert "stayed at chance" not in build(root, "Q1").headline


def test_no_direction_is_stated_inside_the_seed_spread(tmp_path: Path) -> None:
    """Every variant (and recall model, and the count bigram) level with its reference, inside a
    wide seed spread: no question may state a direction, in its headline or in any finding."""
    root = make_root(tmp_path)
    for name in suite_order():
        if name.startswith("reversal"):
            r = variant_record("reversal_masked", BASE)
            r.name = name
        else:
            r = variant_record(name, [1.5, 1.6, 1.4])
            r.references["bigram_loss"] = 1.55
            r.mask_flip = {"spread": Spread.of([1.5, 1.6, 1.4])} if r.mask_flip else {}
        write_record(root, r)
    (root / RECALL / "record.json").write_text(json.dumps(recall_record(tied=True)))
    for key in SECTIONS:
        s = build(root, key)
        assert "clearly" not in s.headline and s.headline, (key, s.headline)
        for f in s.findings:
            assert f.standing in ("same", "unknown"), (key, f.sentence)
            assert "better" not in f.sentence and "worse" not in f.sentence, (key, f.sentence)


def test_failed_seeds_are_said_not_averaged(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    r = variant_record("no_residual", [2.4, 2.42, 2.41])
    r.seeds = [dataclasses.replace(s, status="diverged", val_loss=None) for s in r.seeds]
    r.spread["val_loss"] = Spread.of([None, None, None])
    write_record(root, r)
    s = build(root, "Q4")
    assert "did not finish training (3 of 3 seeds diverged)" in words(s)
    assert "no verdict (failed runs or too few seeds): `no_residual`" in s.headline


# --------------------------------------------------------------------------- live measurements


def test_scaling_exponent_and_dependency_chain() -> None:
    lengths = [16, 32, 64, 128]
    assert cur.scaling_exponent(lengths, [3e-6 * n**2 for n in lengths]) == pytest.approx(2.0)
    assert cur.scaling_exponent(lengths, [0.5 * n for n in lengths]) == pytest.approx(1.0)
    tf = ModelConfig(n_layers=4)
    assert cur.dependency_chain(tf, 256) == 4
    assert cur.dependency_chain(tf.replace(architecture="lstm"), 256) == 259


def test_dot_product_spread_grows_like_sqrt_d() -> None:
    s = cur.dot_product_spread((4, 64, 256), n_keys=32, n_queries=200)
    for d, std, scaled in zip(s.d_heads, s.std_unscaled, s.std_scaled, strict=True):
        assert std == pytest.approx(math.sqrt(d), rel=0.15)
        assert scaled == pytest.approx(1.0, rel=0.15)
    assert s.max_weight_unscaled[-1] > 0.8 > s.max_weight_scaled[-1]  # saturation


def test_similarities_and_collapse_by_hand() -> None:
    a = np.array([[1.0, 0.0], [0.5, 0.5]])
    b = np.array([[0.0, 1.0], [0.5, 0.5]])
    sim = cur.pattern_similarity(np.stack([a[None], a[None], b[None]]))  # [layer=3, head=1, 2, 2]
    assert sim[0, 1] == pytest.approx(1.0) and sim[0, 2] == pytest.approx(0.5 / 1.5)
    x = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    assert cur.mean_pairwise_cosine(x) == pytest.approx((0 + 1 + 0) * 2 / 6)
    same = np.ones((4, 3))
    assert cur.spread_from_mean(same) == 0.0 and cur.mean_pairwise_cosine(same) == pytest.approx(1)
    # rows +v and -v: the mean is 0, so all of X differs from it
    assert cur.spread_from_mean(np.array([[1.0, 2.0], [-1.0, -2.0]])) == pytest.approx(1.0)
    mean, top, pair = says.off_diagonal(sim)
    assert top == pytest.approx(1.0) and pair == (0, 1)


def test_grad_norm_series_and_depth_ratio() -> None:
    curve = [
        {"step": 100, "grad_norm_by_layer": {"embed": 1.0, "blocks.1": 4.0, "blocks.0": 1.0}},
        {"step": 200, "grad_norm_by_layer": {"embed": 3.0, "blocks.1": 2.0, "blocks.0": 3.0}},
        {"step": 250, "val_loss": 1.0},
    ]
    steps, series = cur.grad_norm_series(curve)
    assert steps == [100, 200] and list(series) == ["embed", "blocks.0", "blocks.1"]
    assert cur.depth_ratio({g: v[0] for g, v in series.items()}) == pytest.approx(1.0 / 4.0)
    assert cur.depth_ratio({g: v[1] for g, v in series.items()}) == pytest.approx(3.0 / 2.0)


def test_live_measurements_on_tiny_models(tiny, ids) -> None:
    base = tiny["baseline"]
    rows = {r["tensor"]: r for r in cur.attention_shapes(base.model, ids)}
    n, h, d = len(ids), TINY["n_heads"], TINY["d_head"]
    assert rows["q"]["shape"] == str((1, n, h, d)) and rows["pattern"]["shape"] == str((1, h, n, n))
    assert f"| `pattern` | {(1, h, n, n)} | batch head q_pos k_pos |" in says.shapes_table(
        rows.values()
    )
    np.testing.assert_allclose(
        cur.block_weight_similarity(tiny["shared_layers"].model), 1.0, atol=1e-6
    )
    np.testing.assert_allclose(
        cur.mlp_output_similarity(tiny["shared_layers"].model, ids), 1.0, atol=1e-5
    )


def test_mlp_output_similarity_reads_functions_not_names(tiny, ids) -> None:
    """Copy block 0's MLP sub-layer into block 1: they agree (cosine 1); negate block 1's output
    projection: they disagree exactly (cosine -1); the diagonal is 1 either way."""
    model = copy.deepcopy(tiny["baseline"].model)
    before = cur.mlp_output_similarity(model, ids)
    b0, b1 = model.blocks[0], model.blocks[1]
    with torch.no_grad():
        b1.mlp.load_state_dict(b0.mlp.state_dict())
        b1.ln2.load_state_dict(b0.ln2.state_dict())
        same = cur.mlp_output_similarity(model, ids)
        b1.mlp.W_out.neg_()
        if b1.mlp.b_out is not None:
            b1.mlp.b_out.neg_()
        opposite = cur.mlp_output_similarity(model, ids)
    np.testing.assert_allclose(np.diag(same), 1.0, atol=1e-5)
    assert same[0, 1] == pytest.approx(1.0, abs=1e-5) and same[1, 0] == pytest.approx(1.0, abs=1e-5)
    assert opposite[0, 1] == pytest.approx(-1.0, abs=1e-5)
    np.testing.assert_allclose(np.diag(opposite), 1.0, atol=1e-5)
    assert abs(before[0, 1]) < 0.99  # before the copy they were different functions


def test_depth_profile_matches_loss(tiny, ids) -> None:
    base = tiny["baseline"]
    p = cur.depth_profile(base.model, ids)
    assert p.lens_loss[-1] == pytest.approx(cur.mean_loss(base.model, ids), rel=1e-5)
    r = cur.bypass_residual(base.model, base.tokenizer, ids)
    assert r.loss_on == pytest.approx(cur.mean_loss(base.model, ids), rel=1e-5)
    assert r.loss_off != pytest.approx(r.loss_on)
    c = cur.stream_collapse(base.model, ids)
    assert len(c.cosine) == len(c.residual) == TINY["n_layers"] + 1
    assert c.cosine[0] == pytest.approx(r.cosine_on[0], abs=1e-6)


def test_distance_profile_by_hand() -> None:
    # target 1 sees sources 0, 1 with saliency 1, 3 -> shares by distance [0.75, 0.25]
    # target 2 sees sources 0..2 with saliency 2, 0, 2 -> shares [0.5, 0, 0.5]
    sal = np.array([[1.0, 3.0, 9.0], [2.0, 0.0, 2.0]])  # the 9 is a future source: ignored
    p = cur.distance_profile(sal, [1, 2], recent_k=1)
    np.testing.assert_allclose(p.share, [(0.75 + 0.5) / 2, (0.25 + 0.0) / 2, 0.5])
    assert p.recent_share == pytest.approx((0.75 + 0.5) / 2)
    assert p.mean_distance == pytest.approx((0.25 + 1.0) / 2)  # 0.25*1 and 0.5*2


def test_saliency_stays_at_distance_zero_without_attention_output(tiny, ids) -> None:
    """With every head's output zeroed, position t's loss depends on token t alone."""
    model = cur.initialised(tiny["baseline"].config)
    model.load_state_dict(tiny["baseline"].model.state_dict())
    with torch.no_grad():
        for block in model.blocks:
            block.attn.W_O.zero_()
    p = cur.input_saliency(model, ids, max_targets=8)
    assert p.share[0] == pytest.approx(1.0) and p.mean_distance == pytest.approx(0.0)
    lstm = cur.input_saliency(tiny["lstm"].model, ids, max_targets=8)
    assert lstm.n_targets == 8 and lstm.share[1:].sum() > 0  # the state carries the past


def test_score_spread_is_divided_by_sqrt_d_head(tiny, ids) -> None:
    s = cur.score_spread(tiny["baseline"].model, ids)
    assert len(s.raw) == TINY["n_layers"]
    for raw, scaled in zip(s.raw, s.scaled, strict=True):
        assert scaled == pytest.approx(raw / math.sqrt(TINY["d_head"]), rel=1e-4)


def test_initialisation_is_the_configs_own(tiny, ids) -> None:
    cfg = tiny["baseline"].config
    a, b = cur.initialised(cfg, seed=1), cur.initialised(cfg, seed=1)
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(pa, pb), na
    g = cur.grad_norm_at_init(cfg, ids)
    assert set(g) == {"embed", "blocks.0", "blocks.1"} and all(v > 0 for v in g.values())
    lstm = cur.grad_norm_at_init(tiny["lstm"].config, ids)
    assert any(k.startswith("layers.") for k in lstm) or "embed" in lstm


def test_timing_runs_both_architectures(tiny) -> None:
    configs = {n: tiny[n].config for n in ("baseline", "lstm")}
    seconds = cur.time_training_steps(configs, (4, 8), repeats=1, batch=2)
    assert all(len(v) == 2 and min(v) > 0 for v in seconds.values())


# --------------------------------------------------------------------------- figure builders


def test_figure_builders_draw_what_they_are_given() -> None:
    bars = figs.spread_bars(
        {"baseline": (1.5, 0.01), "x": (1.7, 0.02)}, title="t", y_title="y", reference="baseline"
    )
    assert list(bars.data[0].y) == [1.5, 1.7] and list(bars.data[0].error_y.array) == [0.01, 0.02]
    lines = figs.band_lines(
        {"a": ([1, 2], [0.1, 0.2])}, [1, 2], title="t", x_title="x", y_title="y"
    )
    assert list(lines.data[0].error_y.array) == [0.1, 0.2]
    health = figs.health_chart({"m": ([1, 2], [[1.0, 2.0], [1.5, 2.5]], [[3.0, 4.0], [5.0, 6.0]])})
    assert len(health.data) == 4  # 2 layers x (entropy, max score)
    scatter = figs.params_scatter({"a": (10, 1.0, 0.1)})
    assert list(scatter.data[0].error_y.array) == [0.1]


@pytest.mark.parametrize(
    "call",
    [
        lambda: figs.spread_bars({}, title="t", y_title="y"),
        lambda: figs.band_lines({"a": ([1], [0.1])}, [1, 2], title="t", x_title="x", y_title="y"),
        lambda: figs.health_chart({}),
        lambda: figs.params_scatter({}),
    ],
)
def test_figure_builders_reject_bad_input(call) -> None:
    with pytest.raises(ValueError):
        call()


# --------------------------------------------------------------------------- the page (AppTest)

TABS = ("Q1 · time", "Q2 · Q, K, V", "Q3 · layers", "Q4 · skips", "The mask")


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")  # an unexpected error fails the test, not a warning
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(root: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Through app.py, as users reach it (the script's own folder holds a `curriculum.py`)."""
    monkeypatch.setenv(ENV_ROOT, str(root))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/curriculum.py").run()
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["cur_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def page_text(at: AppTest) -> str:
    return "\n".join([*(m.value for m in at.markdown), *(i.value for i in at.info)])


def test_page_words_follow_the_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_root(tmp_path, leave_out=("narrow_separate",))
    at = open_page(root, monkeypatch)
    n_charts = 0
    for tab in TABS:
        open_tab(at, tab)
        assert not at.warning, (tab, [w.value for w in at.warning])
        n_charts += len(at.get("plotly_chart"))
        assert "**Uncertainty.**" in page_text(at) and "cannot show" in page_text(at)
    assert n_charts >= 15
    q1 = open_tab(at, "Q1 · time")
    assert "The retrieval head, L1.H0, on a recall sequence" in [h.value for h in at.subheader]
    assert "(97% vs 10%)" in page_text(q1)
    text = page_text(open_tab(at, "Q3 · layers"))
    assert "clearly worse than `baseline`: `shared_layers`" in text
    assert "Not trained yet (or still training): `narrow_separate`" in text
    assert "weight cosine" in text  # live: the baseline's blocks on the prompt
    assert "a freshly initialised copy scores" in text  # live: the MLPs as functions
    q4 = page_text(open_tab(at, "Q4 · skips"))
    assert "at init" in q4 and "Bypassing the residual stream" in q4
    # a new record on disk: the words change on the next run, no restart
    edit(root, "shared_layers", [1.50, 1.51, 1.49])
    text = page_text(open_tab(at, "Q3 · layers"))
    assert "no clear difference from `baseline`: `shared_layers`" in text


def test_page_timing_button(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(root, monkeypatch)
    at.button(key="cur_time").click().run(timeout=TIMEOUT)
    assert not at.exception, at.exception
    assert "log-log slope" in page_text(at)
    at.text_area(key="cur_prompt").set_value("   ")
    assert "Type a prompt in the sidebar" in page_text(open_tab(at, "Q4 · skips"))


def test_page_with_nothing_trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(tmp_path, monkeypatch)
    for tab in TABS:
        assert "Not trained yet" in page_text(open_tab(at, tab)), tab


def test_mlp_similarity_text_reads_the_matrix() -> None:
    eye = np.eye(3)
    alike = np.full((3, 3), 0.9) + 0.1 * eye
    text = says.mlp_similarity_text(alike, eye)
    assert "averages 0.900" in text and "one function repeated" in text and "scores 0.000" in text
    apart = 0.05 * np.ones((3, 3)) + 0.95 * eye
    assert "different functions" in says.mlp_similarity_text(apart, eye)
    assert says.mlp_similarity_text(np.ones((1, 1)), np.ones((1, 1))) == ""
    against = -0.5 * np.ones((3, 3)) + 1.5 * eye
    assert "partly opposite functions" in says.mlp_similarity_text(against, eye)
