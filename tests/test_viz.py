"""Fast tests of viz/: every builder on small arrays, shape errors, exports, payload size, CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import types
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from analysis.metrics import layernorm_input_stats, residual_norms
from interp.attention_stats import attention_entropy, future_attention_fraction, uniform_entropy
from views.export_cli import main
from viz.attention import head_heatmap, pattern_difference, pattern_grid, score_pipeline
from viz.colors import run_colors, sample_colors
from viz.curves import metric_bars, position_loss_curves, training_curves
from viz.export import (
    METADATA_KEY,
    head_to_csv,
    read_npz_metadata,
    to_html,
    to_npz,
    to_png,
    to_svg,
)
from viz.figure import column_spans, figure, row_spans
from viz.mosaic import pattern_mosaic
from viz.pooling import pool_last2
from viz.qkv import qkv_inspector
from viz.static import grid_image, head_image
from viz.stats import entropy_bars, entropy_heatmap, layer_pos_heatmap, residual_row_labels
from viz.token_view import token_view_html
from viz.tokens import token_loss_html, topk_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[1]
# Repeated tokens, whitespace, HTML and mathtext characters: everything labels must survive.
TOKENS = ["<b>", " a", "a", "\n", "$x", "&", "a$"]


def causal_patterns(shape: tuple[int, ...], n: int, seed: int = 0, sharpness: float = 3.0):
    """Random causal softmax patterns [*shape, n, n] and the masked scores they came from."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(*shape, n, n)) * sharpness
    scores = np.where(np.tril(np.ones((n, n), dtype=bool)), scores, -np.inf)
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True), scores


@pytest.fixture
def grid() -> np.ndarray:
    return causal_patterns((2, 3), len(TOKENS))[0]


# --- attention ----------------------------------------------------------------------------------


def test_pattern_grid_one_trace_per_head_on_one_shared_colour_axis(grid):
    fig = pattern_grid(grid, TOKENS)
    assert len(fig.data) == 2 * 3
    assert {trace.coloraxis for trace in fig.data} == {"coloraxis"}
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    first = fig.data[0]
    assert np.asarray(first.z).shape == (7, 7)
    np.testing.assert_allclose(np.asarray(fig.data[4].z), grid[1, 1], rtol=1e-6)
    # Hover text comes from the axis categories: position-prefixed, escaped, unique.
    assert "%{x}" in first.hovertemplate and "%{y}" in first.hovertemplate
    assert list(first.x) == ["0 &lt;b&gt;", "1 ␣a", "2 a", "3 ↵", "4 $x", "5 &amp;", "6 a$"]
    assert len(set(first.x)) == len(TOKENS)
    assert [a.text for a in fig.layout.annotations] == ["H0", "H1", "H2"]
    # Every panel zooms with the first; layers top to bottom, heads left to right.
    assert [fig.layout[f"xaxis{i}"].matches for i in range(2, 7)] == ["x"] * 5
    assert [fig.layout[f"yaxis{i}"].matches for i in range(2, 7)] == ["y"] * 5
    assert fig.data[4].xaxis == "x5" and fig.layout.xaxis5.domain == fig.layout.xaxis2.domain
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis4.domain[1]  # layer 0 above layer 1
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis4.title.text) == (
        "L0 · query ↓",
        "L1 · query ↓",
    )
    assert fig.layout.xaxis4.title.text == "key →" and fig.layout.xaxis.title.text is None
    assert fig.layout.yaxis5.autorange == "reversed"
    # gamma < 1 bends the colour scale (more stops), never the values shown on hover.
    bent = pattern_grid(grid, TOKENS, gamma=0.5)
    assert len(bent.layout.coloraxis.colorscale) > 2
    np.testing.assert_allclose(np.asarray(bent.data[0].z), np.asarray(first.z))


def test_pattern_grid_pools_long_prompts_keeping_sharp_peaks():
    n = 20
    one_hot = np.zeros((1, 1, n, n))
    one_hot[0, 0, np.arange(1, n), np.arange(n - 1)] = 1.0  # a previous-token head
    fig = pattern_grid(one_hot, [f"t{i}" for i in range(n)], max_positions=8)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (7, 7)  # blocks of 3 positions: ceil(20 / 3)
    assert z.max() == 1.0  # a mean would have dimmed the line
    assert fig.data[0].x[0].startswith("0–2 ")
    assert "max weight" in fig.data[0].hovertemplate
    assert "block" in fig.layout.title.subtitle.text


