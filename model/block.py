"""One transformer block: attention then MLP, with the residual and LayerNorm placement switches."""

from __future__ import annotations

import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from model.attention import Attention
from model.config import ModelConfig
from model.hooks import HookPoint
from model.kv_cache import LayerKV
from model.layernorm import LayerNorm
from model.mlp import MLP
from model.switches import Switches, causal_mask_on

Resid = Float[Tensor, "batch pos d_model"]


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.layer = layer
        self.ln1 = LayerNorm(cfg) if cfg.norm != "none" else None
        self.attn = Attention(cfg)
        self.ln2 = LayerNorm(cfg) if cfg.norm != "none" and cfg.mlp else None
        self.mlp = MLP(cfg) if cfg.mlp else None  # None: an attention-only block
        self.hook_resid_pre = HookPoint()  # [batch, pos, d_model]  the stream entering the block
        self.hook_attn_out = HookPoint()  # [batch, pos, d_model]  what attention writes
        self.hook_resid_mid = HookPoint()  # [batch, pos, d_model]  between attention and MLP
        if cfg.mlp:  # an attention-only block has no MLP output to hook
            self.hook_mlp_out = HookPoint()  # [batch, pos, d_model]  what the MLP writes
        self.hook_resid_post = HookPoint()  # [batch, pos, d_model]  the stream leaving the block

    def forward(
        self,
        x: Resid,
        switches: Switches,
        key_mask: Bool[Tensor, "batch k_pos"] | None = None,
        kv: LayerKV | None = None,
    ) -> Resid:
        residual = self.cfg.residual and switches.residual
        ln_on = switches.layernorm
        pre = self.cfg.norm == "pre"
        post = self.cfg.norm == "post"
        causal = causal_mask_on(self.cfg, switches)
        drop = self.cfg.dropout if self.training else 0.0

        def norm(ln: LayerNorm | None, t: Resid) -> Resid:
            return ln(t, enabled=ln_on) if ln is not None else t

        x = self.hook_resid_pre(x)
        attn_in = norm(self.ln1, x) if pre else x
        a = self.attn(attn_in, causal, key_mask, kv, switches.ablated_heads(self.layer))
        a = self.hook_attn_out(F.dropout(a, drop) if drop else a)
        mid = x + a if residual else a
        mid = self.hook_resid_mid(norm(self.ln1, mid) if post else mid)
        if self.mlp is None:
            return self.hook_resid_post(mid)

        mlp_in = norm(self.ln2, mid) if pre else mid
        m = self.mlp(mlp_in)
        m = self.hook_mlp_out(F.dropout(m, drop) if drop else m)
        out = mid + m if residual else m
        return self.hook_resid_post(norm(self.ln2, out) if post else out)
