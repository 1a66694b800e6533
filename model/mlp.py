"""The position-wise MLP: W_in, GELU, W_out."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from model.config import ModelConfig
from model.hooks import HookPoint


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))  # [d_model, d_mlp]
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp)) if cfg.bias else None
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))  # [d_mlp, d_model]
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model)) if cfg.bias else None
        self.hook_pre = HookPoint()  # [batch, pos, d_mlp]  before the nonlinearity
        self.hook_post = HookPoint()  # [batch, pos, d_mlp]  after GELU
        self.approximate = "tanh" if cfg.gelu == "tanh" else "none"

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        pre = F.linear(x, self.W_in.T, self.b_in)
        post = self.hook_post(F.gelu(self.hook_pre(pre), approximate=self.approximate))
        return F.linear(post, self.W_out.T, self.b_out)
