"""AdamW with weight-decay groups, and the warmup + cosine learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from training.config import TrainConfig


def _is_bias(name: str) -> bool:
    # per-head biases such as b_Q [head, d_head] are 2-D, so dimension alone does not tell
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "b" or leaf.startswith(("b_", "bias"))


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """Decay matrices (attention, MLP, embeddings); never biases, LayerNorm gains or temperatures:
    pulling those toward 0 changes what the layer computes rather than regularising it."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # lists shared tensors once
        if p.requires_grad:
            (decay if p.dim() >= 2 and not _is_bias(name) else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # foreach: one kernel over all tensors, faster on CPU for many small parameters
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), foreach=True)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to cfg.lr over warmup_steps, then a cosine or linear decay to min_lr at
    max_steps. Both average the same lr; cosine stays near the peak early and flattens out near
    min_lr, linear falls at one rate and keeps a higher lr late in the run."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if step >= cfg.max_steps:
        return cfg.min_lr
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    if cfg.decay == "linear":
        return cfg.lr + progress * (cfg.min_lr - cfg.lr)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, Tensor]:
    """AdamW's state as flat named tensors, for a safetensors file (no pickle)."""
    out: dict[str, Tensor] = {}
    for index, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{index}.{key}"] = value if isinstance(value, Tensor) else torch.tensor(value)
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, tensors: dict[str, Tensor]) -> None:
    state_dict = opt.state_dict()
    state: dict[int, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    state_dict["state"] = state
    opt.load_state_dict(state_dict)
