"""Hook names the interpretability functions read, spelled once (TransformerLens's `get_act_name`).

Every name here is a hook point the model declares; `HookedRoot.resolve_names` raises on a typo,
so a drift between this file and `model/` fails loudly at the first call, never silently.
"""

from __future__ import annotations

EMBED = (
    "hook_embed"  # [batch, pos, d_model]  token embeddings (already times sqrt(d_model) if scaled)
)
POS_EMBED = "hook_pos_embed"  # [batch, pos, d_model]  positional embeddings
FINAL_LN_SCALE = "ln_final.hook_scale"  # [batch, pos, 1]  sqrt(var + eps) of the final LayerNorm


def resid_pre(layer: int) -> str:
    return f"blocks.{layer}.hook_resid_pre"  # [batch, pos, d_model]


def resid_post(layer: int) -> str:
    return f"blocks.{layer}.hook_resid_post"  # [batch, pos, d_model]


def attn_out(layer: int) -> str:
    return f"blocks.{layer}.hook_attn_out"  # [batch, pos, d_model]  all heads plus b_O


def mlp_out(layer: int) -> str:
    return f"blocks.{layer}.hook_mlp_out"  # [batch, pos, d_model]


def pattern(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_pattern"  # [batch, head, q_pos, k_pos]


def raw_scores(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_raw_scores"  # [batch, head, q_pos, k_pos]


def k(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_k"  # [batch, pos, head, d_head]


def v(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_v"  # [batch, pos, head, d_head]


def z(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_z"  # [batch, pos, head, d_head]  before W_O, before ablations


def result(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_result"  # [batch, pos, head, d_model]  after ablations


def ln_scale(layer: int, which: str) -> str:
    """`which` is "ln1" or "ln2": the block's LayerNorm before (pre-LN) or after (post-LN) a sublayer."""
    return f"blocks.{layer}.{which}.hook_scale"  # [batch, pos, 1]
