"""interp/ against references: TransformerLens's detector formulas, the model's own logits and
scores, and the identities patching must satisfy; parametrized over every architecture switch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from jaxtyping import install_import_hook

# every shape-annotated signature in interp/ is checked on each call, as model/'s are (conftest)
with install_import_hook("interp", "beartype.beartype"):
    import interp  # noqa: F401
    from interp import (
        DecompositionError,
        PatchingSetup,
        detect_heads,
        direct_logit_attribution,
        expected_cells,
        full_ov,
        full_qk,
        logit_lens,
        patch_heads,
        patch_mlps,
        patch_resid,
        patch_sites,
        positional_qk,
        score_terms,
        setup_from_predictions,
        stream_health,
    )
    from interp.detectors import attention_patterns, head_types, mass_share
    from interp.forward import forward_from
    from interp.stream_health import effective_rank, mean_pairwise_cosine

from model.hook_names import hook_name
from model.switches import Switches
from tests.test_model import make, tokens
from tests.variants import TINY, VARIANTS

torch.set_num_threads(1)

RESIDUAL_VARIANTS = [k for k, v in VARIANTS.items() if v.residual]
DOT_VARIANTS = [k for k, v in VARIANTS.items() if v.attn_score in ("scaled_dot", "dot")]


# --- references: TransformerLens's head_detector, written out from its documentation ----------
# previous_token_head: ones on the diagonal below the main one. duplicate_token_head: 1 where
# token j equals token i, the diagonal zeroed, lower triangle kept. induction_head: the duplicate
# pattern shifted one column right, column 0 zero, lower triangle kept. Score ("mul"):
# sum(pattern * detection) / sum(pattern) per sequence; a list of sequences averages the scores.


def tl_previous(toks: list[int]) -> torch.Tensor:
    n = len(toks)
    det = torch.zeros(n, n)
    for i in range(1, n):
        det[i, i - 1] = 1.0
    return det


def tl_duplicate(toks: list[int]) -> torch.Tensor:
    n = len(toks)
    det = torch.zeros(n, n)
    for i in range(n):
        for j in range(i):
            det[i, j] = float(toks[i] == toks[j])
    return det


def tl_induction(toks: list[int]) -> torch.Tensor:
    dup = tl_duplicate(toks)
    n = len(toks)
    det = torch.zeros(n, n)
    for i in range(n):
        for j in range(1, i + 1):
            det[i, j] = dup[i, j - 1]
    return det


def tl_score(pattern: torch.Tensor, det: torch.Tensor) -> float:
    return float((pattern * det).sum() / pattern.sum())


TL_REFERENCES = {
    "previous_token": tl_previous,
    "duplicate_token": tl_duplicate,
    "induction": tl_induction,
}


def random_patterns(layers: int, batch: int, heads: int, n: int, causal: bool) -> torch.Tensor:
    logits = torch.randn(layers, batch, heads, n, n, generator=torch.Generator().manual_seed(3))
    if causal:
        logits = logits.masked_fill(torch.ones(n, n).triu(1).bool(), float("-inf"))
    return logits.mul(2.0).softmax(-1).double()


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("detector", list(TL_REFERENCES))
def test_detectors_equal_transformer_lens_formulas(detector: str, causal: bool) -> None:
    toks = torch.tensor(
        [[3, 1, 4, 1, 5, 9, 2, 6, 3, 1, 4, 1, 5], [7, 7, 2, 7, 2, 2, 8, 1, 8, 1, 7, 2, 2]]
    )
    patterns = random_patterns(2, 2, 3, toks.shape[1], causal)
    ours = mass_share(patterns, expected_cells(detector, toks).double())
    ref = torch.tensor(
        [
            [
                sum(
                    tl_score(
                        patterns[layer, b, head], TL_REFERENCES[detector](toks[b].tolist()).double()
                    )
                    for b in range(2)
                )
                / 2
                for head in range(3)
            ]
            for layer in range(2)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_detect_heads_on_model_patterns_equal_the_formulas(name: str) -> None:
    cfg = VARIANTS[name]
    model = make(cfg)
    result = detect_heads(model, n_probe=2)
    probe = result.probe
    assert probe.shape == (2, cfg.n_ctx)
    torch.testing.assert_close(probe[:, : cfg.n_ctx // 2], probe[:, cfg.n_ctx // 2 :])
    patterns = attention_patterns(model, probe)
    assert ("future_leakage" in result.scores) == (not cfg.causal_mask)
    for detector, reference in TL_REFERENCES.items():
        ref = torch.tensor(
            [
                [
                    sum(
                        tl_score(patterns[layer, b, head], reference(probe[b].tolist()))
                        for b in range(2)
                    )
                    / 2
                    for head in range(cfg.n_heads)
                ]
                for layer in range(cfg.n_layers)
            ]
        )
        torch.testing.assert_close(result.scores[detector], ref, atol=1e-6, rtol=0)
    # the detectors TransformerLens lacks, from their one-line definitions
    sink = patterns[..., 0].sum(-1) / patterns.sum((-1, -2))  # column 0's share
    torch.testing.assert_close(result.scores["first_token"], sink.mean(1), atol=1e-6, rtol=0)
    if not cfg.causal_mask:
        future = patterns.triu(1).sum((-1, -2)) / patterns.sum((-1, -2))
        torch.testing.assert_close(
            result.scores["future_leakage"], future.mean(1), atol=1e-6, rtol=0
        )
        assert result.scores["future_leakage"].max() > 0.1  # an unmasked random model leaks
    for scores in result.scores.values():
        assert (
            scores.shape == (cfg.n_layers, cfg.n_heads) and 0 <= scores.min() <= scores.max() <= 1
        )


def test_planted_heads_get_their_type() -> None:
    n = 24
    toks = torch.cat([torch.arange(12), torch.arange(12)])[None]
    prev = torch.diag(torch.ones(n - 1), -1)
    prev[0, 0] = 1.0
    induction = expected_cells("induction", toks)[0]
    empty = induction.sum(-1) == 0
    induction[empty, 0] = 1.0  # rows with nothing to induct from rest on the first token
    uniform = torch.full((n, n), 1.0 / n)  # an unmasked head spread over everything
    patterns = torch.stack([prev, induction, uniform])[None, None]  # [layer, batch, head, q, k]
    scores = {
        d: mass_share(patterns, expected_cells(d, toks))
        for d in ("previous_token", "induction", "first_token", "local_window")
    }
    assert scores["previous_token"][0, 0] == pytest.approx((n - 1) / n)
    assert head_types(scores, threshold=0.4)[0] == ["previous_token", "induction", "diffuse"]


# --- logit lens -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_logit_lens_last_layer_is_the_model(name: str) -> None:
    model = make(VARIANTS[name])
    toks = tokens(1, 12)[0]
    lens = logit_lens(model, toks, k=3)
    assert lens.logits.shape == (VARIANTS[name].n_layers + 1, 12, VARIANTS[name].vocab_size)
    torch.testing.assert_close(lens.logits[-1], model(toks[None])[0], atol=1e-5, rtol=0)
    top1 = lens.top_tokens[:, :-1, 0] == toks[1:]
    assert torch.equal(lens.true_rank == 0, top1)
    probs = lens.logits.softmax(-1)[:, :-1].gather(
        -1, toks[1:][None, :, None].expand(len(lens.points), -1, 1)
    )
    torch.testing.assert_close(lens.true_prob, probs[..., 0])


# --- direct logit attribution -------------------------------------------------------------


@pytest.mark.parametrize("name", RESIDUAL_VARIANTS)
def test_attribution_plus_bias_is_the_logit(name: str) -> None:
    cfg = VARIANTS[name]
    model = make(cfg)
    toks = tokens(1, 12)[0]
    logits = model(toks[None])[0]
    one = direct_logit_attribution(model, toks, target=5)
    torch.testing.assert_close(one.logit, logits[:, 5], atol=1e-5, rtol=0)
    next_tok = torch.cat([toks[1:], toks[:1]])
    diff = direct_logit_attribution(model, toks, target=next_tok, versus=7)
    for a in (one, diff):
        torch.testing.assert_close(a.total + a.bias, a.logit, atol=1e-4, rtol=0)
        assert a.heads.shape == (cfg.n_layers, cfg.n_heads, 12)
    expected_frozen = {"pre": cfg.n_layers * 0 + 1, "post": 2 * cfg.n_layers, "none": 0}[cfg.norm]
    assert len(one.frozen_scales) == expected_frozen


def test_attribution_without_a_residual_stream_raises() -> None:
    with pytest.raises(DecompositionError, match="no residual stream"):
        direct_logit_attribution(make(VARIANTS["no_residual"]), tokens(1, 8)[0], target=1)
    with pytest.raises(DecompositionError, match="residual switch"):
        direct_logit_attribution(make(TINY), tokens(1, 8)[0], 1, switches=Switches(residual=False))


def test_attribution_under_switches_and_head_ablations() -> None:
    model = make(TINY)
    toks = tokens(1, 10)[0]
    from model.switches import HeadAblation

    sw = Switches(layernorm=False, pos_encoding=False, head_ablations=(HeadAblation(1, 0),))
    a = direct_logit_attribution(model, toks, 3, switches=sw)
    torch.testing.assert_close(a.logit, model(toks[None], switches=sw)[0, :, 3], atol=1e-5, rtol=0)
    torch.testing.assert_close(a.total + a.bias, a.logit, atol=1e-4, rtol=0)
    assert a.frozen_scales == () and torch.all(a.heads[1, 0] == 0) and torch.all(a.pos_embed == 0)


# --- activation patching ------------------------------------------------------------------


def setup_for(model) -> PatchingSetup:
    toks = tokens(2, 10, seed=4)
    return setup_from_predictions(model, toks[0], toks[1])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_patching_everything_recovers_all_and_nothing_none(name: str) -> None:
    model = make(VARIANTS[name])
    setup = setup_for(model)
    assert patch_sites(model, setup, None, "denoising") == pytest.approx(1.0, abs=1e-4)
    assert patch_sites(model, setup, [], "denoising") == pytest.approx(0.0, abs=1e-4)
    assert patch_sites(model, setup, None, "noising") == pytest.approx(0.0, abs=1e-4)
    assert patch_sites(model, setup, [], "noising") == pytest.approx(1.0, abs=1e-4)
    # the whole stream entering block 0 is the whole input
    assert patch_sites(model, setup, [hook_name("resid_pre", 0)]) == pytest.approx(1.0, abs=1e-4)


@torch.no_grad()
def _full_run_metric(model, setup, hook, edit, direction="denoising", at=-1) -> float:
    target = setup.corrupted if direction == "denoising" else setup.clean
    source = setup.clean if direction == "denoising" else setup.corrupted
    _, cache = model.run_with_cache(source[None], names=[hook])
    logits_c = model(setup.clean[None])[0, at]
    logits_r = model(setup.corrupted[None])[0, at]
    m_c = logits_c[setup.answer] - logits_c[setup.wrong]
    m_r = logits_r[setup.answer] - logits_r[setup.wrong]
    logits = model.run_with_hooks(target[None], [(hook, lambda x, h: edit(x, cache[hook]))])[0, at]
    return float((logits[setup.answer] - logits[setup.wrong] - m_r) / (m_c - m_r))


@pytest.mark.parametrize(
    "name", ["baseline", "no_causal_mask", "post_ln", "no_residual", "shared_layers"]
)
@pytest.mark.parametrize("direction", ["denoising", "noising"])
def test_batched_patching_equals_one_hooked_forward_per_cell(name: str, direction: str) -> None:
    model = make(VARIANTS[name])
    setup = setup_for(model)
    calls: list[tuple[int, int]] = []
    heads = patch_heads(model, setup, direction, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (4, 4) and heads.recovered.shape == (2, 2)
    resid = patch_resid(model, setup, direction, chunk=4)
    mlps = patch_mlps(model, setup, direction, chunk=3)
    assert resid.recovered.shape == mlps.recovered.shape == (2, 10)

    def head_edit(x, src, h=1):
        x = x.clone()
        x[:, :, h] = src[:, :, h]
        return x

    def pos_edit(x, src, p=6):
        x = x.clone()
        x[:, p] = src[:, p]
        return x

    checks = [
        (heads.recovered[1, 1], hook_name("z", 1), head_edit),
        (resid.recovered[1, 6], hook_name("resid_pre", 1), pos_edit),
        (mlps.recovered[0, 6], hook_name("mlp_out", 0), pos_edit),
    ]
    for ours, hook, edit in checks:
        assert float(ours) == pytest.approx(
            _full_run_metric(model, setup, hook, edit, direction), abs=1e-4
        )


@pytest.mark.parametrize("direction", ["denoising", "noising"])
def test_positions_identical_in_both_runs_are_skipped_exactly(direction: str) -> None:
    # prompts equal up to position 5: in a causal model nothing before it differs, so those
    # cells are the target's own metric; the cells after still match one hooked forward each
    model = make(TINY)
    clean = tokens(1, 10, seed=6)[0]
    corrupted = clean.clone()
    corrupted[5] = (clean[5] + 1) % TINY.vocab_size
    setup = setup_from_predictions(model, clean, corrupted)
    calls: list[tuple[int, int]] = []
    resid = patch_resid(model, setup, direction, progress=lambda d, t: calls.append((d, t)))
    untouched = 0.0 if direction == "denoising" else 1.0
    assert torch.all(resid.recovered[:, :5] == untouched)
    assert calls[-1] == (1 + 5, 1 + 5)  # layer 0: only position 5 differs; layer 1: 5 to 9

    def pos_edit(x, src, p=7):
        x = x.clone()
        x[:, p] = src[:, p]
        return x

    reference = _full_run_metric(model, setup, hook_name("resid_pre", 1), pos_edit, direction)
    assert float(resid.recovered[1, 7]) == pytest.approx(reference, abs=1e-4)


@pytest.mark.parametrize("name", ["baseline", "no_causal_mask"])
def test_patching_read_at_an_inner_position(name: str) -> None:
    # read at position 6: in a causal model patches after it cannot reach it (no run needed)
    model = make(VARIANTS[name])
    toks = tokens(2, 10, seed=4)
    setup = setup_from_predictions(model, toks[0], toks[1], position=6)
    resid = patch_resid(model, setup, chunk=3)
    if VARIANTS[name].causal_mask:
        assert torch.all(resid.recovered[:, 7:] == 0.0)
    for layer, pos in ((0, 2), (1, 5), (1, 8)):

        def edit(x, src, p=pos):
            x = x.clone()
            x[:, p] = src[:, p]
            return x

        reference = _full_run_metric(model, setup, hook_name("resid_pre", layer), edit, at=6)
        assert float(resid.recovered[layer, pos]) == pytest.approx(reference, abs=1e-4)


def test_forward_from_layer_0_equals_the_model() -> None:
    model = make(TINY)
    toks = tokens(2, 9)
    _, cache = model.run_with_cache(
        toks, names=[hook_name("resid_pre", 0), hook_name("resid_pre", 1)]
    )
    torch.testing.assert_close(
        forward_from(model, 0, cache[hook_name("resid_pre", 0)]), model(toks), atol=1e-5, rtol=0
    )
    last = forward_from(model, 1, cache[hook_name("resid_pre", 1)], position=-1)
    torch.testing.assert_close(last, model(toks)[:, -1:], atol=1e-5, rtol=0)


def test_patching_setup_rejects_unequal_prompts() -> None:
    with pytest.raises(ValueError, match="equal length"):
        PatchingSetup(torch.arange(5), torch.arange(6), 1, 2)


# --- weight circuits ----------------------------------------------------------------------


@pytest.mark.parametrize("name", DOT_VARIANTS)
def test_score_terms_sum_to_the_model_raw_scores(name: str) -> None:
    model = make(VARIANTS[name])
    terms = score_terms(model, tokens(1, 12)[0])
    torch.testing.assert_close(terms.total, terms.raw, atol=1e-4, rtol=0)
    if VARIANTS[name].pos_encoding == "none":
        assert torch.all(terms.pos_pos == 0) and torch.all(terms.tok_pos == 0)


@pytest.mark.parametrize("name", ["additive", "cosine"])
def test_score_terms_refuse_non_bilinear_scores(name: str) -> None:
    with pytest.raises(DecompositionError, match="not bilinear"):
        score_terms(make(VARIANTS[name]), tokens(1, 6)[0])


def test_score_terms_refuse_later_layers() -> None:
    with pytest.raises(DecompositionError, match="layer 0 only"):
        score_terms(make(TINY), tokens(1, 6)[0], layer=1)


def test_weight_circuits_are_the_score_terms_where_nothing_is_frozen() -> None:
    # no LayerNorm and no biases: the prompt's token and position terms are entries of the
    # weights-only matrices, nothing else
    model = make(TINY.replace(norm="none", bias=False, pos_encoding="learned"))
    toks = tokens(1, 11)[0]
    terms = score_terms(model, toks)
    assert torch.all(terms.bias == 0)
    for head in range(TINY.n_heads):
        qk = full_qk(model, 0, head)
        torch.testing.assert_close(
            terms.tok_tok[head], qk[toks][:, toks].double(), atol=1e-4, rtol=1e-5
        )
        torch.testing.assert_close(
            terms.pos_pos[head], positional_qk(model, 0, head, 11).double(), atol=1e-4, rtol=1e-5
        )
    ov = full_ov(model, 1, 0)
    assert ov.shape == (TINY.vocab_size, TINY.vocab_size)
    with pytest.raises(DecompositionError, match="no positional"):
        positional_qk(make(VARIANTS["no_pos"]), 0, 0)


# --- stream health ------------------------------------------------------------------------


def test_rank_measures_on_known_matrices() -> None:
    row = torch.randn(1, 16)
    assert mean_pairwise_cosine(row.expand(5, -1)) == pytest.approx(1.0)
    assert effective_rank(row.expand(5, -1)) == pytest.approx(1.0, abs=1e-6)
    assert effective_rank(torch.eye(6, 16)) == pytest.approx(6.0)
    assert mean_pairwise_cosine(torch.eye(6, 16)) == pytest.approx(0.0)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_stream_health_shares(name: str) -> None:
    cfg = VARIANTS[name]
    health = stream_health(make(cfg), tokens(1, 12)[0])
    assert health.mean_cosine.shape == health.effective_rank.shape == (cfg.n_layers + 1,)
    torch.testing.assert_close(health.norm_share.sum(), torch.tensor(1.0))
    if cfg.residual and cfg.norm != "post":
        torch.testing.assert_close(
            health.projection_share.sum(), torch.tensor(1.0), atol=1e-5, rtol=0
        )
    else:
        assert health.projection_share is None


# --- figures ------------------------------------------------------------------------------


def interp_figures() -> dict:
    """Every viz/interp_* builder, fed by interp/ on a tiny model."""
    from viz.interp_attribution import attribution_bars, attribution_heatmap
    from viz.interp_circuits import circuit_matrix, score_terms_panels
    from viz.interp_heads import detector_maps, head_type_map
    from viz.interp_lens import lens_top_tokens, logit_lens_heatmap
    from viz.interp_patching import patching_map
    from viz.interp_stream import rank_collapse_lines, write_share_bars

    model = make(TINY)
    toks = tokens(1, 8)[0]
    strings = [chr(ord("a") + i) for i in range(TINY.vocab_size)]
    labels = [strings[t] for t in toks]
    heads = detect_heads(model, n_probe=1)
    detectors, stacked = heads.stacked()
    best = torch.tensor([[heads.strongest(i, h)[1] for h in range(2)] for i in range(2)])
    lens = logit_lens(model, toks, k=3)
    a = direct_logit_attribution(model, toks, 3)
    setup = setup_for(model)
    terms = score_terms(model, toks)
    health = stream_health(model, toks)
    top = lens_top_tokens(lens.top_tokens[:, :-1].numpy(), strings)
    return {
        "detector_maps": detector_maps(stacked.numpy(), detectors),
        "head_type_map": head_type_map(heads.types, best.numpy(), threshold=0.4),
        "lens_prob": logit_lens_heatmap(
            lens.true_prob.numpy(), labels, lens.points, top, lens.top_probs[:, :-1].numpy()
        ),
        "lens_rank": logit_lens_heatmap(
            lens.true_rank.numpy(), labels, lens.points, measure="rank"
        ),
        "attribution_heatmap": attribution_heatmap(
            a.embed.numpy(), a.pos_embed.numpy(), a.heads.numpy(), a.mlps.numpy(), labels
        ),
        "attribution_bars": attribution_bars(
            a.heads[..., -1].numpy(),
            a.mlps[:, -1].numpy(),
            float(a.embed[-1]),
            float(a.pos_embed[-1]),
            float(a.bias[-1]),
            float(a.logit[-1]),
        ),
        "patch_heads": patching_map(
            patch_heads(model, setup, "noising").recovered.numpy(), direction="noising", site="head"
        ),
        "patch_resid": patching_map(
            patch_resid(model, setup).recovered.numpy(),
            direction="denoising",
            site="pos",
            tokens=[strings[t] for t in setup.corrupted],
        ),
        "full_qk": circuit_matrix(full_qk(model, 0, 1).numpy(), strings, strings, title="QK"),
        "score_terms": score_terms_panels(
            [
                getattr(terms, n)[0].numpy()
                for n in ("tok_tok", "tok_pos", "pos_tok", "pos_pos", "bias")
            ],
            labels,
        ),
        "rank_collapse": rank_collapse_lines(
            health.points, health.mean_cosine.numpy(), health.effective_rank.numpy()
        ),
        "write_shares": write_share_bars(
            health.components, health.norm_share.numpy(), health.projection_share.numpy()
        ),
    }


def test_figures_are_what_plotly_validation_would_keep() -> None:
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    # builders skip plotly's validation (viz.figure); here it runs: an unknown property raises,
    # a non-canonical value would come back rewritten
    for name, fig in interp_figures().items():
        spec = fig.to_dict()
        validated = go.Figure(spec).to_dict()
        shipped, checked = (json.loads(pio.to_json(d, validate=False)) for d in (spec, validated))
        assert shipped == checked, name


# --- the view table and input checks ------------------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_view_computes_or_says_why_not(name: str) -> None:
    from interp import VIEWS, ViewInputs

    model = make(VARIANTS[name])
    inputs = ViewInputs(tokens(1, 10)[0], setup=setup_for(model), layer=0, head=1)
    for view in VIEWS:
        reason = view.unavailable(model)
        if reason is None:
            assert view.compute(model, inputs) is not None
        else:
            with pytest.raises(DecompositionError):
                view.compute(model, inputs)
    assert (VIEWS[2].unavailable(model) is None) == VARIANTS[name].residual


def test_head_circuits_say_what_is_missing() -> None:
    from interp import head_circuits

    got = head_circuits(make(VARIANTS["additive"]), 0, 1, tokens(1, 6)[0])
    assert got.qk is not None and got.ov is not None and got.pos_qk is not None
    assert got.terms is None and "not bilinear" in got.missing["terms"]
    later = head_circuits(make(VARIANTS["no_pos"]), 1, 0, tokens(1, 6)[0])
    assert (
        later.pos_qk is None and later.terms is None and set(later.missing) == {"pos_qk", "terms"}
    )


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.zeros(2, 5, dtype=torch.long), "one prompt"),
        (torch.zeros(TINY.n_ctx + 1, dtype=torch.long), "takes 1 to"),
        (torch.full((4,), TINY.vocab_size), "outside the vocabulary"),
    ],
)
def test_prompts_are_checked(bad: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        logit_lens(make(TINY), bad)


def test_float_prompts_are_refused() -> None:
    from interp import check_prompt

    with pytest.raises(ValueError, match="integer tensor"):
        check_prompt(make(TINY), torch.zeros(4))
    assert check_prompt(make(TINY), torch.zeros(1, 4, dtype=torch.long)).shape == (4,)


# --- shipped checkpoints (whatever is shipped: only identities are checked) ----------------

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = sorted(p.parent for p in CHECKPOINTS.glob("*/config.json"))


@pytest.mark.slow
@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_identities_hold_on_shipped_checkpoints(folder: Path) -> None:
    from interp import VIEWS, ViewInputs
    from model.checkpoint import load_checkpoint

    model = load_checkpoint(folder).model
    view = VIEWS[0]
    if view.unavailable(model) is not None:
        pytest.skip(view.unavailable(model))
    n = min(64, model.cfg.n_ctx)
    gen = torch.Generator().manual_seed(0)
    toks = torch.randint(0, model.cfg.vocab_size, (n,), generator=gen)
    corrupted = toks.clone()
    corrupted[n // 2] = (toks[n // 2] + 1) % model.cfg.vocab_size
    lens = logit_lens(model, toks)
    torch.testing.assert_close(lens.logits[-1], model(toks[None])[0], atol=1e-5, rtol=0)
    if model.cfg.residual:
        a = direct_logit_attribution(model, toks, toks.roll(-1))
        torch.testing.assert_close(a.total + a.bias, a.logit, atol=1e-4, rtol=0)
    if model.cfg.attn_score in ("scaled_dot", "dot"):
        terms = score_terms(model, toks)
        torch.testing.assert_close(terms.total, terms.raw, atol=1e-4, rtol=0)
    setup = setup_from_predictions(model, toks, corrupted)
    try:
        assert patch_sites(model, setup) == pytest.approx(1.0, abs=1e-4)
        assert patch_sites(model, setup, []) == pytest.approx(0.0, abs=1e-4)
    except ValueError as e:
        # a model whose output ignores its input (no_residual collapses to the unigram) has
        # nothing for patching to recover: the refusal must say so, and the rest still holds
        assert "nothing to recover" in str(e)
        setup = None
    inputs = ViewInputs(toks, setup=setup)
    for v in VIEWS:
        if v.unavailable(model) is None and (setup is not None or "pair" not in v.needs):
            v.compute(model, inputs)


def test_head_type_map_has_a_clickable_marker_per_head() -> None:
    import numpy as np

    from viz.interp_heads import head_type_map

    types = [["induction", "diffuse", "previous_token"], ["first_token", "diffuse", "induction"]]
    scores = np.array([[0.9, 0.1, 0.7], [0.8, 0.2, 0.6]], dtype=np.float32)
    fig = head_type_map(types, scores)
    (overlay,) = [t for t in fig.data if t.name == "heads"]
    cells = {
        (tuple(c), x, y) for c, x, y in zip(overlay.customdata, overlay.x, overlay.y, strict=True)
    }
    assert cells == {((i, h), f"H{h}", f"L{i}") for i in range(2) for h in range(3)}
    assert fig.layout.clickmode == "event+select" and fig.layout.hoverdistance == -1
    assert "previous_token 0.700" in overlay.text
