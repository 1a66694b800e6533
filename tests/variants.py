"""Tiny configurations of every architecture switch, for tests parametrized over them."""

from __future__ import annotations

from model.config import ModelConfig

TINY = ModelConfig(vocab_size=23, n_ctx=16, d_model=32, n_layers=2, n_heads=2, d_head=16, d_mlp=64)

VARIANTS: dict[str, ModelConfig] = {
    "baseline": TINY,
    "no_residual": TINY.replace(residual=False),
    "no_causal_mask": TINY.replace(causal_mask=False),
    "shared_layers": TINY.replace(share_layers=True),
    "post_ln": TINY.replace(norm="post"),
    "no_ln": TINY.replace(norm="none"),
    "learned_pos": TINY.replace(pos_encoding="learned"),
    "no_pos": TINY.replace(pos_encoding="none"),
    "dot": TINY.replace(attn_score="dot"),
    "additive": TINY.replace(attn_score="additive"),
    "cosine": TINY.replace(attn_score="cosine"),
    "tied_no_bias": TINY.replace(tied_embeddings=True, bias=False),
    "exact_gelu": TINY.replace(gelu="exact"),
    "attention_only": TINY.replace(mlp=False),
}
CAUSAL_VARIANTS = {k: v for k, v in VARIANTS.items() if v.causal_mask}
