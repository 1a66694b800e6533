"""Hook points: every documented name with its shape, scoped installation, clear errors."""

from __future__ import annotations

import threading

import pytest
import torch

from model.build import build_model
from model.config import ModelConfig
from model.hook_names import (
    ATTENTION_HOOKS,
    BLOCK_HOOKS,
    hook_name,
    layernorm_hook,
    pattern_hooks,
)
from tests.variants import TINY, VARIANTS

B, P = 2, 9


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    h, m, d, f = cfg.n_heads, cfg.d_model, cfg.d_head, cfg.d_mlp
    shapes = {"hook_embed": (B, P, m)}
    if cfg.pos_encoding != "none":
        shapes["hook_pos_embed"] = (B, P, m)
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}"
        shapes |= {
            f"{b}.hook_{n}": (B, P, m)
            for n in ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")
            if n != "mlp_out" or cfg.mlp  # an attention-only block has no MLP
        }
        shapes |= {f"{b}.attn.hook_{n}": (B, P, h, d) for n in "qkvz"}
        shapes |= {
            f"{b}.attn.hook_{n}": (B, h, P, P)
            for n in ("raw_scores", "scaled_scores", "attn_scores", "pattern")
        }
        shapes[f"{b}.attn.hook_result"] = (B, P, h, m)
        if cfg.mlp:
            shapes[f"{b}.mlp.hook_pre"] = shapes[f"{b}.mlp.hook_post"] = (B, P, f)
        if cfg.norm != "none":
            for ln in ("ln1", "ln2") if cfg.mlp else ("ln1",):
                shapes |= {f"{b}.{ln}.hook_mean": (B, P), f"{b}.{ln}.hook_std": (B, P)}
                shapes |= {
                    f"{b}.{ln}.hook_scale": (B, P, 1),
                    f"{b}.{ln}.hook_normalized": (B, P, m),
                }
    if cfg.norm == "pre":
        shapes |= {"ln_final.hook_mean": (B, P), "ln_final.hook_std": (B, P)}
        shapes |= {"ln_final.hook_scale": (B, P, 1), "ln_final.hook_normalized": (B, P, m)}
    return shapes


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_documented_hook_exists_with_its_shape(name: str) -> None:
    cfg = VARIANTS[name]
    model = build_model(cfg).eval()
    _, cache = model.run_with_cache(torch.randint(0, cfg.vocab_size, (B, P)))
    assert {k: tuple(v.shape) for k, v in cache.items()} == expected_shapes(cfg)


def test_layernorm_statistics_are_those_of_its_input() -> None:
    model = build_model(TINY).eval()
    _, c = model.run_with_cache(
        torch.randint(0, 23, (B, P)),
        names=[
            "blocks.1.hook_resid_mid",
            "blocks.1.ln2.hook_mean",
            "blocks.1.ln2.hook_std",
            "blocks.1.ln2.hook_normalized",
        ],
    )
    x = c["blocks.1.hook_resid_mid"]
    torch.testing.assert_close(c["blocks.1.ln2.hook_mean"], x.mean(-1))
    torch.testing.assert_close(c["blocks.1.ln2.hook_std"], x.std(-1, unbiased=False))
    torch.testing.assert_close(
        c["blocks.1.ln2.hook_normalized"], torch.nn.functional.layer_norm(x, (32,), eps=1e-5)
    )


def test_run_with_cache_caches_only_what_was_asked_and_detaches() -> None:
    model = build_model(TINY)
    _, cache = model.run_with_cache(
        torch.zeros(1, 4, dtype=torch.long), names=lambda n: n.endswith("hook_pattern")
    )
    assert sorted(cache) == ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"]
    assert not any(t.requires_grad for t in cache.values())