def test_pattern_mosaic_tiles_every_head_into_one_labelled_heatmap(grid):
    fig = pattern_mosaic(grid, TOKENS, marked=[(1, 2)])
    (trace,) = fig.data
    z = np.asarray(trace.z)
    n, gap = len(TOKENS), 1
    assert z.shape == (2 * n + gap, 3 * n + 2 * gap)
    # layer 1 head 2 in the bottom-right corner; the gaps are blank and never hovered
    np.testing.assert_allclose(z[n + gap :, 2 * (n + gap) :], grid[1, 2], rtol=1e-6)
    assert np.isnan(z[n]).all() and np.isnan(z[:, n]).all() and trace.hoverongaps is False
    # the axes name layer/head and position/token, escaped: the hover box needs nothing else
    assert trace.x[0] == "H0 · k 0 &lt;b&gt;" and trace.y[-1] == "L1 · q 6 a$"
    assert len(set(trace.x)) == len(trace.x) and "%{x}" in trace.hovertemplate
    # token labels under every panel; panel names above and beside
    assert list(fig.layout.xaxis.ticktext[:2]) == ["0 &lt;b&gt;", "1 ␣a"]
    assert len(fig.layout.xaxis.tickvals) == 3 * n
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["H0", "H1", "H2", "L0", "L1", "knocked out"]
    window = pattern_mosaic(grid[1:], TOKENS, first_layer=1, marked=[(1, 0)])
    assert [a.text for a in window.layout.annotations][3:] == ["L1", "knocked out"]


def test_a_one_strip_colour_bar_is_labelled_at_both_ends_and_zero():
    rng = np.random.default_rng(0)
    fig = qkv_inspector(*rng.normal(size=(2, 8)), 0.3, rng.normal(size=(5, 8)), rng.normal(size=8))
    bar = fig.layout.coloraxis2.colorbar  # the q⊙k row: one strip high
    span = fig.layout.coloraxis2.cmax
    assert list(bar.tickvals) == [-span, 0.0, span] and list(bar.ticktext)[1] == "0"


def test_token_view_inlines_each_heads_weights_and_escapes_tokens(grid):
    import re

    page = token_view_html(grid[1], TOKENS, layer=1, heads=(2,))
    assert "&lt;b&gt;" in page and "<b>" not in page.split("<script>")[0]
    script = page.split("<script>")[1].split("</script>")[0]
    # the page's sanitiser drops a script whose text looks like markup
    assert not re.search(r"<[/\w]", script)
    weights = json.loads(re.search(r"const W = (\[.*?\]\]\]),", script).group(1))
    np.testing.assert_allclose(np.array(weights) / 255, grid[1], atol=0.5 / 255)
    assert "new Set([2])" in script and page.count('class="tv-q"') == len(TOKENS)


def test_pool_absmax_keeps_sign_and_mean_and_partial_blocks():
    x = np.array([[0.1, -0.9, 0.2], [0.3, 0.0, 0.5], [0.0, 0.0, -0.4]])
    np.testing.assert_allclose(pool_last2(x, 2, "absmax"), [[-0.9, 0.5], [0.0, -0.4]])
    np.testing.assert_allclose(pool_last2(x, 2, "mean"), [[-0.125, 0.35], [0.0, -0.4]])


@pytest.mark.parametrize(
    "patterns, tokens, match",
    [
        (np.zeros((2, 7, 7)), TOKENS, r"\[layer, head, q_pos, k_pos\]"),
        (np.zeros((1, 1, 7, 7)), TOKENS[:5], "tokens"),
        (np.zeros((1, 1, 6, 7)), TOKENS, "q_pos"),
        (np.zeros((1, 1, 0, 0)), [], "empty"),
        (np.zeros((1, 1, 7, 7)), "abcdefg", "list of token strings"),
    ],
)
def test_pattern_grid_rejects_bad_shapes(patterns, tokens, match):
    with pytest.raises(ValueError, match=match):
        pattern_grid(patterns, tokens)


def test_head_heatmap_blanks_masked_scores_and_labels_both_axes(grid):
    _, scores = causal_patterns((), len(TOKENS))
    fig = head_heatmap(scores, TOKENS, zmin=None, zmax=None, zmid=0.0, value_name="score")
    z = np.asarray(fig.data[0].z)
    assert np.isnan(z[0, 1]) and np.isfinite(z[1, 0])
    assert len(fig.data[0].x) == len(fig.data[0].y) == len(TOKENS)
    assert fig.layout.yaxis.autorange == "reversed"
    with pytest.raises(ValueError, match="pattern"):
        head_heatmap(grid, TOKENS)


def test_score_pipeline_four_panels_two_scales_and_a_mask_note():
    n = len(TOKENS)
    pattern, masked = causal_patterns((), n)
    raw = np.where(np.isfinite(masked), masked, 1.0) * 4.0
    fig = score_pipeline(raw, raw / 4.0, masked, pattern, TOKENS)
    assert len(fig.data) == 4
    assert [t.coloraxis for t in fig.data] == ["coloraxis"] * 3 + ["coloraxis2"]
    assert int(np.isnan(np.asarray(fig.data[2].z)).sum()) == n * (n - 1) // 2
    assert f"{n * (n - 1) // 2} of {n * n} cells" in fig.layout.title.text  # no title: note only
    assert fig.layout.coloraxis.cmax == pytest.approx(np.abs(raw).max(), rel=1e-6)
    np.testing.assert_allclose(np.asarray(fig.data[3].z), pattern, rtol=1e-6)
    assert [a.text for a in fig.layout.annotations] == [
        "raw q·k",
        "scaled",
        "masked",
        "softmax → pattern",
    ]
    assert [fig.layout[f"yaxis{i}"].matches for i in (2, 3, 4)] == ["y"] * 3
    assert fig.layout.yaxis.title.text == "query" and fig.layout.xaxis4.title.text == "key"
    with pytest.raises(ValueError, match="masked"):
        score_pipeline(raw, raw, masked[:-1], pattern, TOKENS)


