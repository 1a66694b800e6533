"""The curriculum page: its computations against hand-computed values, its explanations against
the records they quote, and the page itself under AppTest on tiny checkpoints and fake records."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from analysis import curriculum as cur
from analysis.catalog import ENV_ROOT
from model.build import build_model
from model.checkpoint import load_checkpoint, save_checkpoint
from model.config import ModelConfig
from model.tokenizers import CharTokenizer
from tests.app_checkpoints import TEXT, TINY
from ui.state import STRICT_ENV
from views import curriculum_text as txt
from viz import curriculum as figs

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "curriculum.py")
TIMEOUT = 90  # first run imports torch and plotly on a shared, loaded machine
PROMPT = "ROMEO:\nBut, soft! what light through yonder window breaks?"
LIVE = ("baseline", "no_pos", "shared_layers", "lstm")  # variants the page loads weights of


# --------------------------------------------------------------------------- fixtures


def lm_record(name: str, final: float, n_params: int = 10_000) -> dict:
    curve = [
        {
            "step": s,
            "train_loss": final + 1.0 - s / 400,
            "val_loss": final + 1.0 - s / 400,
            "lambada_loss": 8.0 - s / 200,
            "lambada_accuracy": 0.0,
            "grad_norm_by_layer": {"embed": 0.3, "blocks.0": 0.01, "blocks.1": 0.04, "total": 0.5},
        }
        for s in (100, 200, 300, 400)
    ]
    return {
        "name": name,
        "status": "completed",
        "steps": 400,
        "n_params": n_params,
        "curve": curve,
        "final": {"val_loss": final, "lambada_loss": 6.0, "lambada_accuracy": 0.0},
        "probe": {
            "residual_norm": [1.0, 2.0, 4.0],
            "token_cosine": [0.1, 0.3, 0.6],
            "attention_entropy": [[1.0, 2.0], [3.0, 4.0]],
            "future_attention": [[0.0, 0.0], [0.0, 0.0]],
        },
        "lambada": {"accuracy": 0.02, "loss": 6.0, "n_scored": 100, "n_skipped": 0},
        "samples": [{"prompt": "ROMEO:\n", "text": f" sample of {name}"}],
        "complete": True,
    }


def reversal_record(masked: bool) -> dict:
    length = 4
    first = [1 / 16] * (length - 1) if masked else [0.9] * (length - 1)
    acc = first + [1.0] + [0.95] * length
    pats = np.full((2, 2, 2 * length, 2 * length), 1 / (2 * length)).tolist()
    future = [[0.0, 0.0], [0.0, 0.0]] if masked else [[0.2, 0.4], [0.1, 0.3]]  # mean 0.25
    return {
        "name": "reversal_masked" if masked else "reversal_unmasked",
        "curve": [{"step": 50, "first_half_accuracy": first[0], "second_half_accuracy": 0.95}],
        "reversal": {
            "accuracy_per_position": acc,
            "length": length,
            "symbols": 16,
            "chance": 1 / 16,
        },
        "probe": {
            "tokens": [3, 1, 4, 16, 4, 1, 3, 2],
            "patterns": pats,
            "future_attention": future,
        },
    }


def write_suite(root: Path) -> Path:
    """Tiny checkpoints for the live variants, records for every variant of the suite."""
    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    configs = {
        "baseline": {},
        "no_pos": {"pos_encoding": "none"},
        "shared_layers": {"share_layers": True},
        "lstm": {"architecture": "lstm"},
    }
    for name, change in configs.items():
        model = build_model(ModelConfig(vocab_size=tok.n_vocab, **TINY, **change))
        save_checkpoint(root / name, model, tok, {"name": name})
    for i, name in enumerate(cur.LM_VARIANTS):
        (root / name).mkdir(exist_ok=True)
        record = lm_record(
            name, 3.0 + 0.1 * i, n_params=10_000 if name != "shared_layers" else 4_000
        )
        (root / name / "record.json").write_text(json.dumps(record))
    for masked, name in ((True, "reversal_masked"), (False, "reversal_unmasked")):
        (root / name).mkdir()
        (root / name / "record.json").write_text(json.dumps(reversal_record(masked)))
    return root


@pytest.fixture(scope="module")
def suite_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_suite(tmp_path_factory.mktemp("suite"))


@pytest.fixture(scope="module")
def tiny(suite_root: Path):
    return {n: load_checkpoint(suite_root / n) for n in LIVE}


@pytest.fixture
def ids(tiny) -> tuple[int, ...]:
    return tuple(tiny["baseline"].tokenizer.encode(PROMPT))


# --------------------------------------------------------------------------- records


def test_scan_finds_records_and_checkpoints(suite_root: Path) -> None:
    shipped = cur.scan(suite_root)
    assert set(shipped.records) == set(cur.VARIANTS)
    assert set(shipped.checkpoints) == set(LIVE)
    assert shipped.missing(["baseline", "nope"]) == ["nope"]
    assert cur.scan(suite_root / "absent").records == {}


def test_final_metric_prefers_final_then_curve() -> None:
    record = {
        "final": {"val_loss": 2.5},
        "curve": [{"step": 1, "val_loss": 9.0, "lambada_loss": 7.0}],
    }
    assert cur.final_metric(record, "val_loss") == 2.5
    assert cur.final_metric(record, "lambada_loss") == 7.0
    assert cur.final_metric(record, "val_bpc") is None
    assert cur.final_metric({"final": {"val_loss": float("nan")}}, "val_loss") is None


def test_number_and_divergence() -> None:
    assert cur.number(True) is None and cur.number("1") is None and cur.number(float("inf")) is None
    assert cur.number(np.float32(1.5)) == 1.5
    assert cur.divergence({"curve": [{"step": 7, "event": "diverged"}]}) == 7
    assert cur.divergence({"status": "diverged", "steps": 12}) == 12
    assert cur.divergence({"status": "completed"}) is None


def test_probe_readers_reject_odd_values() -> None:
    assert cur.probe_list({"probe": {"residual_norm": [1, 2]}}, "residual_norm") == [1.0, 2.0]
    assert cur.probe_list({"probe": {"residual_norm": "x"}}, "residual_norm") is None
    assert cur.probe_list({"probe": "x"}, "residual_norm") is None
    assert cur.probe_matrix({"probe": {"e": [[1, 2], [3]]}}, "e") is None
    assert cur.mean_probe_entropy({"probe": {"attention_entropy": [[1, 2], [3, 4]]}}) == 2.5


# --------------------------------------------------------------------------- pure computations


def test_scaling_exponent_recovers_power_law() -> None:
    lengths = [16, 32, 64, 128]
    assert cur.scaling_exponent(lengths, [3e-6 * n**2 for n in lengths]) == pytest.approx(2.0)
    assert cur.scaling_exponent(lengths, [0.5 * n for n in lengths]) == pytest.approx(1.0)


def test_dependency_chain() -> None:
    tf = ModelConfig(n_layers=4)
    assert cur.dependency_chain(tf, 256) == 4
    assert cur.dependency_chain(tf.replace(architecture="lstm"), 256) == 259


def test_distance_profile_by_hand() -> None:
    # target 1 sees sources 0, 1 with saliency 1, 3 -> shares by distance [0.75, 0.25]
    # target 2 sees sources 0..2 with saliency 2, 0, 2 -> shares [0.5, 0, 0.5]
    sal = np.array([[1.0, 3.0, 9.0], [2.0, 0.0, 2.0]])  # the 9 is a future source: ignored
    p = cur.distance_profile(sal, [1, 2], recent_k=1)
    np.testing.assert_allclose(p.share, [(0.75 + 0.5) / 2, (0.25 + 0.0) / 2, 0.5])
    assert p.recent_share == pytest.approx((0.75 + 0.5) / 2)
    assert p.mean_distance == pytest.approx((0.25 + 1.0) / 2)  # 0.25*1 and 0.5*2
    assert p.n_targets == 2


def test_dot_product_spread_grows_like_sqrt_d() -> None:
    s = cur.dot_product_spread((4, 64, 256), n_keys=32, n_queries=200)
    for d, std, scaled in zip(s.d_heads, s.std_unscaled, s.std_scaled, strict=True):
        assert std == pytest.approx(math.sqrt(d), rel=0.15)
        assert scaled == pytest.approx(1.0, rel=0.15)
    assert s.max_weight_unscaled[-1] > 0.8 > s.max_weight_scaled[-1]  # saturation
    assert s.entropy_unscaled[-1] < s.entropy_scaled[-1] <= math.log2(32)


def test_pattern_similarity_and_cosines_by_hand() -> None:
    a = np.array([[1.0, 0.0], [0.5, 0.5]])
    b = np.array([[0.0, 1.0], [0.5, 0.5]])
    sim = cur.pattern_similarity(np.stack([a[None], a[None], b[None]]))  # [layer=3, head=1, 2, 2]
    assert sim[0, 1] == pytest.approx(1.0)
    assert sim[0, 2] == pytest.approx(0.5 / 1.5)  # a.b = 0.5, |a|^2 = |b|^2 = 1.5
    assert cur.mean_pairwise_cosine(
        np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    ) == pytest.approx((0 + 1 + 0) * 2 / 6)
    mean, top, pair = txt.off_diagonal(sim)
    assert top == pytest.approx(1.0) and pair == (0, 1)
    assert mean == pytest.approx((2 * 1.0 + 4 * 0.5 / 1.5) / 6)


def test_grad_norm_series_and_depth_ratio() -> None:
    curve = [
        {
            "step": 100,
            "grad_norm_by_layer": {"embed": 1.0, "blocks.1": 4.0, "blocks.0": 1.0, "total": 9},
        },
        {"step": 200, "grad_norm_by_layer": {"embed": 3.0, "blocks.1": 2.0, "blocks.0": 3.0}},
        {"step": 250, "val_loss": 1.0},
    ]
    steps, series = cur.grad_norm_series(curve)
    assert steps == [100, 200]
    assert list(series) == ["embed", "blocks.0", "blocks.1"]
    means = cur.median_over_steps(series)
    assert means == {"embed": 2.0, "blocks.0": 2.0, "blocks.1": 3.0}
    assert cur.depth_ratio(means) == pytest.approx(2.0 / 3.0)
    assert cur.depth_ratio({"embed": 1.0}) is None


def test_reversal_summary_by_hand() -> None:
    s = cur.reversal_summary(reversal_record(masked=False))
    assert s is not None and s.length == 4
    assert s.first_half == pytest.approx(0.9) and s.second_half == pytest.approx(0.95)
    assert s.chance == pytest.approx(1 / 16)
    assert cur.reversal_summary({"reversal": {"accuracy_per_position": [1.0], "length": 4}}) is None
    pats, labels = cur.reversal_probe(reversal_record(masked=False))
    assert pats.shape == (2, 2, 8, 8) and labels[3] == "SEP"


def test_lambada_and_samples(suite_root: Path) -> None:
    shipped = cur.scan(suite_root)
    res = cur.lambada_results(shipped, ["baseline", "reversal_masked"])
    assert res == {"baseline": {"accuracy": 0.02, "loss": 6.0, "n_scored": 100.0}}
    by_prompt = cur.samples_by_prompt(shipped, ["baseline", "lstm"])
    assert by_prompt == {"ROMEO:\n": {"baseline": " sample of baseline", "lstm": " sample of lstm"}}


# --------------------------------------------------------------------------- live, on tiny models


def test_saliency_is_all_at_distance_zero_without_attention_output(tiny, ids) -> None:
    """With every head's output zeroed, position t's loss depends on token t alone."""
    model = build_model(tiny["baseline"].config)
    model.load_state_dict(tiny["baseline"].model.state_dict())
    with torch.no_grad():
        for block in model.blocks:
            block.attn.W_O.zero_()
            block.attn.b_O.zero_()
    p = cur.input_saliency(model, ids, max_targets=8)
    assert p.share[0] == pytest.approx(1.0) and p.mean_distance == pytest.approx(0.0)
    full = cur.input_saliency(tiny["baseline"].model, ids, max_targets=8)
    assert full.share[1:].sum() > 0  # attention does spread the gradient backwards


def test_saliency_of_lstm_has_no_future(tiny, ids) -> None:
    p = cur.input_saliency(tiny["lstm"].model, ids, max_targets=8)
    assert p.n_targets == 8 and p.share[0] > 0 and np.isfinite(p.share).all()


def test_attention_shapes_are_the_live_ones(tiny, ids) -> None:
    rows = {r["tensor"]: r for r in cur.attention_shapes(tiny["baseline"].model, ids)}
    n, h, d, m = len(ids), TINY["n_heads"], TINY["d_head"], TINY["d_model"]
    assert rows["q"]["shape"] == str((1, n, h, d))
    assert rows["pattern"]["shape"] == str((1, h, n, n))
    assert rows["W_O"]["shape"] == str((h, d, m))


def test_shared_blocks_are_identical(tiny) -> None:
    np.testing.assert_allclose(
        cur.block_weight_similarity(tiny["shared_layers"].model), 1.0, atol=1e-6
    )
    sep = cur.block_weight_similarity(tiny["baseline"].model)
    assert abs(sep[0, 1]) < 0.5  # independent random inits


def test_depth_profile_last_lens_is_the_model_loss(tiny, ids) -> None:
    for name in ("baseline", "shared_layers"):
        model = tiny[name].model
        p = cur.depth_profile(model, ids)
        assert len(p.lens_loss) == TINY["n_layers"]
        assert p.lens_loss[-1] == pytest.approx(cur.mean_loss(model, ids), rel=1e-5)


def test_bypass_changes_the_loss(tiny, ids) -> None:
    r = cur.bypass_residual(tiny["baseline"].model, tiny["baseline"].tokenizer, ids)
    assert r.loss_on == pytest.approx(cur.mean_loss(tiny["baseline"].model, ids), rel=1e-5)
    assert r.loss_off != pytest.approx(r.loss_on)
    assert len(r.cosine_on) == TINY["n_layers"] + 1 and len(r.top_off) == 5


def test_order_check_and_timing(tiny, ids) -> None:
    c = cur.order_check(tiny["no_pos"].model, ids, n_shuffles=2)
    assert c.gap == pytest.approx(c.shuffled - c.ordered) and math.isfinite(c.shuffled)
    configs = {n: tiny[n].config for n in ("baseline", "lstm")}
    seconds = cur.time_training_steps(configs, (4, 8), repeats=1, batch=2)
    assert set(seconds) == {"baseline", "lstm"} and all(
        len(v) == 2 and min(v) > 0 for v in seconds.values()
    )


def test_live_samples_repeat_with_the_seed(tiny, ids) -> None:
    ckpt = tiny["lstm"]
    a = cur.sample_text(ckpt.model, ckpt.tokenizer, ids, 12, seed=3)
    assert a == cur.sample_text(ckpt.model, ckpt.tokenizer, ids, 12, seed=3)
    assert len(ckpt.tokenizer.encode(a)) == 12  # char-level: one character per token


def test_measure_rejects_unknown_kinds(tiny, ids) -> None:
    with pytest.raises(KeyError, match="unknown measurement"):
        cur.measure("nope", tiny["baseline"].model, tiny["baseline"].tokenizer, ids)


# --------------------------------------------------------------------------- figure builders


def test_figure_builders_draw_what_they_are_given() -> None:
    fig = figs.step_time_chart([16, 32], {"a": [0.001, 0.002], "b": [0.003, 0.004]})
    assert [t.name for t in fig.data] == ["a", "b"] and list(fig.data[0].y) == [1.0, 2.0]  # ms
    assert len(figs.saliency_chart({"a": [0.5, 0.3, 0.2]}, max_distance=1).data[0].y) == 2
    steps_series = {"m": ([100, 200], {"blocks.0": [1.0, 2.0], "blocks.1": [3.0, 4.0]})}
    assert len(figs.grad_norm_chart(steps_series).data) == 2
    assert figs.similarity_matrix(np.eye(2), ["L0", "L1"], title="t").data[0].zmid == 0.0
    assert len(figs.reversal_chart({"m": [0.1] * 8}, 4, 0.0625).data) == 1
    assert figs.layer_head_map(np.zeros((2, 3)), title="t", value_name="v").data[0].z.shape == (
        2,
        3,
    )
    assert list(figs.params_scatter({"a": (10.0, 3.0)}).data[0].x) == [10.0]
    fig = figs.layer_lines(
        {"a": [1.0, 2.0]}, ["embed", "after block 0", "after block 1"], title="t", y_title="y"
    )
    assert math.isnan(fig.data[0].y[-1])  # a shorter series is padded, not stretched
    spread = figs.dot_spread_chart([4, 16], {"u": [2.0, 4.0]}, {"u": [0.5, 0.9]}, 64)
    assert len(spread.data) == 2


@pytest.mark.parametrize(
    "build",
    [
        lambda: figs.step_time_chart([16, 32], {}),
        lambda: figs.step_time_chart([16, 32], {"a": [1.0]}),
        lambda: figs.grad_norm_chart({}),
        lambda: figs.similarity_matrix(np.eye(2), ["only one"], title="t"),
        lambda: figs.reversal_chart({"m": [0.1] * 7}, 4, 0.1),
        lambda: figs.layer_head_map(np.zeros(3), title="t", value_name="v"),
        lambda: figs.params_scatter({}),
    ],
)
def test_figure_builders_reject_bad_input(build) -> None:
    with pytest.raises(ValueError):
        build()


# --------------------------------------------------------------------------- explanations


def test_explanations_quote_the_records(suite_root: Path, tmp_path: Path) -> None:
    """Change the recorded results: the explanation's numbers change with them."""
    shipped = cur.scan(suite_root)
    names = ["baseline", "no_residual"]
    before = txt.residual_curves_text(cur.finals(shipped, names, "val_loss"), {})
    assert "baseline 3.000" in before and "no_residual 3.100" in before and "+0.100" in before
    shipped.records["no_residual"] = {**shipped.records["no_residual"], "final": {"val_loss": 4.25}}
    after = txt.residual_curves_text(cur.finals(shipped, names, "val_loss"), {})
    assert "no_residual 4.250" in after and "+1.250" in after
    points = {"baseline": (10_000.0, 3.0), "shared_layers": (4_000.0, 3.3)}
    assert "10,000 to 4,000 (60.0% fewer)" in txt.shared_params_text(points)
    assert "+0.300" in txt.shared_params_text(points)