def test_replacement_takes_effect() -> None:
    model = build_model(TINY).eval()
    toks = torch.randint(0, 23, (B, P))
    zeroed = model.run_with_hooks(
        toks, fwd_hooks=[("blocks.1.hook_resid_post", lambda x, h: torch.zeros_like(x))]
    )
    # a zero stream through ln_final gives only the bias: every position, the same logits
    assert torch.allclose(zeroed, zeroed[:, :1].expand_as(zeroed))
    assert not torch.allclose(model(toks), zeroed)


def test_hooks_are_gone_after_an_exception() -> None:
    model = build_model(TINY).eval()
    calls = []

    def boom(x: torch.Tensor, hook) -> None:
        calls.append(hook.name)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.run_with_hooks(
            torch.zeros(1, 3, dtype=torch.long), fwd_hooks=[("blocks.0.hook_resid_pre", boom)]
        )
    model(torch.zeros(1, 3, dtype=torch.long))  # must not call boom again
    assert calls == ["blocks.0.hook_resid_pre"]
    assert not model.hook_dict["blocks.0.hook_resid_pre"].active


def test_unknown_hook_name_raises_and_suggests() -> None:
    model = build_model(TINY)
    with pytest.raises(KeyError, match=r"blocks\.0\.attn\.hook_pattern"):
        model.run_with_cache(
            torch.zeros(1, 3, dtype=torch.long), names=["blocks.0.attn.hook_patern"]
        )
    with pytest.raises(KeyError, match="ln_final"):  # post-LN has no final LayerNorm
        build_model(TINY.replace(norm="post")).run_with_cache(
            torch.zeros(1, 3, dtype=torch.long), names=["ln_final.hook_scale"]
        )


def test_hooks_in_one_thread_are_invisible_to_another() -> None:
    """Streamlit serves each session from its own thread, sharing one cached model."""
    model = build_model(TINY).eval()
    seen_in_other_thread = []
    inside = threading.Event()
    release = threading.Event()

    def hook(x: torch.Tensor, h) -> None:
        inside.set()
        release.wait(5)

    def other() -> None:
        inside.wait(5)
        seen_in_other_thread.append(model.hook_dict["blocks.0.hook_resid_pre"].active)
        release.set()

    t = threading.Thread(target=other)
    t.start()
    model.run_with_hooks(
        torch.zeros(1, 3, dtype=torch.long), fwd_hooks=[("blocks.0.hook_resid_pre", hook)]
    )
    t.join()
    assert seen_in_other_thread == [False]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_hook_names_made_by_helpers_exist_in_every_variant(name: str) -> None:
    """`hook_name` and the model's stream hooks name real hook points: callers never spell them."""
    cfg = VARIANTS[name]
    model = build_model(cfg)
    for layer in range(cfg.n_layers):
        for kind in ATTENTION_HOOKS + BLOCK_HOOKS:
            # an attention-only block has no MLP, so no MLP output and no ln2 before it
            assert (hook_name(kind, layer) in model.hook_dict) == (kind != "mlp_out" or cfg.mlp)
        if cfg.norm != "none":
            for ln in ("ln1", "ln2"):
                has = ln == "ln1" or cfg.mlp
                assert (layernorm_hook(ln, "mean", layer) in model.hook_dict) == has
    assert pattern_hooks(cfg.n_layers) == [hook_name("pattern", i) for i in range(cfg.n_layers)]
    assert len(model.stream_hooks()) == len(model.stream_labels()) == cfg.n_layers + 1
    assert all(n in model.hook_dict for n in model.stream_hooks())
    with pytest.raises(ValueError, match=r"unknown hook kind 'patern'; did you mean \['pattern'"):
        hook_name("patern", 0)


def test_the_lstm_names_its_hidden_states_as_its_stream() -> None:
    cfg = TINY.replace(architecture="lstm")
    model = build_model(cfg)
    assert not model.has_attention
    assert model.stream_hooks() == ["hook_embed"] + [
        hook_name("hidden", i) for i in range(cfg.n_layers)
    ]
    assert all(n in model.hook_dict for n in model.stream_hooks())