def test_score_pipeline_says_when_nothing_is_masked():
    pattern = np.full((3, 3), 1 / 3)
    fig = score_pipeline(pattern, pattern, pattern, pattern, ["a", "b", "c"], title="t")
    assert "no cell masked" in fig.layout.title.subtitle.text


def test_pattern_difference_side_by_side_and_signed_difference():
    a, _ = causal_patterns((), 5, seed=1)
    b, _ = causal_patterns((), 5, seed=2)
    fig = pattern_difference(a, b, list("abcde"), labels=("on", "off"))
    assert len(fig.data) == 3
    assert [t.coloraxis for t in fig.data] == ["coloraxis", "coloraxis", "coloraxis2"]
    np.testing.assert_allclose(np.asarray(fig.data[2].z), a - b, atol=1e-6)
    assert fig.layout.coloraxis2.cmin == -fig.layout.coloraxis2.cmax
    with pytest.raises(ValueError, match="same prompt"):
        pattern_difference(a, b[:4, :4], list("abcde"))


# --- figures built from plain dicts (viz.figure) -------------------------------------------------


def small_figures() -> dict[str, go.Figure]:
    """Every interactive builder, on small inputs, with and without its optional parts."""
    rng = np.random.default_rng(5)
    n = len(TOKENS)
    patterns, scores = causal_patterns((2, 3), n)
    raw = np.where(np.isfinite(scores[0, 0]), scores[0, 0], 0.5) * 4.0
    qkv_args = (*rng.normal(size=(2, 8)), 0.3, rng.normal(size=(n, 8)), rng.normal(size=8))
    return {
        "pattern_grid": pattern_grid(patterns, TOKENS, gamma=0.5),
        "pattern_grid_pooled": pattern_grid(patterns, TOKENS, max_positions=3),
        "pattern_mosaic": pattern_mosaic(patterns, TOKENS, gamma=0.5, marked=[(1, 2)]),
        "pattern_mosaic_pooled": pattern_mosaic(patterns, TOKENS, max_positions=3),
        "pattern_mosaic_signed": pattern_mosaic(
            patterns - patterns[:, ::-1], TOKENS, signed=True, value_name="A − B"
        ),
        "head_heatmap": head_heatmap(patterns[0, 0], TOKENS, title="L0 H0"),
        "head_heatmap_scores": head_heatmap(
            scores[0, 0], TOKENS, zmin=None, zmax=None, zmid=0.0, max_positions=3
        ),
        "score_pipeline": score_pipeline(raw, raw / 4, scores[0, 0], patterns[0, 0], TOKENS),
        "score_pipeline_pooled": score_pipeline(
            raw, raw, raw, patterns[0, 0], TOKENS, title="t", max_positions=3
        ),
        "pattern_difference": pattern_difference(patterns[0, 0], patterns[1, 2], TOKENS),
        "qkv_inspector": qkv_inspector(
            *qkv_args, tokens=TOKENS, q_pos=n - 1, k_pos=2, weights=patterns[0, 0, -1], score=1.0
        ),
        "qkv_inspector_bare": qkv_inspector(*qkv_args),
        "layer_pos_heatmap": layer_pos_heatmap(rng.random((3, n)), TOKENS, row_labels=list("abc")),
        "layer_pos_heatmap_signed": layer_pos_heatmap(rng.normal(size=(3, n)), TOKENS, zmid=0.0),
        "entropy_heatmap": entropy_heatmap(rng.random((2, 3)), max_bits=2.0),
        "entropy_bars": entropy_bars(rng.random((2, 3)), uniform_bits=1.5),
        "entropy_bars_bare": entropy_bars(rng.random((2, 3))),
    }


def shipped_and_validated(fig: go.Figure) -> tuple[dict, dict]:
    """The figure as the browser gets it, and the same after a pass through plotly's validator."""
    spec = fig.to_dict()
    validated = go.Figure(spec).to_dict()  # raises on an unknown property or a bad value
    as_json = [json.loads(pio.to_json(d, validate=False)) for d in (spec, validated)]
    return as_json[0], as_json[1]


@pytest.mark.parametrize("name", list(small_figures()))
def test_builders_write_what_plotly_validation_would_keep(name):
    # Builders skip plotly's validation for speed (viz.figure); this is where it still runs: an
    # unknown property raises, and a non-canonical value (a bare-string title, a colour-scale
    # name) would come back rewritten.
    shipped, validated = shipped_and_validated(small_figures()[name])
    assert shipped == validated


