"""Token embedding W_E, positional encodings (sinusoidal or learned W_pos) and unembedding W_U."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from model.config import ModelConfig


class Embed(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.vocab_size, cfg.d_model))  # [vocab, d_model]

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        # checked here, the one door every model's tokens come through: F.embedding says only
        # "index out of range in self" on the CPU, and on a GPU it is a device-side assert that
        # poisons the CUDA context. (On a GPU this costs a sync; the loss's .item() syncs anyway.)
        if tokens.is_floating_point() or tokens.dtype == torch.bool or tokens.is_complex():
            raise ValueError(f"token ids must be integers, got a {tokens.dtype} tensor")
        vocab = self.W_E.shape[0]
        if tokens.numel() and not tokens.is_meta:
            low, high = torch.aminmax(tokens)
            if low < 0 or high >= vocab:
                raise ValueError(
                    f"token ids must be in [0, {vocab}) (the model's vocabulary); "
                    f"got ids from {int(low)} to {int(high)}"
                )
        return F.embedding(tokens, self.W_E)


def sinusoidal_table(n_ctx: int, d_model: int) -> Float[Tensor, "pos d_model"]:
    """Vaswani et al.'s table: even dims sin(pos / 10000^(2i/d)), odd dims the matching cos."""
    pos = torch.arange(n_ctx, dtype=torch.float32)[:, None]
    freq = torch.exp(
        -math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model
    )
    table = torch.zeros(n_ctx, d_model)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table


class PosEmbed(nn.Module):
    """W_pos [pos, d_model]: a learned parameter, or a fixed sinusoidal buffer (not saved: derived)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.learned = cfg.pos_encoding == "learned"
        if self.learned:
            self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))
        else:
            table = torch.empty(cfg.n_ctx, cfg.d_model)  # on the default device
            # on the meta device (checking a checkpoint against its config) only the shape
            # matters, and the first arithmetic there imports torch's reference ops: ~2 s
            if not table.is_meta:
                table = sinusoidal_table(cfg.n_ctx, cfg.d_model) * cfg.pos_scale
            self.register_buffer("W_pos", table, persistent=False)

    def forward(
        self, batch: int, n_pos: int, offset: int = 0
    ) -> Float[Tensor, "batch pos d_model"]:
        return self.W_pos[offset : offset + n_pos].unsqueeze(0).expand(batch, -1, -1)


class Unembed(nn.Module):
    def __init__(self, cfg: ModelConfig, embed: Embed) -> None:
        super().__init__()
        self.embed = [embed]  # a list so the tied W_E is not registered twice as a submodule
        self.W_U_own = (
            None if cfg.tied_embeddings else nn.Parameter(torch.empty(cfg.d_model, cfg.vocab_size))
        )
        self.b_U = nn.Parameter(torch.zeros(cfg.vocab_size)) if cfg.bias else None

    @property
    def W_U(self) -> Float[Tensor, "d_model vocab"]:
        return self.embed[0].W_E.T if self.W_U_own is None else self.W_U_own

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos vocab"]:
        logits = x @ self.W_U
        return logits + self.b_U if self.b_U is not None else logits
