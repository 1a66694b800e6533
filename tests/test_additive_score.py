"""The additive score's two implementations against the direct 5-D form, values and gradients."""

from __future__ import annotations

import warnings

import pytest
import torch

from model import additive_score
from model.additive_score import AdditiveScore, fused_backward, fused_forward


def _inputs(dtype=torch.float64, grad=True):
    torch.manual_seed(0)
    q = torch.randn(2, 3, 5, 4, dtype=dtype, requires_grad=grad)
    k = torch.randn(2, 3, 7, 4, dtype=dtype, requires_grad=grad)
    w = torch.randn(3, 4, dtype=dtype, requires_grad=grad)
    return q, k, w


def _reference(q, k, w):
    return torch.einsum("bhqkd,hd->bhqk", torch.tanh(q.unsqueeze(-2) + k.unsqueeze(-3)), w)


def _grads(fn, q, k, w, g):
    q, k, w = (x.detach().clone().requires_grad_() for x in (q, k, w))
    out = fn(q, k, w)
    out.backward(g)
    return out.detach(), q.grad, k.grad, w.grad


def test_the_fused_formulas_equal_the_broadcast_form_and_autograd():
    # the formulas themselves, run eagerly: what torch.compile is handed
    q, k, w = _inputs()
    g = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    out, *expected = _grads(_reference, q, k, w, g)
    torch.testing.assert_close(fused_forward(q, k, w), out, rtol=0, atol=1e-12)
    for ours, ref in zip(
        fused_backward(q.detach(), k.detach(), w.detach(), g), expected, strict=True
    ):
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel", ["loop", "fused", "loop_by_env"])
def test_additive_score_equals_the_broadcast_form_and_its_gradients(kernel, monkeypatch):
    if kernel == "loop_by_env":  # training mode, but the environment asks for the loop
        monkeypatch.setenv(additive_score.KERNEL_ENV, "loop")

    def score(q, k, w):
        return AdditiveScore.apply(q, k, w, kernel != "loop")  # the flag: a model in training mode

    q, k, w = _inputs()
    g = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    ref = _grads(_reference, q, k, w, g)
    monkeypatch.setattr(additive_score, "_compile_failed", False)
    monkeypatch.setattr(additive_score, "_compiled", None)  # built afresh, or not at all
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the fallback's warning would fail this
        ours = _grads(score, q, k, w, g)
    assert (additive_score._compiled is not None) == (kernel == "fused")
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert torch.autograd.gradcheck(score, (q, k, w))


def test_only_a_model_in_training_mode_compiles(monkeypatch):
    # the app's attribution takes gradients of an eval-mode model at every prompt length: that
    # must stay on the loop, or each new length would be a new compile
    from model.build import build_model
    from model.config import ModelConfig

    asked = []
    monkeypatch.setattr(additive_score, "_kernels", lambda: asked.append(1))  # None: the loop
    cfg = ModelConfig(vocab_size=11, n_ctx=8, d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32)
    model = build_model(cfg.replace(attn_score="additive"))
    tokens = torch.randint(11, (2, 6))
    with torch.no_grad():
        model.train()(tokens)
    model.eval()(tokens).sum().backward()
    assert asked == []  # no gradients, or not training: never asked
    model.train()(tokens).sum().backward()
    assert len(asked) == 2  # forward and backward


def test_bfloat16_inputs_are_scored_in_float32_and_get_bfloat16_gradients():
    q, k, w = (x.detach().to(torch.bfloat16).requires_grad_() for x in _inputs(torch.float32))
    out = AdditiveScore.apply(q, k, w)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert q.grad.dtype == k.grad.dtype == w.grad.dtype == torch.bfloat16
    torch.testing.assert_close(out, _reference(*(x.float() for x in (q, k, w))), rtol=0, atol=1e-5)