def test_the_validation_check_catches_what_plotly_would_rewrite():
    trace = {"type": "heatmap", "z": [[1.0]]}
    shipped, validated = shipped_and_validated(figure([trace], {"title": "bare"}))
    assert shipped != validated  # plotly.js 3+ ignores a bare-string title
    with pytest.raises(ValueError, match="colorbaar"):
        shipped_and_validated(figure([{**trace, "colorbaar": {}}], {}))


def test_figures_validate_edits_made_after_building():
    fig = figure([{"type": "heatmap", "z": [[1.0]]}], {"title": {"text": "t"}})
    fig.update_layout(title="retitled")  # as the export buttons do
    assert fig.to_dict()["layout"]["title"] == {"text": "retitled"}
    fig.update_xaxes(title="key")
    assert fig.to_dict()["layout"]["xaxis"]["title"] == {"text": "key"}
    with pytest.raises(ValueError):
        fig.update_layout(titel="typo")
    with pytest.raises(ValueError):
        fig.update_traces(zmiddle=0.0)


def test_panel_spans_follow_make_subplots_arithmetic():
    np.testing.assert_allclose(column_spans([1, 1], 0.1), [[0.0, 0.45], [0.55, 1.0]])
    np.testing.assert_allclose(column_spans([3, 1], 0.0), [[0.0, 0.75], [0.75, 1.0]])
    # rows are listed top first: the first (small) row sits at the top of the figure
    np.testing.assert_allclose(row_spans([1, 3], 0.0), [[0.75, 1.0], [0.0, 0.75]])


def test_max_pooling_ignores_nan_keeps_dtype_and_reduces_partial_blocks():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 3, 11, 11))
    x[x > 1.0] = np.nan
    x[0, 0, :3, :3] = np.nan  # an all-NaN block stays NaN
    factor = 3
    padded = np.pad(x, [(0, 0), (0, 0), (0, 1), (0, 1)], constant_values=np.nan)
    blocks = padded.reshape(2, 3, 4, factor, 4, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmax(blocks, axis=(3, 5))
    np.testing.assert_array_equal(pool_last2(x, factor), expected)
    assert np.isnan(pool_last2(x, factor)[0, 0, 0, 0])
    assert pool_last2(x.astype(np.float32), factor).dtype == np.float32


def test_sample_colors_matches_plotly_sample_colorscale():
    fractions = np.random.default_rng(7).random(500)
    for name in ("Reds", "Viridis", "RdBu_r"):
        ours = sample_colors(name, fractions)
        theirs = pc.sample_colorscale(name, list(fractions))
        for a, b in zip(ours, theirs, strict=True):  # equal but for the rounding of exact halves
            np.testing.assert_allclose(pc.unlabel_rgb(a), pc.unlabel_rgb(b), atol=1)


# --- qkv ----------------------------------------------------------------------------------------


def test_qkv_inspector_panels_dot_product_and_outlined_key():
    rng = np.random.default_rng(3)
    q, k, z = rng.normal(size=(3, 8))
    v = rng.normal(size=(4, 8))
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    fig = qkv_inspector(
        q, k, 0.3, v, z, tokens=list("abcd"), q_pos=3, k_pos=2, weights=weights, score=1.5
    )
    names = [t.name for t in fig.data]
    assert names == ["q", "k", "q⊙k", "V", "weights", "z"]
    np.testing.assert_allclose(np.asarray(fig.data[2].z)[0], q * k, rtol=1e-6)
    titles = " ".join(a.text for a in fig.layout.annotations)
    assert f"q·k = {float(q @ k):.3f}" in titles and "score 1.500" in titles
    assert "weight 0.300" in titles
    assert fig.layout.shapes[0].y0 == 1.5  # the outline around key 2's row of V
    assert fig.data[3].coloraxis == fig.data[5].coloraxis  # V and z share a scale
    # One d_head column all the way down; the weight bars share V's rows.
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x3", "x4", "x5", "x6"]
    assert [fig.layout[f"xaxis{i}"].matches for i in ("", 2, 3, 4)] == ["x6"] * 4
    assert fig.layout.yaxis5.matches == "y4" and fig.layout.xaxis5.range == (0, 1)
    assert fig.layout.yaxis4.autorange == fig.layout.yaxis5.autorange == "reversed"
    tops = [fig.layout[f"yaxis{i}"].domain[1] for i in ("", 2, 3, 4, 6)]
    assert tops == sorted(tops, reverse=True)  # q, k, q⊙k, V, z from the top
    v_rows = fig.layout.yaxis4.domain
    assert fig.layout.coloraxis3.colorbar.y == pytest.approx(
        (fig.layout.yaxis6.domain[0] + v_rows[1]) / 2
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(k=np.zeros(7)), "d_head"),
        (dict(v=np.zeros((4, 7))), "d_head"),
        (dict(weights=np.zeros(5)), "k_pos"),
        (dict(k_pos=4), "k_pos=4"),
        (dict(tokens=list("abc")), "tokens"),
        (dict(weight=float("nan")), "weight"),
    ],
)
def test_qkv_inspector_rejects_bad_inputs(kwargs, match):
    args = dict(q=np.zeros(8), k=np.zeros(8), weight=0.5, v=np.zeros((4, 8)), z=np.zeros(8))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        qkv_inspector(**args)


