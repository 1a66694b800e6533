"""The attention-only switch (ModelConfig.mlp): forward, hooks, KV cache, checkpoints, interp."""

from __future__ import annotations

import pytest
import torch

from model.build import build_model
from model.checkpoint import load_checkpoint, save_checkpoint
from model.config import ModelConfig
from model.generate import GenerationSettings, generate
from model.hook_names import hook_name
from model.tokenizers import CharTokenizer

TINY = ModelConfig(vocab_size=11, n_ctx=16, d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32)


@pytest.fixture(params=[True, False], ids=["mlp", "attention_only"])
def cfg(request: pytest.FixtureRequest) -> ModelConfig:
    return TINY.replace(mlp=request.param, pos_encoding="learned")


def test_forward_shape_and_parameters(cfg: ModelConfig) -> None:
    torch.manual_seed(0)
    model = build_model(cfg)
    tokens = torch.randint(0, cfg.vocab_size, (3, 10))
    assert model(tokens).shape == (3, 10, cfg.vocab_size)
    names = [n for n, _ in model.named_parameters()]
    assert any(".mlp." in n for n in names) == cfg.mlp
    assert any(".ln2." in n for n in names) == cfg.mlp


def test_attention_only_block_is_attention_plus_residual() -> None:
    torch.manual_seed(0)
    model = build_model(TINY.replace(mlp=False)).eval()
    tokens = torch.randint(0, TINY.vocab_size, (2, 7))
    names = [hook_name(k, 0) for k in ("resid_pre", "attn_out", "resid_post")]
    _, cache = model.run_with_cache(tokens, names=names)
    torch.testing.assert_close(cache[names[2]], cache[names[0]] + cache[names[1]])


def test_hooks_exist_only_for_what_the_block_has(cfg: ModelConfig) -> None:
    model = build_model(cfg)
    assert (hook_name("mlp_out", 0) in model.hook_dict) == cfg.mlp
    assert hook_name("pattern", 1) in model.hook_dict
    if not cfg.mlp:
        with pytest.raises(KeyError):
            model.run_with_cache(torch.zeros(1, 3, dtype=torch.long), names=hook_name("mlp_out", 0))


def test_kv_cache_matches_full_forward(cfg: ModelConfig) -> None:
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    prompt = torch.randint(0, cfg.vocab_size, (1, 5))
    greedy = GenerationSettings(max_new_tokens=6, temperature=0.0)
    out = generate(model, prompt, greedy)
    # the same continuation, token by token, with no cache
    seq = prompt
    for _ in range(6):
        nxt = model(seq)[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], dim=1)
    assert torch.equal(out[:, -6:], seq[:, -6:])


def test_checkpoint_round_trip(cfg: ModelConfig, tmp_path) -> None:
    torch.manual_seed(2)
    model = build_model(cfg).eval()
    tok = CharTokenizer.train("abcdefghijk")
    save_checkpoint(tmp_path / "ckpt", model, tok, {"name": "t"})
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.config == cfg
    tokens = torch.randint(0, cfg.vocab_size, (2, 9))
    torch.testing.assert_close(loaded.model(tokens), model(tokens))


def test_config_hash_unchanged_for_models_with_mlp() -> None:
    assert TINY.hash() == TINY.replace(mlp=True).hash()
    assert TINY.hash() != TINY.replace(mlp=False).hash()


def test_interp_views_cope_without_mlp() -> None:
    from interp.attribution import stream_parts
    from interp.patching import every_component, patch_mlps
    from interp.stream_health import stream_health

    torch.manual_seed(3)
    model = build_model(TINY.replace(mlp=False, pos_encoding="learned")).eval()
    tokens = torch.randint(0, TINY.vocab_size, (8,))
    stream, logits, _ = stream_parts(model, tokens)
    assert not any(name.endswith("MLP") for name in stream.names)
    health = stream_health(model, tokens)
    assert not any(c.startswith("mlp") for c in health.components)
    assert not any("mlp_out" in s for s in every_component(model))
    from interp.patching import setup_from_predictions
    from interp.views import VIEWS_BY_KEY

    corrupted = tokens.clone()
    corrupted[2] = (corrupted[2] + 1) % TINY.vocab_size
    setup = setup_from_predictions(model, tokens, corrupted)
    with pytest.raises(ValueError, match="no MLP"):
        patch_mlps(model, setup, "denoising")
    assert "no MLP" in (VIEWS_BY_KEY["patch_mlps"].unavailable(model) or "")
    assert VIEWS_BY_KEY["patch_heads"].unavailable(model) is None