def test_a_failing_compiler_falls_back_to_the_loop_with_one_warning(monkeypatch):
    def broken(*args):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(additive_score, "_compiled", {"forward": broken, "backward": broken})
    monkeypatch.setattr(additive_score, "_compile_failed", False)
    q, k, w = _inputs()
    g = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="d_head loop"):
        ours = _grads(lambda q, k, w: AdditiveScore.apply(q, k, w, True), q, k, w, g)
    for a, b in zip(ours, _grads(_reference, q, k, w, g), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert additive_score._compile_failed  # remembered: the next call goes straight to the loop


def test_the_fused_path_under_bfloat16_autocast_matches_the_float32_reference(monkeypatch):
    # how the suite trains: a model in training mode under CPU autocast hands the score bf16 q, k
    monkeypatch.setattr(additive_score, "_compile_failed", False)
    q, k, w = (x.detach().to(torch.bfloat16).requires_grad_() for x in _inputs(torch.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = AdditiveScore.apply(q, k, w, True)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert q.grad.dtype == torch.bfloat16
    ref = _grads(_reference, *(x.detach().float() for x in (q, k, w)), torch.ones_like(out))
    torch.testing.assert_close(out, ref[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(q.grad.float(), ref[1], rtol=2e-2, atol=2e-2)  # bf16 rounding


def test_past_a_few_shapes_new_ones_go_to_the_loop_instead_of_recompiling(monkeypatch):
    monkeypatch.setattr(additive_score, "_compile_failed", False)
    monkeypatch.setattr(additive_score, "_compiled_shapes", set())
    monkeypatch.setattr(additive_score, "MAX_COMPILED_SHAPES", 1)
    looped = []
    loop = additive_score.loop_forward
    monkeypatch.setattr(additive_score, "loop_forward", lambda *a: looped.append(1) or loop(*a))
    q, k, w = _inputs()
    AdditiveScore.apply(q, k, w, True)
    assert looped == []  # the first shape is compiled
    AdditiveScore.apply(q[:, :, :3], k, w, True)
    assert looped == [1]  # a second shape, past the cap: the loop
    torch.testing.assert_close(
        AdditiveScore.apply(q[:, :, :3], k, w, True), _reference(q[:, :, :3], k, w)
    )


def test_a_second_derivative_is_refused_rather_than_wrong():
    q, k, w = _inputs()
    (gq,) = torch.autograd.grad(AdditiveScore.apply(q, k, w).sum(), q, create_graph=True)
    with pytest.raises(RuntimeError):
        gq.sum().backward()


# --- a causal model: only the blocks on or below the diagonal ---------------------------------


def _causal_inputs(t=32):
    # every size distinct (batch 3, heads 2, blocks 4 of 8, d_head 5): a swapped axis cannot hide
    torch.manual_seed(1)
    q = torch.randn(3, 2, t, 5, dtype=torch.float64, requires_grad=True)
    k = torch.randn(3, 2, t, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    return q, k, w


@pytest.mark.parametrize("kernel", ["fused", "loop"])
def test_causal_blocks_equal_the_full_score_wherever_the_mask_lets_it_through(kernel, monkeypatch):
    monkeypatch.setattr(additive_score, "_compile_failed", kernel == "loop")
    monkeypatch.setattr(additive_score, "_compiled", None)
    monkeypatch.setattr(additive_score, "_compiled_shapes", set())
    q, k, w = _causal_inputs()
    t, n = q.shape[-2], additive_score.CAUSAL_BLOCKS
    visible = torch.ones(t, t, dtype=torch.bool).tril()
    # what the mask leaves: the gradient arriving from the softmax is 0 above the diagonal
    g = torch.randn(*q.shape[:2], t, t, dtype=torch.float64) * visible

    def score(q, k, w):
        return AdditiveScore.apply(q, k, w, True, True)

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to the loop would fail this
        out, *grads = _grads(score, q, k, w, g)
    assert (additive_score._compiled is not None) == (kernel == "fused")
    ref, *ref_grads = _grads(_reference, q, k, w, g)
    torch.testing.assert_close(out[..., visible], ref[..., visible], rtol=0, atol=1e-12)
    above = torch.ones(n, n, dtype=torch.bool).triu(1).repeat_interleave(t // n, 0)
    above = above.repeat_interleave(t // n, 1)  # whole blocks above the diagonal
    assert out[..., above].abs().max() == 0  # never computed
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    # exact for what it computes (a smaller window: gradcheck perturbs every input element)
    small = (x.detach()[:2, :1, :16, :3].clone().requires_grad_() for x in (q, k))
    assert torch.autograd.gradcheck(score, (*small, w.detach()[:1, :3].clone().requires_grad_()))


def test_causal_blocks_only_where_they_apply(monkeypatch):
    q, k, w = _causal_inputs()
    stacked = []
    real = additive_score._stack_blocks
    monkeypatch.setattr(additive_score, "_stack_blocks", lambda *a: stacked.append(1) or real(*a))
    AdditiveScore.apply(q, k, w, False, True)  # not training: the full score
    AdditiveScore.apply(q[:, :, :12], k[:, :, :12], w, True, True)  # too short to cut
    AdditiveScore.apply(q[:, :, :30], k[:, :, :30], w, True, True)  # not divisible
    AdditiveScore.apply(q, k, w, True, False)  # the caller does not mask
    assert stacked == []
    AdditiveScore.apply(q, k, w, True, True)
    assert stacked == [1, 1]  # q and k


@pytest.mark.parametrize(
    "case", ["causal", "no_causal_mask", "mask_switched_off", "padding", "raw_scores_hooked"]
)
def test_a_training_model_skips_hidden_scores_only_where_the_mask_hides_them(case, monkeypatch):
    from model.build import build_model
    from model.config import ModelConfig
    from model.switches import Switches

    cfg = ModelConfig(
        vocab_size=11, n_ctx=16, d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32
    ).replace(attn_score="additive", causal_mask=case != "no_causal_mask")
    torch.manual_seed(0)
    model = build_model(cfg).double().train()
    tokens = torch.randint(11, (2, 16))
    kwargs = {}
    if case == "mask_switched_off":
        kwargs["switches"] = Switches(causal_mask=False)
    if case == "padding":
        kwargs["attention_mask"] = torch.ones(2, 16, dtype=torch.bool)
    asked: list[bool] = []
    apply = AdditiveScore.apply

    def spy(*args):
        asked.append(args[-1])
        return apply(*args)

    def grads(hook: str | None) -> list[torch.Tensor]:
        model.zero_grad()
        hooks = [(lambda n: n.endswith(hook), lambda x, h: None)] if hook else []
        model.run_with_hooks(tokens, fwd_hooks=hooks, **kwargs).sum().backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    monkeypatch.setattr(AdditiveScore, "apply", spy)
    first = "hook_raw_scores" if case == "raw_scores_hooked" else None
    # a hook on the pattern needs every score: the full computation, as the app gets it
    skipped, full = grads(first), grads("hook_pattern")
    assert asked == [case == "causal"] * 2 + [False] * 2  # skipped only when masked, unhooked
    for a, b in zip(skipped, full, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