# --- stats --------------------------------------------------------------------------------------


def test_layer_pos_heatmap_residual_norms_with_row_labels():
    rng = np.random.default_rng(4)
    resid = rng.normal(size=(3, len(TOKENS), 16))  # embed + 2 blocks
    norms = residual_norms(resid)
    fig = layer_pos_heatmap(norms, TOKENS, row_labels=residual_row_labels(2), value_name="‖x‖")
    assert list(fig.data[0].y) == ["embed", "after block 0", "after block 1"]
    np.testing.assert_allclose(np.asarray(fig.data[0].z), np.linalg.norm(resid, axis=-1), rtol=1e-6)
    with pytest.raises(ValueError, match="row_labels"):
        layer_pos_heatmap(norms, TOKENS, row_labels=["embed"])
    mean, std = layernorm_input_stats(resid)
    signed = layer_pos_heatmap(mean, TOKENS, zmid=0.0)
    assert signed.data[0].zmid == 0.0
    np.testing.assert_allclose(std, resid.std(axis=-1))


def test_entropy_figures():
    entropy = attention_entropy(causal_patterns((2, 3), 6)[0])
    assert entropy.shape == (2, 3)
    heat = entropy_heatmap(entropy, max_bits=uniform_entropy(6))
    assert np.asarray(heat.data[0].z).shape == (2, 3) and heat.data[0].texttemplate
    bars = entropy_bars(entropy, uniform_bits=uniform_entropy(6))
    assert len(bars.data) == 3 and len(bars.layout.shapes) == 1
    line = bars.layout.shapes[0]
    assert line.y0 == line.y1 == pytest.approx(uniform_entropy(6)) and line.xref == "x domain"
    assert bars.layout.annotations[0].text.startswith("uniform")
    with pytest.raises(ValueError, match=r"\[layer, head\]"):
        entropy_bars(entropy[0])


# --- metrics ------------------------------------------------------------------------------------


def test_entropy_of_uniform_is_log2_n_and_of_one_hot_is_zero():
    n = 8
    assert attention_entropy(np.full((n, n), 1 / n)) == pytest.approx(np.log2(n))
    assert attention_entropy(np.eye(n)) == pytest.approx(0.0)
    causal_uniform = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    assert attention_entropy(causal_uniform) == pytest.approx(uniform_entropy(n))
    assert uniform_entropy(n, causal=False) == pytest.approx(3.0)
    stacked = attention_entropy(np.stack([np.eye(n), np.full((n, n), 1 / n)]))
    np.testing.assert_allclose(stacked, [0.0, 3.0])


def test_future_attention_fraction():
    causal, _ = causal_patterns((2,), 6)
    np.testing.assert_allclose(future_attention_fraction(causal), [0.0, 0.0])
    n = 4
    assert future_attention_fraction(np.full((n, n), 1 / n)) == pytest.approx(6 / 16)
    # Queries are the last q_pos positions: query 0 is position 2 of 4, so key 3 is its future.
    two_queries = np.array([[0, 0, 0.5, 0.5], [0, 0, 0, 1.0]])
    assert future_attention_fraction(two_queries) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="q_pos"):
        future_attention_fraction(np.ones((3, 2)))


# --- tokens -------------------------------------------------------------------------------------


def test_token_loss_html_escapes_and_colours_by_loss():
    tokens = ["<script>", " x", "\n", 'say "hi"']
    losses = np.array([np.nan, 0.5, 2.0, 4.0])
    out = token_loss_html(tokens, losses, tooltips=["", "top: y", "", ""])
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "&quot;hi&quot;" in out
    assert "↵<br>" in out  # a newline token breaks the line, as in the text
    assert out.count("<span") == 4
    assert "dashed" in out.split("<span")[1]  # first token: no prediction
    assert "loss 4.000 nats" in out and "top: y" in out
    assert "color:white" in out.split("<span")[4]  # darkest background gets white text
    with pytest.raises(ValueError, match="losses"):
        token_loss_html(tokens, losses[:3])


def test_topk_table_rows_align_predictions_with_next_token():
    tokens = ["a", "b", "c"]
    top_tokens = [["b", "c"], ["a", "b"], ["c", "a"]]
    probs = np.array([[0.6, 0.4], [0.7, 0.3], [0.5, 0.5]])
    rows = topk_table(tokens, top_tokens, probs, np.array([np.nan, np.log(2), 1.0]))
    assert [r["rank"] for r in rows] == ["1", "> 2", ""]
    assert rows[0]["actual next"] == "b" and rows[0]["p(actual)"] == pytest.approx(0.5)
    assert rows[0]["#1"] == "b 0.600"
    assert rows[2]["actual next"] == "" and np.isnan(rows[2]["loss"])
    with pytest.raises(ValueError, match="top_tokens"):
        topk_table(tokens, top_tokens[:2], probs)