def test_text_keeps_small_numbers_and_ties() -> None:
    assert "`no_residual` 2.1e-05" in txt.grad_text({"no_residual": 2.1e-5, "x": None})
    tie = txt.lambada_text({"a": {"accuracy": 0.0}, "b": {"accuracy": 0.0}})
    assert "Every variant recorded (2) scores 0.0%" in tie
    lead = txt.lambada_text({"baseline": {"accuracy": 0.01, "loss": 7.0}, "b": {"accuracy": 0.05}})
    assert "`b` 5.0%; baseline 1.0% (2 variants)" in lead and "`baseline` 7.000 nats" in lead


def test_unmasked_lm_text_quotes_its_numbers() -> None:
    future = cur.future_summary(np.array([[0.1, 0.2], [0.6, 0.3]]))
    assert future == cur.FutureAttention(0.3, 0.6, 1, 0)
    text = txt.unmasked_lm_text({"baseline": 5.0, "no_causal_mask": 0.5}, future)
    assert "0.500 nats against the baseline's 5.000 (-4.500)" in text
    assert "30.0% of its attention" in text and "60.0% in layer 1, head 0" in text
    assert cur.future_summary(None) is None


def test_missing_text_names_the_variant() -> None:
    assert txt.missing(["no_residual"]).startswith("`no_residual` has not been trained yet")
    assert "have not" in txt.missing(["a", "b", "c"]) and "`a`, `b` and `c`" in txt.missing(
        ["a", "b", "c"]
    )


