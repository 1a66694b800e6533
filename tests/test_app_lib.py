"""The app's Streamlit-free helpers: prompt checks, checkpoint listing, capture, generation,
figures and export bytes, on tiny models."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from app_lib import exports
from app_lib.capture import capture, generate_with_attention
from app_lib.figures import (
    GRID_POSITIONS,
    Focus,
    all_explore_figures,
    clamp_focus,
    generation_figure,
    grid_figure,
)
from app_lib.models import (
    ENV_ROOT,
    checkpoint_root,
    list_variants,
    read_record,
    record_curve,
    scalar_metrics,
)
from app_lib.prompts import MIN_CHARS_KEPT, prepare_prompt
from model.checkpoint import load_checkpoint
from model.generate import GenerationSettings
from model.switches import HeadAblation, Switches
from tests.app_checkpoints import make_checkpoints
from viz.export import METADATA_KEY, read_npz_metadata
from viz.metrics import attention_entropy

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoints(tmp_path_factory.mktemp("ckpts"))


@pytest.fixture(scope="module")
def ckpt(root: Path):
    return load_checkpoint(root / "baseline")


@pytest.fixture(scope="module")
def ids(ckpt) -> tuple[int, ...]:
    return tuple(ckpt.tokenizer.encode("the cat sat on the mat. the cat sat"))


# --- prompts --------------------------------------------------------------------------------------


def test_prompt_empty_and_whitespace_are_errors(ckpt):
    for text in ("", "  \n\t"):
        p = prepare_prompt(text, ckpt.tokenizer, 64)
        assert not p.ok and p.messages[0].level == "error" and "empty" in p.messages[0].text


def test_prompt_unencodable_characters_are_named(ckpt):
    p = prepare_prompt("snow ☃ and ✓ and ☃", ckpt.tokenizer, 64)
    assert not p.ok
    assert "'☃'" in p.messages[-1].text and "'✓'" in p.messages[-1].text
    assert "U+2603" in p.messages[-1].text


def test_prompt_longer_than_context_keeps_the_last_tokens(ckpt):
    text = "abcdefghij" * 10
    p = prepare_prompt(text, ckpt.tokenizer, 64)
    assert p.ok and len(p.ids) == 64 and p.n_tokens_total == 100
    assert p.ids == tuple(ckpt.tokenizer.encode(text)[-64:])
    assert p.messages[0].level == "warning" and "last 64 tokens" in p.messages[0].text


def test_huge_paste_is_cut_before_tokenizing(ckpt):
    p = prepare_prompt("a" * 100_000, ckpt.tokenizer, 64)
    assert p.ok and len(p.ids) == 64
    assert "100,000 characters" in p.messages[0].text
    assert f"{MIN_CHARS_KEPT:,}" in p.messages[0].text


def test_single_token_prompt_is_usable_but_says_there_is_no_loss(ckpt):
    p = prepare_prompt("a", ckpt.tokenizer, 64)
    assert p.ok and p.messages[0].level == "info"


# --- models ---------------------------------------------------------------------------------------


def test_variants_baseline_first_and_env_root(root, monkeypatch):
    monkeypatch.setenv(ENV_ROOT, str(root))
    assert checkpoint_root() == root
    assert [v.name for v in list_variants()] == ["baseline", "lstm", "no_pos"]
    assert list_variants(root / "nope") == []


def test_records_tolerate_missing_and_odd_keys(tmp_path):
    assert read_record(tmp_path) is None
    (tmp_path / "record.json").write_text("[1, 2]")
    assert read_record(tmp_path) is None
    (tmp_path / "record.json").write_text("{bad")
    assert read_record(tmp_path) is None
    record = {
        "curve": [{"step": 0, "val_loss": 1.0}, "junk"],
        "lambada": {"accuracy": 0.2, "n": "x"},
        "ok": True,
        "f": 2,
    }
    assert record_curve(record) == [{"step": 0, "val_loss": 1.0}]
    assert record_curve({"curve": "no"}) == []
    assert scalar_metrics(record) == {"lambada.accuracy": 0.2, "f": 2.0}


# --- capture --------------------------------------------------------------------------------------


def test_capture_shapes_and_consistency_with_the_model(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    n, cfg = len(ids), ckpt.config
    assert cap.patterns.shape == (cfg.n_layers, cfg.n_heads, n, n)
    for name in ("raw_scores", "scaled_scores", "masked_scores"):
        assert getattr(cap, name).shape == cap.patterns.shape
    assert cap.q.shape == (cfg.n_layers, n, cfg.n_heads, cfg.d_head)
    assert cap.stream.shape == (cfg.n_layers + 1, n, cfg.d_model)
    assert cap.ln_mean.shape == (2 * cfg.n_layers + 1, n) and cap.ln_labels[-1] == "final"
    np.testing.assert_allclose(cap.patterns.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(cap.patterns, 1), 0.0)  # causal
    np.testing.assert_allclose(cap.entropy, attention_entropy(cap.patterns), atol=1e-4)
    # losses agree with a plain forward pass and cross-entropy
    with torch.no_grad():
        logits = ckpt.model(torch.tensor([ids]))[0]
    expected = F.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="none").numpy()
    assert np.isnan(cap.losses[0])
    np.testing.assert_allclose(cap.losses[1:], expected, rtol=1e-4, atol=1e-5)
    assert cap.top_ids.shape == (n, 5) and np.all(np.diff(cap.top_probs, axis=1) <= 0)
    assert cap.top_tokens[0] == ckpt.tokenizer.token_strings(cap.top_ids[0].tolist())


def test_switches_reach_the_capture(ckpt, ids):
    base = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    unmasked = capture(ckpt.model, ckpt.tokenizer, ids, Switches(causal_mask=False))
    assert not np.allclose(np.triu(unmasked.patterns, 1), 0.0)
    assert unmasked.mean_loss != base.mean_loss
    no_ln = capture(ckpt.model, ckpt.tokenizer, ids, Switches(layernorm=False))
    assert no_ln.ln_mean is None and no_ln.ln_labels == []
    knocked = capture(
        ckpt.model, ckpt.tokenizer, ids, Switches(head_ablations=(HeadAblation(0, 1, "zero"),))
    )
    assert knocked.mean_loss != base.mean_loss


def test_lstm_capture_has_no_attention_fields(root, ids):
    lstm = load_checkpoint(root / "lstm")
    cap = capture(lstm.model, lstm.tokenizer, ids, Switches())
    assert not cap.has_attention and cap.entropy is None
    assert cap.stream.shape == (lstm.config.n_layers + 1, len(ids), lstm.config.d_model)
    assert set(cap.arrays()) >= {"losses", "stream", "top_ids"}


def test_generation_records_each_step_through_the_kv_cache(ckpt, ids):
    settings = GenerationSettings(max_new_tokens=6, temperature=0.0)
    steps = list(generate_with_attention(ckpt.model, ids, settings, Switches()))
    assert len(steps) == 6
    for i, step in enumerate(steps):
        assert step.query_pos == len(ids) - 1 + i
        assert step.rows.shape == (2, 2, len(ids) + i)  # keys: everything up to the query
        np.testing.assert_allclose(step.rows.sum(-1), 1.0, atol=1e-5)
    # greedy decoding through the cache equals argmax of a full forward at each step
    seq = list(ids)
    with torch.no_grad():
        for step in steps:
            assert step.token == int(ckpt.model(torch.tensor([seq]))[0, -1].argmax())
            seq.append(step.token)
    # the first step's row is the last row of the prompt's own pattern
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    np.testing.assert_allclose(steps[0].rows, cap.patterns[:, :, -1, :], atol=1e-5)
    labels = ckpt.tokenizer.token_strings(seq)
    assert len(generation_figure(steps[-1], labels).data[0].x) == len(seq) - 1


def test_generation_past_the_context_slides_the_window(ckpt):
    ids = tuple(ckpt.tokenizer.encode("abcdefghij" * 7)[-60:])
    steps = list(
        generate_with_attention(ckpt.model, ids, GenerationSettings(8, temperature=0.0), Switches())
    )
    assert all(s.rows.shape[-1] <= 64 for s in steps)
    labels = ["x"] * (len(ids) + 8)
    for s in steps:
        assert generation_figure(s, labels).data[0].z.shape[-1] == s.rows.shape[-1]


# --- figures and exports --------------------------------------------------------------------------


def test_grid_figure_draws_every_head_of_the_capture(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    n_layers, n_heads = cap.patterns.shape[:2]
    fig = grid_figure(cap, gamma=0.5)
    assert len(fig.data) == n_layers * n_heads and fig.layout.coloraxis.cmax == 1.0
    last = fig.data[-1]
    assert last.name == f"L{n_layers - 1} H{n_heads - 1}"
    assert len(ids) <= GRID_POSITIONS  # short prompt: full resolution
    np.testing.assert_allclose(np.asarray(last.z), cap.patterns[-1, -1], rtol=1e-6)
    assert len(last.x) == len(ids) and fig.layout[f"yaxis{len(fig.data)}"].matches == "y"
    assert [a.text for a in fig.layout.annotations] == [f"H{h}" for h in range(n_heads)]


def test_focus_is_clamped_to_the_capture():
    assert clamp_focus(Focus(9, 9, 99, -3), 2, 2, 10) == Focus(1, 1, 9, 0)


def test_all_explore_figures_build_and_stay_small(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    figs = all_explore_figures(cap, Focus(1, 1, len(ids) - 1, 2))
    assert set(figs) == {
        "resid",
        "ln_mean",
        "ln_std",
        "grid",
        "head",
        "pipeline",
        "qkv",
        "entropy_map",
        "entropy_bars",
    }
    assert sum(len(f.to_json()) for f in figs.values()) < 3e6


@pytest.fixture(scope="module")
def export_case(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches(causal_mask=False))
    ctx = exports.ExportContext("baseline", ckpt.config, "the cat", Switches(causal_mask=False))
    return ctx, cap, Focus(1, 0, 3, 2)


def test_png_and_svg_exports(export_case):
    ctx, cap, focus = export_case
    assert exports.head_png(ctx, cap, focus).startswith(PNG_SIGNATURE)
    assert exports.grid_png(ctx, cap).startswith(PNG_SIGNATURE)
    for svg in (exports.head_svg(ctx, cap, focus), exports.grid_svg(ctx, cap)):
        assert ET.fromstring(svg).tag.endswith("svg")


def test_html_exports_are_self_contained(export_case):
    ctx, cap, focus = export_case
    for page in (exports.head_html(ctx, cap, focus), exports.grid_html(ctx, cap)):
        assert "<html>" in page[:100] and 'src="http' not in page  # plotly.js inlined
        assert len(page) > 1_000_000
        assert "baseline" in page


def test_npz_export_holds_every_tensor_and_metadata(export_case, ckpt):
    ctx, cap, _ = export_case
    data = exports.npz_bytes(ctx, cap)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        keys = set(npz.files)
        assert keys >= {
            "patterns",
            "raw_scores",
            "scaled_scores",
            "masked_scores",
            "q",
            "k",
            "v",
            "z",
        }
        assert keys >= {"stream", "ln_mean", "ln_std", "losses", "ids", "entropy", METADATA_KEY}
        assert npz["patterns"].shape == cap.patterns.shape
    meta = read_npz_metadata(data)
    assert meta["config_hash"] == ckpt.config.hash() and meta["model"] == "baseline"
    assert meta["switches"]["causal_mask"] is False and meta["prompt"] == "the cat"
    assert meta["token_strings"] == cap.tokens
    json.dumps(meta)


def test_csv_export_is_one_head(export_case):
    ctx, cap, focus = export_case
    rows = exports.head_csv(cap, focus).splitlines()
    assert len(rows) == len(cap.tokens) + 1
    assert rows[0].startswith("q_pos,query,")