# --- curves -------------------------------------------------------------------------------------


def test_training_curves_one_line_per_run_and_metric_skipping_missing_points():
    records = {
        "baseline": [
            {"step": 0, "train_loss": 4.0, "val_loss": 4.1},
            {"step": 10, "train_loss": 3.0},
        ],
        "no-mask": [
            {"step": 0, "train_loss": 4.0},
            {"step": 10, "train_loss": 1.0, "val_loss": 2.0},
        ],
    }
    fig = training_curves(records)
    assert [t.name for t in fig.data] == [
        "baseline · train_loss",
        "baseline · val_loss",
        "no-mask · train_loss",
        "no-mask · val_loss",
    ]
    assert list(fig.data[1].x) == [0.0]  # the step without val_loss is skipped
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    with pytest.raises(ValueError, match="no record"):
        training_curves(records, y="accuracy")


def test_position_loss_curves_and_metric_bars():
    fig = position_loss_curves(
        {"a": np.linspace(4, 1, 5), "b": np.linspace(4, 2, 5)}, tokens=list("abcde"), highlight=4
    )
    assert len(fig.data) == 2 and len(fig.layout.shapes) == 1
    bars = metric_bars({"base": 1.5, "no-pe": 2.5}, reference="base", errors={"base": 0.1})
    assert list(bars.data[0].y) == [1.5, 2.5] and len(bars.layout.shapes) == 1
    with pytest.raises(ValueError, match="non-finite"):
        metric_bars({"x": float("nan")})


# --- static and exports -------------------------------------------------------------------------


def test_static_images_are_png_and_parseable_svg(grid):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a missing glyph for ␣ or ↵, or mathtext from '$'
        png = head_image(grid[0, 0], TOKENS, title="L0 H0 $")
        svg = grid_image(grid, TOKENS, title="grid", fmt="svg")
    assert png.startswith(PNG_SIGNATURE)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    with pytest.raises(ValueError, match="fmt"):
        head_image(grid[0, 0], TOKENS, fmt="jpg")  # type: ignore[arg-type]


def test_static_grid_export_is_fast_enough():
    # The budget is < 1 s per figure on a quiet machine (see the report); the bound here is loose
    # so a busy CI box does not fail it, yet catches an order-of-magnitude slowdown.
    patterns = causal_patterns((4, 4), 128)[0]
    tokens = [chr(97 + i % 26) for i in range(128)]
    start = time.process_time()
    assert grid_image(patterns, tokens).startswith(PNG_SIGNATURE)
    assert time.process_time() - start < 4.0


def test_to_png_and_to_svg_dispatch_on_rank(grid):
    assert to_png(grid, TOKENS).startswith(PNG_SIGNATURE)
    ET.fromstring(to_svg(grid[1, 2], TOKENS))
    with pytest.raises(ValueError, match="one head"):
        to_png(grid[0], TOKENS)


def test_to_html_is_self_contained(grid):
    page = to_html(pattern_grid(grid, TOKENS, title="exported grid"))
    assert page.lower().startswith("<!doctype html>") and "</html>" in page
    assert "plotly.js v" in page  # the library's banner: inlined, not fetched from a CDN
    assert '<script src="https://cdn' not in page
    assert "exported grid" in page and "&lt;b&gt;" in page


def test_to_npz_round_trips_without_pickle():
    arrays = {
        "blocks.0.attn.hook_pattern": np.random.rand(1, 2, 5, 5).astype(np.float32),
        "tokens": np.arange(5),
    }
    metadata = {"model": "tiny", "config_hash": "abc", "prompt": "héllo", "switches": {"x": 1}}
    data = to_npz(arrays, metadata)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert set(npz.files) == {*arrays, METADATA_KEY}
        for name, arr in arrays.items():
            np.testing.assert_array_equal(npz[name], arr)
            assert npz[name].dtype == arr.dtype
        assert json.loads(str(npz[METADATA_KEY])) == metadata
    assert read_npz_metadata(data) == metadata
    with pytest.raises(ValueError, match="object"):
        to_npz({"bad": np.array([{}], dtype=object)}, {})
    with pytest.raises(ValueError, match="JSON"):
        to_npz({}, {"bad": object()})


def test_head_to_csv_header_of_positioned_tokens_and_one_row_per_query():
    tokens = ["a,b", '"q"', "\n", "x"]
    pattern = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    rows = list(csv.reader(io.StringIO(head_to_csv(pattern, tokens))))
    assert rows[0] == ["q_pos", "query", "0 a,b", '1 "q"', "2 \n", "3 x"]
    assert len(rows) == 1 + 4
    assert rows[2][:2] == ["1", '"q"']
    np.testing.assert_allclose(np.array(rows[4][2:], dtype=float), pattern[3], rtol=1e-5)