# --------------------------------------------------------------------------- the page


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")  # an unexpected error fails the test, not a warning
    st.cache_data.clear()
    st.cache_resource.clear()


# what each tab must show on the fake suite: its header and a sentence built from the numbers
TABS = {
    "Q1 · time": ("1 ·", "of a prediction's input-gradient"),
    "Q2 · Q, K, V": ("2 ·", "unscaled std"),
    "Q3 · layers": ("3 ·", "cuts the parameters from 10,000 to 4,000"),
    "Q4 · skips": ("4 ·", "Bypassing the residual"),
    "Mask check": ("The mask check", "25.0% on average over heads, up to 40.0% (layer 0, head 1)"),
    "LAMBADA": ("LAMBADA", "last-word accuracy"),
    "Generations": ("Generations", ""),
}


def run_page(root: Path, monkeypatch: pytest.MonkeyPatch, tab: str | None = None) -> AppTest:
    monkeypatch.setenv(ENV_ROOT, str(root))
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    if tab is not None:
        at.session_state["cur_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["cur_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def page_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(i.value for i in at.info)


def test_page_renders_every_section(suite_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page(suite_root, monkeypatch)
    n_charts = 0
    for tab, (header, quoted) in TABS.items():
        open_tab(at, tab)
        assert [h.value for h in at.header][0].startswith(header), tab
        assert quoted in page_text(at), (tab, quoted)
        assert not at.warning, (tab, [w.value for w in at.warning])
        n_charts += len(at.get("plotly_chart"))
    assert n_charts >= 15


def test_page_buttons_measure_and_generate(
    suite_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_page(suite_root, monkeypatch)
    at.button(key="cur_time").click().run(timeout=TIMEOUT)
    assert not at.exception, at.exception
    assert "log-log slope" in page_text(at) and len(at.get("plotly_chart")) == 2

    open_tab(at, "Generations")
    at.button(key="cur_generate").click().run(timeout=TIMEOUT)
    assert not at.exception, at.exception
    prompt = at.text_area(key="cur_prompt").value
    live_texts = [t.value for t in at.text if t.value.startswith(prompt)]
    assert len(live_texts) == len(LIVE)  # every language-model checkpoint generated


def test_page_numbers_follow_the_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Change the recorded results on disk: the numbers the page's explanation quotes change."""
    root = write_suite(tmp_path / "suite")
    before = page_text(run_page(root, monkeypatch, tab="Q4 · skips"))
    assert "no_residual 3.100 (+0.100 nats)" in before
    record = json.loads((root / "no_residual" / "record.json").read_text())
    record["final"]["val_loss"] = 5.5
    (root / "no_residual" / "record.json").write_text(json.dumps(record))
    st.cache_data.clear()
    after = page_text(run_page(root, monkeypatch, tab="Q4 · skips"))
    assert "no_residual 5.500 (+2.500 nats)" in after and "3.100" not in after


def test_page_with_nothing_trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page(tmp_path, monkeypatch)
    assert "No trained variants" in page_text(at)
    for tab in TABS:
        open_tab(at, tab)
    assert "`baseline` and `no_residual` have not been trained yet" in page_text(
        open_tab(at, "Q4 · skips")
    )


def test_page_survives_odd_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    odd = {
        "curve": "oops",
        "final": [],
        "probe": {"residual_norm": "x", "future_attention": [[1], []]},
        "samples": [1, {"text": 2}],
        "lambada": 3,
        "reversal": {"length": "4"},
    }
    for name in ("baseline", "no_residual", "reversal_unmasked", "lstm"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "record.json").write_text(json.dumps(odd))
    (tmp_path / "no_pos").mkdir()
    (tmp_path / "no_pos" / "record.json").write_text("{not json")
    at = run_page(tmp_path, monkeypatch)
    assert "`no_pos`" in page_text(at)  # an unreadable record counts as not trained
    for tab in TABS:
        open_tab(at, tab)


def test_page_with_an_empty_prompt(suite_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page(suite_root, monkeypatch)
    at.text_area(key="cur_prompt").set_value("   ")
    for tab in TABS:
        open_tab(at, tab)
        assert not at.warning, (tab, [w.value for w in at.warning])
    assert "cannot analyse this prompt: The prompt is empty" in page_text(
        open_tab(at, "Q4 · skips")
    )
