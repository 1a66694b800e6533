"""Correctness of the transformer against references, parametrized over every architecture switch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from model import attention
from model.build import build_model
from model.config import ModelConfig
from model.generate import GenerationSettings, generate
from model.switches import HeadAblation, Switches
from model.transformer import Transformer
from tests.variants import CAUSAL_VARIANTS, TINY, VARIANTS

ATOL = 1e-5


def make(cfg: ModelConfig, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    model = build_model(cfg)
    with (
        torch.no_grad()
    ):  # GPT-2's 0.02 init makes attention near-uniform; sharpen it so effects show
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(8.0)
    model.eval()
    return model


def tokens(
    batch: int = 2, n: int = 12, vocab: int = TINY.vocab_size, seed: int = 1
) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, n), generator=torch.Generator().manual_seed(seed))


# --- attention against references ------------------------------------------------------------


@pytest.mark.parametrize("causal", [True, False])
def test_explicit_attention_equals_sdpa(causal: bool) -> None:
    model = make(TINY.replace(causal_mask=causal))
    toks = tokens()
    names = ["blocks.1.attn.hook_q", "blocks.1.attn.hook_k", "blocks.1.attn.hook_v"]
    names += [
        "blocks.1.attn.hook_z",
        "blocks.1.attn.hook_pattern",
    ]  # pattern forces the explicit path
    _, cache = model.run_with_cache(toks, names=names)
    q, k, v = (cache[f"blocks.1.attn.hook_{n}"].transpose(1, 2) for n in "qkv")
    reference = F.scaled_dot_product_attention(q, k, v, is_causal=causal).transpose(1, 2)
    torch.testing.assert_close(cache["blocks.1.attn.hook_z"], reference, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["baseline", "no_causal_mask", "cosine", "dot"])
def test_cpu_autocast_runs_the_fused_kernel_in_float32(name: str, monkeypatch) -> None:
    """Under bf16 autocast the fused path hands SDPA float32 copies (its bf16 CPU kernel is ~3x
    slower) and returns what autocast would: bf16 values equal to float32 attention over the same
    bf16 q, k, v; gradients agree with autocast's own kernel to bf16 precision."""
    seen: list[tuple[torch.dtype, bool]] = []  # (q's dtype, autocast on) at each call
    real = F.scaled_dot_product_attention

    def spy(q, k, v, **kwargs):
        seen.append((q.dtype, torch.is_autocast_enabled("cpu")))
        return real(q, k, v, **kwargs)

    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", spy)
    cfg = VARIANTS[name]
    model = make(cfg)
    toks = tokens()
    names = [f"blocks.0.attn.hook_{n}" for n in "qkvz"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, cache = model.run_with_cache(toks, names=names)
    assert seen and set(seen) == {(torch.float32, False)}
    z = cache["blocks.0.attn.hook_z"]
    assert z.dtype == torch.bfloat16
    q, k, v = (cache[f"blocks.0.attn.hook_{n}"].transpose(1, 2).float() for n in "qkv")
    fq, fk, scale = model.blocks[0].attn.score_fn.fused_qk(q, k)
    reference = real(fq, fk, v, is_causal=cfg.causal_mask, scale=scale).transpose(1, 2)
    torch.testing.assert_close(z, reference.to(torch.bfloat16), atol=1e-2, rtol=1e-2)

    def grads(autocast: bool, float32: bool = True) -> torch.Tensor:
        monkeypatch.setattr(attention, "CPU_AUTOCAST_SDPA_FLOAT32", float32)
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(toks)
        F.cross_entropy(logits.float().flatten(0, 1), toks.flatten()).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    exact = grads(autocast=False)
    seen.clear()
    ours, autocasts = grads(autocast=True), grads(autocast=True, float32=False)
    assert all(on for _, on in seen[-cfg.n_layers :])  # the last pass ran autocast's own kernel

    def error(g: torch.Tensor) -> float:
        return ((g - exact).norm() / exact.norm()).item()

    # both are bf16 approximations of the float32 gradient; ours may not be the worse one
    assert 0 < error(ours) < 0.05
    assert error(ours) <= 1.25 * error(autocasts)


def test_cpu_autocast_float32_kernel_takes_boolean_masks(monkeypatch) -> None:
    """The masked calls (a cached prefix, right padding) take the float32 kernel under autocast
    too, and agree with float32 inference to bf16 precision."""
    seen: list[tuple[torch.dtype, bool]] = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, **kwargs):
        seen.append((q.dtype, kwargs.get("attn_mask") is not None))
        return real(q, k, v, **kwargs)

    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", spy)
    model = make(TINY)
    toks = tokens(batch=2, n=12)
    padding = torch.ones(2, 12, dtype=torch.bool)
    padding[1, 7:] = False
    exact = model(toks, attention_mask=padding)
    seen.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        padded = model(toks, attention_mask=padding)
        cache = model.new_cache()
        model(toks[:, :5], kv_cache=cache)
        cached = model(toks[:, 5:7], kv_cache=cache)  # two new queries after 5 cached keys
    assert seen and all(dtype == torch.float32 for dtype, _ in seen)
    assert sum(masked for _, masked in seen) == 2 * TINY.n_layers  # padding, then the offset
    scale = exact.abs().max().item()
    torch.testing.assert_close(padded.float()[0], exact[0], atol=0.03 * scale, rtol=0)
    torch.testing.assert_close(padded.float()[1, :7], exact[1, :7], atol=0.03 * scale, rtol=0)
    torch.testing.assert_close(cached.float(), model(toks[:, :7])[:, 5:], atol=0.03 * scale, rtol=0)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_fast_path_equals_instrumented_path(name: str) -> None:
    model = make(VARIANTS[name])
    toks = tokens()
    fast = model(toks)
    # hooking the pattern forces the explicit score pipeline in every layer
    slow = model.run_with_hooks(
        toks, fwd_hooks=[(lambda n: n.endswith("hook_pattern"), lambda x, h: None)]
    )
    torch.testing.assert_close(fast, slow, atol=ATOL, rtol=0)