# --- payload budget -----------------------------------------------------------------------------


def explore_page_figures(n_layers: int = 4, n_heads: int = 4, n: int = 256, d_head: int = 32):
    """The Explore page's figures for one prompt, as the app would build them."""
    rng = np.random.default_rng(0)
    patterns, scores = causal_patterns((n_layers, n_heads), n)
    tokens = [chr(97 + i % 26) for i in range(n)]
    raw = np.where(np.isfinite(scores[0, 0]), scores[0, 0], 0.3) * np.sqrt(d_head)
    return {
        "pattern_grid": pattern_grid(patterns, tokens),
        "head_heatmap": head_heatmap(patterns[0, 0], tokens),
        "score_pipeline": score_pipeline(
            raw, raw / np.sqrt(d_head), scores[0, 0], patterns[0, 0], tokens
        ),
        "qkv_inspector": qkv_inspector(
            *rng.normal(size=(2, d_head)),
            0.1,
            rng.normal(size=(n, d_head)),
            rng.normal(size=d_head),
            tokens=tokens,
            q_pos=n - 1,
            k_pos=3,
            weights=patterns[0, 0, -1],
        ),
        "residual_norms": layer_pos_heatmap(
            rng.random((n_layers + 1, n)), tokens, row_labels=residual_row_labels(n_layers)
        ),
        "layernorm_mean": layer_pos_heatmap(rng.normal(size=(2 * n_layers + 1, n)), tokens),
        "layernorm_std": layer_pos_heatmap(rng.random((2 * n_layers + 1, n)), tokens),
        "entropy": entropy_heatmap(attention_entropy(patterns)),
    }


def test_payload_of_the_explore_page_at_256_tokens():
    sizes = {name: len(fig.to_json()) for name, fig in explore_page_figures().items()}
    # Measured: grid 1.52 MB (pooled to 128 x 128 per head; 5.8 MB at full resolution),
    # head 0.37 MB, pipeline 0.45 MB, the rest < 0.1 MB together; page ~2.4 MB.
    assert sizes["pattern_grid"] <= 1_700_000, sizes
    assert sum(sizes.values()) <= 2_700_000, sizes


# --- import hygiene -----------------------------------------------------------------------------


