"""LayerNorm whose statistics are visible: input mean and std, scale, normalized output."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from model.config import ModelConfig
from model.hooks import HookPoint, any_active


class LayerNorm(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.eps = cfg.ln_eps
        self.w = nn.Parameter(torch.ones(cfg.d_model))
        self.b = nn.Parameter(torch.zeros(cfg.d_model)) if cfg.bias else None
        self.hook_mean = HookPoint()  # [batch, pos]  mean of the input over d_model
        self.hook_std = HookPoint()  # [batch, pos]  standard deviation of the input (no eps)
        self.hook_scale = (
            HookPoint()
        )  # [batch, pos, 1]  sqrt(var + eps), what the input is divided by
        self.hook_normalized = HookPoint()  # [batch, pos, d_model]  before the affine map

    def forward(
        self, x: Float[Tensor, "batch pos d_model"], enabled: bool = True
    ) -> Float[Tensor, "batch pos d_model"]:
        if not enabled:  # the "no LayerNorm" inference switch
            return x
        hooks = (self.hook_mean, self.hook_std, self.hook_scale, self.hook_normalized)
        if not any_active(*hooks):
            return F.layer_norm(x, x.shape[-1:], self.w, self.b, self.eps)
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        self.hook_mean(mean.squeeze(-1))
        self.hook_std(var.sqrt().squeeze(-1))
        scale = self.hook_scale((var + self.eps).sqrt())
        normalized = self.hook_normalized((x - mean) / scale)
        if self.b is None:
            return normalized * self.w
        return torch.addcmul(self.b, normalized, self.w)
