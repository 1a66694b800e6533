"""The app's Streamlit-free parts: prompt checks, checkpoint listing and typed records (analysis/),
capture and generation, the view registry, figures and export bytes (views/), on tiny models."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from analysis.capture import capture, generate_with_attention
from analysis.catalog import (
    ENV_ROOT,
    checkpoint_root,
    default_metric,
    is_per_token,
    list_variants,
    read_record,
    record_curve,
    seed_std,
)
from analysis.prompts import MIN_CHARS_KEPT, examples_for, prepare_prompt
from fixtures.app_checkpoints import TEXT, make_checkpoints
from interp.attention_stats import attention_entropy
from model.checkpoint import load_checkpoint
from model.generate import GenerationSettings
from model.hooks import _ACTIVE_HOOKS
from model.switches import HeadAblation, Switches
from views import exports
from views.explore import (
    GRID_POSITIONS,
    Focus,
    clamp_focus,
    generation_figure,
    generation_window,
    grid_figure,
)
from views.registry import VIEWS, Chart, SideBySide, default_input, views_for
from viz.export import METADATA_KEY, read_npz_metadata
from viz.labels import position_labels

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


def test_records_are_read_through_the_suites_dataclass(root):
    read = read_record(root / "baseline")
    assert read.note is None and read.record.schema_version == 2
    assert read.record.final["val_loss"] == 3.0 and read.record.spread["val_loss"].n == 2
    assert record_curve(read.record)[0]["step"] == 0


@pytest.mark.parametrize(
    ("content", "note"),
    [
        (None, None),
        ("[1, 2]", "not a JSON object"),
        ("{bad", "cannot be read"),
        (json.dumps({"name": "old", "final": {"val_loss": 4.4}}), "schema 1"),
        (json.dumps({"schema_version": 3}), "schema 3"),
        (json.dumps({"schema_version": 2, "name": "half"}), "does not match schema 2"),
    ],
)
def test_records_of_other_schemas_become_a_note_never_an_exception(tmp_path, content, note):
    if content is not None:
        (tmp_path / "record.json").write_text(content)
    read = read_record(tmp_path)
    assert read.record is None
    assert read.note is None if note is None else note in read.note


def test_seed_spread_backs_the_seed_mean_metrics(root):
    rec = read_record(root / "baseline").record
    assert seed_std(rec, "val_loss (seed mean)") == pytest.approx(0.02 / 2**0.5)
    assert seed_std(rec, "val_loss") is None and seed_std(rec, "nope (seed mean)") is None


def test_compare_opens_on_val_loss_and_on_bits_per_char_across_tokenizers():
    metrics = ["lambada_loss", "n_params", "val_bpc", "val_loss"]
    assert default_metric(metrics, {"char"}) == "val_loss"
    assert default_metric(metrics, {"char", "bpe"}) == "val_bpc"
    assert default_metric(["second_half_accuracy", "steps"], {"char"}) == "second_half_accuracy"
    assert is_per_token("val_loss") and is_per_token("val_loss (seed mean)")
    assert not is_per_token("val_bpc") and not is_per_token("val_bpc (seed mean)")


def test_bits_per_char_compares_a_char_and_a_multi_char_tokenizer(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    text = ckpt.tokenizer.decode(list(ids))
    assert cap.n_chars == len(text) - 1  # char tokenizer: every token is one character
    expected = np.nansum(cap.losses) / np.log(2) / cap.n_chars
    assert cap.bits_per_char == pytest.approx(expected)


def test_each_model_brings_examples_it_can_encode(ckpt):
    from model.tokenizers import CharTokenizer

    assert "Shakespeare" in examples_for(ckpt.tokenizer, 64)
    reversal = examples_for(CharTokenizer(list("abcdefghijklmnop|")), 16)
    assert list(reversal) == ["Reversal", "Alphabet"]
    text = reversal["Reversal"]
    assert len(text) == 16 and text[8] == "|" and text[9:] == text[1:8][::-1]


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


def test_paused_generation_leaves_no_hooks_in_the_callers_context(ckpt, ids):
    """Hooks are installed around each step's forward pass only: none while the generator is
    paused, and closing it from another thread neither raises nor leaves any behind."""
    import threading

    settings = GenerationSettings(max_new_tokens=5, temperature=0.0)
    gen = generate_with_attention(ckpt.model, ids, settings, Switches())
    first = next(gen)
    assert first.rows is not None  # the hooks did run during the step
    assert _ACTIVE_HOOKS.get() is None  # ... and are gone while the generator waits
    errors: list[BaseException] = []

    def close() -> None:
        try:
            gen.close()
        except BaseException as e:  # noqa: BLE001 - the test reports whatever escaped
            errors.append(e)

    thread = threading.Thread(target=close)
    thread.start()
    thread.join()
    assert errors == [] and _ACTIVE_HOOKS.get() is None
    # the model still runs hook-free in this thread afterwards
    with torch.no_grad():
        ckpt.model(torch.tensor([ids]))
    assert _ACTIVE_HOOKS.get() is None


def test_generation_past_the_context_slides_the_window(ckpt):
    ids = tuple(ckpt.tokenizer.encode("abcdefghij" * 7)[-60:])
    steps = list(
        generate_with_attention(ckpt.model, ids, GenerationSettings(8, temperature=0.0), Switches())
    )
    assert all(s.rows.shape[-1] <= 64 for s in steps)
    labels = ["x"] * (len(ids) + 8)
    for s in steps:
        assert generation_figure(s, labels).data[0].z.shape[-1] == s.rows.shape[-1]


def test_generation_past_the_context_labels_keys_with_the_analysed_tokens(ckpt):
    """Generated past the context, the analysed window is the sequence's last n_ctx tokens: each
    step's keys carry that window's positions and tokens, and every step whose query lies in it
    is drawn."""
    from views.registry import VIEW_BY_NAME, Chart, Note, ViewInput

    n_ctx = ckpt.config.n_ctx
    ids = tuple(ckpt.tokenizer.encode(TEXT)[: n_ctx - 4])
    settings = GenerationSettings(max_new_tokens=12, temperature=0.0)
    steps = tuple(generate_with_attention(ckpt.model, ids, settings, Switches()))
    seq = list(ids) + [s.token for s in steps]
    cap = capture(ckpt.model, ckpt.tokenizer, tuple(seq[-n_ctx:]), Switches())
    labels = position_labels(cap.tokens)
    offset = len(seq) - n_ctx
    assert generation_window(steps, cap.tokens, list(cap.ids)) == offset
    view = VIEW_BY_NAME["Generate"]
    for i, step in enumerate(steps):
        (item,) = view.build(cap, ViewInput(generation=steps, step=i))
        if step.query_pos < offset:
            assert isinstance(item, Note) and "before the analysed window" in item.text
            continue
        assert isinstance(item, Chart)
        x = list(item.figure.data[0].x)
        query = step.query_pos - offset
        assert x[-1] == labels[query]  # the query's own token, at its window position
        assert x == labels[query + 1 - len(x) : query + 1]
    # another prompt since: the steps no longer belong to the analysed text
    other = capture(ckpt.model, ckpt.tokenizer, ids[:10], Switches())
    (item,) = view.build(other, ViewInput(generation=steps, step=0))
    assert isinstance(item, Note) and "generate again" in item.text


# --- figures and exports --------------------------------------------------------------------------


def test_grid_figure_draws_every_head_of_the_capture(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    n_layers, n_heads = cap.patterns.shape[:2]
    fig = grid_figure(cap, gamma=0.5)
    (mosaic,) = fig.data
    assert fig.layout.coloraxis.cmax == 1.0
    assert len(ids) <= GRID_POSITIONS  # short prompt: full resolution
    n = len(ids)
    z = np.asarray(mosaic.z)
    # the last panel sits in the bottom-right corner of the tiled image
    np.testing.assert_allclose(z[-n:, -n:], cap.patterns[-1, -1], rtol=1e-6)
    assert mosaic.y[-1].startswith(f"L{n_layers - 1} · q {n - 1} ")
    assert mosaic.x[-1].startswith(f"H{n_heads - 1} · k {n - 1} ")
    heads = [a.text for a in fig.layout.annotations][:n_heads]
    assert heads == [f"H{h}" for h in range(n_heads)]


def test_focus_is_clamped_to_the_capture():
    assert clamp_focus(Focus(9, 9, 99, -3), 2, 2, 10) == Focus(1, 1, 9, 0)


def test_every_registered_view_builds_and_stays_small(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches())
    keys, size = [], 0
    for view in VIEWS:
        for item in view.build(cap, default_input(cap)):
            for chart in item.charts if isinstance(item, SideBySide) else (item,):
                if isinstance(chart, Chart):
                    keys.append(chart.key)
                    size += len(chart.figure.to_json())
    assert len(keys) == len(set(keys))  # widget keys are unique on the page
    assert {"grid_fig", "head_fig", "pipeline_fig", "qkv_fig", "resid_fig"} <= set(keys)
    assert size < 3e6


def test_views_for_an_lstm_are_those_without_attention(root, ids):
    assert [v.key for v in views_for(True)] == [v.key for v in VIEWS]
    lstm = load_checkpoint(root / "lstm")
    cap = capture(lstm.model, lstm.tokenizer, ids, Switches())
    for view in views_for(False):
        assert not view.needs_attention
        view.build(cap, default_input(cap))


@pytest.mark.slow
def test_the_benchmark_times_every_view_of_the_registry(tmp_path):
    """`bench/bench_app.py`, run as its users run it, reports a row for every timed view in the
    registry's order (a folder without a checkpoint: random weights at the shipped size)."""
    import re
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "bench.bench_app", "--repeats", "1", "--warmup", "0"]
    run = subprocess.run(
        [*cmd, "--checkpoint", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode in (0, 1), run.stderr  # 1: a goal missed on a loaded machine
    rows = re.findall(r"^  (\w+) view ", run.stdout, flags=re.MULTILINE)
    assert rows == [v.key for v in VIEWS if v.timed], run.stdout
    assert [v.key for v in VIEWS if not v.timed] == ["generate"]  # needs a click first


CAPTURE_VIEWS = [v for v in VIEWS if v.budget_s is None]


@pytest.fixture(scope="module")
def export_case(ckpt, ids):
    cap = capture(ckpt.model, ckpt.tokenizer, ids, Switches(causal_mask=False))
    ctx = exports.ExportContext("baseline", ckpt.config, "the cat", Switches(causal_mask=False))
    return ctx, cap, Focus(1, 0, 3, 2)


def test_export_names_and_titles_say_what_was_switched_off(export_case, ckpt):
    ctx, cap, focus = export_case
    names = {f.file_name(ctx, focus) for view in VIEWS for f in view.exports}
    assert "baseline_no-mask_L1H0.png" in names and "baseline_no-mask_grid.svg" in names
    assert all(n.startswith("baseline_no-mask_") for n in names)
    assert exports.head_title(ctx, focus) == "baseline (−mask) · layer 1 head 0"
    plain = exports.ExportContext("baseline", ckpt.config, "the cat", Switches())
    assert plain.stem == "baseline" and exports.grid_title(plain) == "baseline · attention patterns"


@pytest.mark.slow
@pytest.mark.parametrize("view", CAPTURE_VIEWS, ids=[v.key for v in CAPTURE_VIEWS])
def test_every_view_exports_png_svg_html_csv_and_npz(view, export_case, ckpt, ids):
    """What the README promises: every figure as PNG, SVG, HTML, NPZ and CSV, each a valid file
    holding the view's numbers (Generate's once something was generated). The views that compute
    from the model are checked in tests/test_app_interp.py."""
    import csv as csv_module

    from views.registry import ViewInput

    ctx, cap, focus = export_case
    steps = tuple(
        generate_with_attention(ckpt.model, ids, GenerationSettings(3, temperature=0.0), Switches())
    )
    if view.key == "generate":  # the page analyses prompt + generated text afterwards
        seq = tuple(ids) + tuple(s.token for s in steps)
        cap = capture(ckpt.model, ckpt.tokenizer, seq, Switches(causal_mask=False))
    inp = ViewInput(focus=focus, generation=steps, step=1, lab=None)
    files = {f.suffix: f.data(ctx, cap, inp) for f in view.exports}
    assert set(files) == {"png", "svg", "html", "csv", "npz"}, view.key
    assert files["png"].startswith(PNG_SIGNATURE)
    assert ET.fromstring(files["svg"]).tag.endswith("svg")
    assert "<html>" in files["html"][:200] and len(files["html"]) > 2_000
    rows = list(csv_module.reader(io.StringIO(files["csv"])))
    assert len(rows) > 2 and not rows[0][0].startswith("#"), (view.key, rows[:2])
    with np.load(io.BytesIO(files["npz"]), allow_pickle=False) as npz:
        assert len(npz.files) > 1


def test_exported_images_carry_their_context(export_case):
    """An image pasted anywhere still says what made it: model and config, switches, prompt."""
    ctx, cap, focus = export_case
    for svg in (exports.head_svg(ctx, cap, focus), exports.grid_svg(ctx, cap)):
        text = svg.decode()
        assert "switched off: −mask" in text and "prompt: “the cat”" in text
        assert f"baseline (config {ctx.config.hash()})" in text


@pytest.mark.slow
def test_export_everything_zips_every_views_files_and_a_manifest(export_case, ckpt, ids):
    import zipfile
    from dataclasses import replace

    from views.archive import archive_bytes
    from views.interp_lab import InterpLab
    from views.registry import ViewInput, views_for

    ctx, cap, focus = export_case
    lab = InterpLab(ckpt.model, ckpt.tokenizer, tuple(ids), Switches(causal_mask=False))
    views = views_for(True)
    base = ViewInput(focus=focus)

    def input_for(view):
        return replace(base, lab=lab if view.budget_s is not None else None)

    with zipfile.ZipFile(io.BytesIO(archive_bytes(ctx, cap, views, input_for))) as zf:
        names = zf.namelist()
        manifest = zf.read("MANIFEST.txt").decode()
        assert ctx.caption() in manifest and "not exported" not in manifest
        for view in views:
            mine = [n for n in names if n.startswith(f"{view.key}/")]
            wanted = {f.suffix for f in view.exports} - {"html"}
            assert {n.rsplit(".", 1)[1] for n in mine} == wanted, view.key
        png = next(n for n in names if n.startswith("grid/") and n.endswith(".png"))
        assert zf.read(png).startswith(PNG_SIGNATURE)


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
    assert meta["switches"]["off"] == ["mask"] and meta["causal_mask_applied"] is False
    assert meta["token_strings"] == cap.tokens
    json.dumps(meta)


def test_csv_export_is_one_head(export_case):
    ctx, cap, focus = export_case
    rows = exports.head_csv(ctx, cap, focus).splitlines()
    assert len(rows) == len(cap.tokens) + 1
    assert rows[0].startswith("q_pos,query,")


def test_the_explore_page_loads_without_matplotlib():
    """Static exports load matplotlib (~0.8 s) only when a download is clicked, not on first load."""
    import subprocess
    import sys

    code = (
        "import sys, ui.controls, ui.sidebar, ui.state, views.registry, analysis.prompts;"
        "assert 'matplotlib' not in sys.modules, 'the Explore page imports matplotlib'"
    )
    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, timeout=120)