def test_pattern_rows_are_distributions_and_causal() -> None:
    model = make(TINY)
    _, cache = model.run_with_cache(tokens(), names=lambda n: n.endswith("hook_pattern"))
    for pattern in cache.values():
        torch.testing.assert_close(pattern.sum(-1), torch.ones(pattern.shape[:-1]))
        assert torch.all(pattern.triu(diagonal=1) == 0)


# --- the causal mask ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CAUSAL_VARIANTS))
def test_masked_model_never_looks_ahead(name: str) -> None:
    model = make(VARIANTS[name])
    toks = tokens(batch=1)
    base = model(toks)
    for t in (3, 7, 11):
        changed = toks.clone()
        changed[0, t] = (changed[0, t] + 1) % TINY.vocab_size
        out = model(changed)
        torch.testing.assert_close(out[:, :t], base[:, :t], atol=ATOL, rtol=0)
        assert not torch.allclose(out[:, t:], base[:, t:], atol=1e-4)


def test_unmasked_model_looks_ahead_and_inference_switch_unmasks() -> None:
    toks = tokens(batch=1)
    changed = toks.clone()
    changed[0, 8] = (changed[0, 8] + 1) % TINY.vocab_size
    for model, switches in (
        (make(TINY.replace(causal_mask=False)), Switches()),
        (make(TINY), Switches(causal_mask=False)),
    ):
        before = model(toks, switches=switches)[:, :8]
        after = model(changed, switches=switches)[:, :8]
        assert (before - after).abs().max() > 1e-4