def test_builders_import_neither_torch_nor_streamlit():
    code = (
        "import sys, viz; assert 'matplotlib' not in sys.modules, 'viz imports matplotlib';"
        "import viz.static, viz.export;"
        "bad = [m for m in ('torch', 'streamlit', 'model') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


# --- categorical axes and run colours ----------------------------------------------------------


def _axes(fig: go.Figure) -> list[tuple[str, dict]]:
    layout = fig.to_dict()["layout"]
    return [(k, v) for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]


def test_token_labels_that_look_like_numbers_stay_categories():
    """Digits and "14 5"-like labels must not turn an axis numeric (cells would scatter)."""
    digits = [str(i % 10) for i in range(12)]
    p, _ = causal_patterns((2, 2), 12)
    figs = {
        "grid": pattern_grid(p, digits),
        "head": head_heatmap(p[0, 0], digits),
        "pipeline": score_pipeline(p[0, 0], p[0, 0], p[0, 0], p[0, 0], digits),
        "difference": pattern_difference(p[0, 0], p[1, 1], digits),
        "layer_pos": layer_pos_heatmap(np.ones((3, 12)), digits, row_labels=["0", "1", "2"]),
        "entropy": entropy_heatmap(np.ones((2, 2))),
        "qkv": qkv_inspector(
            np.ones(4), np.ones(4), 0.5, np.ones((12, 4)), np.ones(4), tokens=digits
        ),
        "bars": metric_bars({"14": 1.0, "5": 2.0}),
    }
    for name, fig in figs.items():
        for trace in fig.data:
            for axis_letter in ("x", "y"):
                values = getattr(trace, axis_letter, None)
                if values is None or not len(values) or not isinstance(values[0], str):
                    continue
                ref = getattr(trace, f"{axis_letter}axis", None) or axis_letter
                axis = fig.layout[ref.replace(axis_letter, f"{axis_letter}axis", 1)]
                assert axis.type == "category", (name, ref)


def test_every_run_gets_its_own_colour_and_keeps_it_across_charts():
    names = [f"variant_{i}" for i in range(60)]
    colours = run_colors(names)
    assert len(set(colours.values())) == 60  # more runs than any qualitative palette: no reuse
    records = {n: [{"step": 0, "val_loss": 1.0}] for n in names[:15]}
    curves = training_curves(records, colors=colours)
    assert [t.line.color for t in curves.data] == [colours[n] for n in names[:15]]
    bars = metric_bars({n: 1.0 for n in names[5:20]}, colors=colours)
    assert list(bars.data[0].marker.color) == [colours[n] for n in names[5:20]]
    losses = position_loss_curves({n: np.ones(3) for n in names[:12]})
    assert len({t.line.color for t in losses.data}) == 12  # default: distinct too


# --- command line -------------------------------------------------------------------------------


def fake_checkpoint_module(n_layers: int = 2, n_heads: int = 2) -> types.ModuleType:
    """A stand-in for model.checkpoint with the API the CLI codes against."""
    torch = pytest.importorskip("torch")

    class Config:
        n_ctx = 32

        def __init__(self) -> None:
            self.n_layers, self.n_heads = n_layers, n_heads

        def hash(self) -> str:
            return "f00d"

        def to_dict(self) -> dict:
            return {"n_layers": n_layers, "n_heads": n_heads}

    class Tokenizer:
        def encode(self, text: str) -> list[int]:
            return [ord(c) % 50 for c in text]

        def token_strings(self, ids: list[int]) -> list[str]:
            return [chr(i + 48) for i in ids]

    class Model:
        hook_names = [f"blocks.{i}.attn.hook_pattern" for i in range(n_layers)]

        def eval(self) -> Model:
            return self

        def run_with_cache(self, tokens, names):
            n = tokens.shape[1]
            cache = {}
            for name in self.hook_names:
                if callable(names) and not names(name) or not callable(names) and name not in names:
                    continue
                scores = torch.randn(1, n_heads, n, n).masked_fill(
                    ~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf")
                )
                cache[name] = scores.softmax(-1)
            return torch.zeros(1, n, 50), cache

    module = types.ModuleType("model.checkpoint")
    module.load_checkpoint = lambda path: types.SimpleNamespace(
        model=Model(), tokenizer=Tokenizer(), config=Config(), name="fake"
    )
    return module


def test_cli_writes_every_format_for_the_grid(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "model.checkpoint", fake_checkpoint_module())
    out = tmp_path / "out"
    args = ["--checkpoint", "x", "--prompt", "hello", "--out", str(out)]
    assert main([*args, "--format", "png", "svg", "html", "npz", "csv"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["attention_grid.png", "attention_grid.svg", "attention_grid.html", "activations.npz"]
        + [f"L{layer}H{head}.csv" for layer in range(2) for head in range(2)]
    )
    assert (out / "attention_grid.png").read_bytes().startswith(PNG_SIGNATURE)
    with np.load(out / "activations.npz", allow_pickle=False) as npz:
        assert npz["blocks.1.attn.hook_pattern"].shape == (1, 2, 5, 5)
        metadata = json.loads(str(npz[METADATA_KEY]))
    assert metadata["prompt"] == "hello" and metadata["config_hash"] == "f00d"
    assert metadata["model"] == "fake" and "switches" in metadata
    assert str(out / "activations.npz") in capsys.readouterr().out


def test_cli_single_head_and_argument_errors(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "model.checkpoint", fake_checkpoint_module())
    args = ["--checkpoint", "x", "--prompt", "hey", "--out", str(tmp_path)]
    assert main([*args, "--format", "csv", "svg", "--layer", "1", "--head", "0"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["L1H0.csv", "L1H0.svg"]
    for bad in (["--layer", "1"], ["--layer", "2", "--head", "0"], ["--format", "gif"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, *bad])
        assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["--checkpoint", "x", "--prompt", "y" * 33, "--out", str(tmp_path)])  # > n_ctx


def test_cli_with_a_real_checkpoint(tmp_path):
    checkpoint = pytest.importorskip("model.checkpoint")
    from model.build import build_model
    from model.config import ModelConfig
    from model.tokenizers.char import CharTokenizer

    text = "To be, or not to be"
    tokenizer = CharTokenizer.train(text)
    config = ModelConfig(
        vocab_size=tokenizer.n_vocab,
        n_ctx=32,
        d_model=16,
        n_layers=2,
        n_heads=2,
        d_head=8,
        d_mlp=32,
    )
    ckpt = checkpoint.save_checkpoint(tmp_path / "ckpt", build_model(config), tokenizer)
    out = tmp_path / "out"
    args = ["--checkpoint", str(ckpt), "--prompt", text, "--out", str(out)]
    assert main([*args, "--format", "png", "npz", "--layer", "1", "--head", "1"]) == 0
    with np.load(out / "activations.npz", allow_pickle=False) as npz:
        pattern = npz["blocks.1.attn.hook_pattern"]
        assert pattern.shape == (1, 2, len(text), len(text))
        np.testing.assert_allclose(pattern.sum(-1), 1.0, rtol=1e-5)
        assert "blocks.0.hook_resid_post" in npz.files
        assert json.loads(str(npz[METADATA_KEY]))["config_hash"] == config.hash()
    assert (out / "L1H1.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(SystemExit):  # 'Z' is outside the vocabulary: a usage error, no traceback
        main(["--checkpoint", str(ckpt), "--prompt", "Zed", "--out", str(out)])