# --- KV cache, batching ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", list(CAUSAL_VARIANTS)
)  # unmasked: earlier positions see later ones
def test_kv_cache_equals_recomputation(name: str) -> None:
    model = make(VARIANTS[name])
    toks = tokens(batch=2, n=14)
    full = model(toks)
    cache = model.new_cache()
    steps = [model(toks[:, :5], kv_cache=cache)]
    steps += [model(toks[:, i : i + 1], kv_cache=cache) for i in range(5, 14)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_batched_with_padding_equals_unbatched(name: str) -> None:
    model = make(VARIANTS[name])
    a, b = tokens(batch=1, n=12, seed=3), tokens(batch=1, n=7, seed=4)
    padded = torch.zeros(2, 12, dtype=torch.long)
    padded[0], padded[1, :7] = a[0], b[0]
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[0], mask[1, :7] = True, True
    out = model(padded, attention_mask=mask)
    torch.testing.assert_close(out[0], model(a)[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(out[1, :7], model(b)[0], atol=ATOL, rtol=0)


def test_context_length_is_enforced() -> None:
    model = make(TINY)
    with pytest.raises(ValueError, match="context length"):
        model(tokens(batch=1, n=TINY.n_ctx + 1))


# --- switches change what they claim to ---------------------------------------------------------


def test_shared_layers_share_the_very_same_parameters() -> None:
    shared, separate = make(TINY.replace(share_layers=True)), make(TINY)
    assert shared.blocks[0].attn.W_Q is shared.blocks[1].attn.W_Q
    assert shared.blocks[0].mlp.W_in is shared.blocks[1].mlp.W_in
    block_params = sum(p.numel() for p in separate.blocks[0].parameters())
    assert separate.n_params() - shared.n_params() == block_params * (TINY.n_layers - 1)
    # a gradient step on layer 0 moves layer 1 too: it is one tensor
    with torch.no_grad():
        shared.blocks[0].attn.W_Q.add_(1.0)
    assert torch.equal(shared.blocks[0].attn.W_Q, shared.blocks[1].attn.W_Q)


# the two GELUs differ by < 1e-3 anywhere, too little to see at the output of a freshly initialised
# model: test_gelu_choice checks that switch at the MLP itself
@pytest.mark.parametrize("name", [n for n in VARIANTS if n not in ("baseline", "exact_gelu")])
def test_each_architecture_switch_changes_the_computation(name: str) -> None:
    base, variant = make(TINY), make(VARIANTS[name])
    variant.load_state_dict(base.state_dict(), strict=False)  # same weights where names match
    assert (variant(tokens()) - base(tokens())).abs().max() > 1e-3


@pytest.mark.parametrize("gelu", ["tanh", "exact"])
def test_gelu_choice(gelu: str) -> None:
    model = make(TINY.replace(gelu=gelu))
    _, cache = model.run_with_cache(tokens())
    pre, post = cache["blocks.0.mlp.hook_pre"], cache["blocks.0.mlp.hook_post"]
    reference = nn.GELU(approximate="tanh" if gelu == "tanh" else "none")(pre)
    other = nn.GELU(approximate="none" if gelu == "tanh" else "tanh")(pre)
    torch.testing.assert_close(post, reference, rtol=0, atol=1e-7)
    assert (post - other).abs().max() > 1e-6  # the other form is measurably different


def test_a_field_added_later_keeps_the_digests_of_older_configs():
    import hashlib
    import json

    # as saved before the fields existed
    older = {k: v for k, v in TINY.to_dict().items() if k not in ("gelu", "pos_scale", "mlp")}
    digest = hashlib.sha256(json.dumps(older, sort_keys=True).encode()).hexdigest()[:12]
    assert ModelConfig.from_dict(older).hash() == TINY.hash() == digest
    assert TINY.replace(gelu="exact").hash() != TINY.hash()
    assert TINY.replace(pos_scale=0.5).hash() != TINY.hash()
    assert TINY.replace(mlp=False).hash() != TINY.hash()


def test_pos_scale_scales_the_sinusoids_only():
    a = make(TINY.replace(pos_encoding="sinusoidal"))
    b = make(TINY.replace(pos_encoding="sinusoidal", pos_scale=0.25))
    torch.testing.assert_close(b.pos_embed.W_pos, 0.25 * a.pos_embed.W_pos)
    with pytest.raises(ValueError, match="pos_scale"):
        TINY.replace(pos_scale=0.0)


def test_cosine_temperature_starts_as_qk_norm():
    import math

    model = make(TINY.replace(attn_score="cosine"))
    tau = model.blocks[0].attn.score_fn.log_tau.exp()
    n = TINY.n_ctx
    torch.testing.assert_close(tau, torch.full_like(tau, math.log2(n * n - n)))


def test_lstm_is_initialised_to_train():
    cfg = TINY.replace(architecture="lstm", tied_embeddings=False, vocab_size=4000)
    torch.manual_seed(0)
    model = build_model(cfg)
    d = cfg.d_model
    assert 0.8 < model.embed.W_E.std().item() < 1.2  # nn.Embedding's N(0, 1)
    bias = model.layers[0].lstm.bias_ih_l0
    assert torch.all(bias[d : 2 * d] == 1.0)  # forget gate opens at the start


@pytest.mark.parametrize(
    "switches",
    [
        Switches(causal_mask=False),
        Switches(residual=False),
        Switches(layernorm=False),
        Switches(pos_encoding=False),
        Switches(head_ablations=(HeadAblation(1, 0, "zero"),)),
        Switches(head_ablations=(HeadAblation(0, 1, "mean"),)),
    ],
    ids=["no_mask", "no_residual", "no_ln", "no_pos", "zero_head", "mean_head"],
)
def test_each_inference_switch_changes_the_computation(switches: Switches) -> None:
    model = make(TINY)
    assert (model(tokens(), switches=switches) - model(tokens())).abs().max() > 1e-4


def test_head_ablation_sets_z_of_that_head_only() -> None:
    model = make(TINY)
    sw = Switches(head_ablations=(HeadAblation(1, 0, "zero"),))
    _, clean = model.run_with_cache(tokens(), names=["blocks.1.attn.hook_z"])
    captured = {}

    def grab_result(x: torch.Tensor, hook) -> None:
        captured["result"] = x

    model.run_with_hooks(
        tokens(), fwd_hooks=[("blocks.1.attn.hook_result", grab_result)], switches=sw
    )
    assert torch.all(captured["result"][:, :, 0] == 0)
    assert captured["result"][:, :, 1].abs().sum() > 0
    assert clean["blocks.1.attn.hook_z"][:, :, 0].abs().sum() > 0


def test_residual_bypass_equals_config_without_residual() -> None:
    base, no_res = make(TINY), make(TINY.replace(residual=False))
    no_res.load_state_dict(base.state_dict())
    torch.testing.assert_close(base(tokens(), switches=Switches(residual=False)), no_res(tokens()))


def test_sinusoidal_table_matches_the_formula() -> None:
    from model.embed import sinusoidal_table

    table = sinusoidal_table(10, 8)
    pos, i = 7, 2  # dims 4 and 5 use frequency 10000^(-4/8)
    assert table[pos, 2 * i].item() == pytest.approx(
        torch.sin(torch.tensor(pos / 10000 ** (4 / 8))).item(), abs=1e-6
    )
    assert table[pos, 2 * i + 1].item() == pytest.approx(
        torch.cos(torch.tensor(pos / 10000 ** (4 / 8))).item(), abs=1e-6
    )


def test_score_functions_follow_their_definitions() -> None:
    model = make(TINY.replace(attn_score="cosine"))
    names = [
        "blocks.0.attn.hook_q",
        "blocks.0.attn.hook_k",
        "blocks.0.attn.hook_raw_scores",
        "blocks.0.attn.hook_scaled_scores",
    ]
    _, c = model.run_with_cache(tokens(), names=names)
    q, k = c["blocks.0.attn.hook_q"].transpose(1, 2), c["blocks.0.attn.hook_k"].transpose(1, 2)
    cos = F.cosine_similarity(q.unsqueeze(-2), k.unsqueeze(-3), dim=-1)
    torch.testing.assert_close(c["blocks.0.attn.hook_raw_scores"], cos, atol=ATOL, rtol=0)
    tau = model.blocks[0].attn.score_fn.log_tau.exp()[:, None, None]
    torch.testing.assert_close(c["blocks.0.attn.hook_scaled_scores"], cos * tau, atol=ATOL, rtol=0)

    scaled = make(TINY)
    _, c = scaled.run_with_cache(tokens(), names=names)
    q, k = c["blocks.0.attn.hook_q"].transpose(1, 2), c["blocks.0.attn.hook_k"].transpose(1, 2)
    torch.testing.assert_close(
        c["blocks.0.attn.hook_raw_scores"], q @ k.transpose(-1, -2), atol=ATOL, rtol=0
    )
    torch.testing.assert_close(
        c["blocks.0.attn.hook_scaled_scores"], q @ k.transpose(-1, -2) / 4.0, atol=ATOL, rtol=0
    )


# --- generation --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["baseline", "learned_pos", "additive", "no_causal_mask"])
def test_generation_with_cache_equals_without_past_the_context_length(name: str) -> None:
    model = make(VARIANTS[name])
    prompt = tokens(batch=2, n=5)
    n_new = TINY.n_ctx + 6  # crosses the context length: the sliding window takes over
    s = GenerationSettings(max_new_tokens=n_new, temperature=0.0)
    cached = generate(model, prompt, s)
    plain = generate(
        model, prompt, GenerationSettings(max_new_tokens=n_new, temperature=0.0, use_cache=False)
    )
    assert cached.shape == (2, n_new)
    assert torch.equal(cached, plain)


def test_sampling_is_seeded_and_top_k_one_is_greedy() -> None:
    model = make(TINY)
    prompt = tokens(batch=1, n=4)
    a = generate(model, prompt, GenerationSettings(max_new_tokens=8, seed=5))
    b = generate(model, prompt, GenerationSettings(max_new_tokens=8, seed=5))
    assert torch.equal(a, b)
    greedy = generate(model, prompt, GenerationSettings(max_new_tokens=8, temperature=0.0))
    top1 = generate(model, prompt, GenerationSettings(max_new_tokens=8, top_k=1, seed=9))
    assert torch.equal(greedy, top1)


def test_top_p_keeps_the_nucleus_only() -> None:
    from model.generate import sample_next

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    g = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, GenerationSettings(top_p=0.7), g).item() for _ in range(300)}
    assert draws == {0, 1}


def test_hooks_capture_generated_tokens_attention_equal_to_recomputation() -> None:
    model = make(TINY)
    prompt = tokens(batch=1, n=4)
    patterns = []
    with model.hooks([("blocks.1.attn.hook_pattern", lambda x, h: patterns.append(x.clone()))]):
        out = generate(model, prompt, GenerationSettings(max_new_tokens=5, temperature=0.0))
    assert [p.shape[-2:] for p in patterns] == [(4, 4), (1, 5), (1, 6), (1, 7), (1, 8)]
    full_seq = torch.cat([prompt, out[:, :4]], dim=1)
    _, cache = model.run_with_cache(full_seq, names=["blocks.1.attn.hook_pattern"])
    torch.testing.assert_close(
        patterns[-1][0, :, 0], cache["blocks.1.attn.hook_pattern"][0, :, -1], atol=ATOL, rtol=0
    )


def test_lstm_cache_equals_recomputation_and_generates() -> None:
    model = make(TINY.replace(architecture="lstm"))
    toks = tokens(batch=2, n=10)
    cache = model.new_cache()
    steps = [model(toks[:, :4], kv_cache=cache)] + [
        model(toks[:, i : i + 1], kv_cache=cache) for i in range(4, 10)
    ]
    torch.testing.assert_close(torch.cat(steps, 1), model(toks), atol=ATOL, rtol=0)
    assert generate(model, toks[:, :3], GenerationSettings(max_new_tokens=4, seed=0)).shape == (
        2,
        4,
    )
