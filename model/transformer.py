"""The decoder-only transformer: embeddings, blocks, final LayerNorm, unembedding."""

from __future__ import annotations

import math

import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from model.block import Block
from model.config import ModelConfig
from model.embed import Embed, PosEmbed, Unembed
from model.hook_names import hook_name
from model.hooks import HookPoint
from model.kv_cache import KVCache
from model.layernorm import LayerNorm
from model.lm_base import LanguageModelBase
from model.switches import NO_SWITCHES, Switches


class Transformer(LanguageModelBase):
    def __init__(self, cfg: ModelConfig, init: bool = True) -> None:
        """init=False skips the random initialisation (see `model.build.build_meta_model`)."""
        super().__init__()
        if cfg.architecture != "transformer":
            raise ValueError(
                f"Transformer needs architecture='transformer', got {cfg.architecture!r}"
            )
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.hook_embed = HookPoint()  # [batch, pos, d_model]  token embeddings
        self.pos_embed = PosEmbed(cfg) if cfg.pos_encoding != "none" else None
        self.hook_pos_embed = (
            HookPoint() if self.pos_embed is not None else None
        )  # [batch, pos, d_model]
        self.blocks = nn.ModuleList(Block(cfg, layer) for layer in range(cfg.n_layers))
        # the original post-LN transformer ends on a LayerNorm already; pre-LN needs a final one
        self.ln_final = LayerNorm(cfg) if cfg.norm == "pre" else None
        self.unembed = Unembed(cfg, self.embed)
        if init:
            self.init_weights()
        if cfg.share_layers:
            for block in self.blocks[1:]:
                _share_parameters(self.blocks[0], block)
        self.setup_hooks()

    def init_weights(self) -> None:
        """GPT-2's scheme: N(0, 0.02), output projections shrunk by sqrt(2 * n_layers).

        Draws from torch's global generator, so `torch.manual_seed` before construction fixes it.
        """
        for name, p in self.named_parameters():
            if name.endswith("w_score"):
                # the additive score's output vector: unit-scale logits from tanh's [-1, 1] range
                nn.init.normal_(p, std=1.0 / math.sqrt(self.cfg.d_head))
            elif p.dim() >= 2:  # biases stay 0, LayerNorm gains 1, temperatures as initialised
                std = 0.02
                if name.endswith(("W_O", "W_out")):
                    std /= math.sqrt(2 * self.cfg.n_layers)
                nn.init.normal_(p, std=std)

    def forward(
        self,
        tokens: Int[Tensor, "batch pos"],
        attention_mask: Bool[Tensor, "batch pos"] | None = None,
        switches: Switches = NO_SWITCHES,
        kv_cache: KVCache | None = None,
    ) -> Float[Tensor, "batch pos vocab"]:
        """Logits for every position.

        attention_mask: True for real tokens; pad sequences on the right so positions stay aligned.
        kv_cache: keys/values of earlier positions, extended in place (see `model.generate`).
        """
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [batch, pos], got shape {tuple(tokens.shape)}")
        batch, n_pos = tokens.shape
        offset = kv_cache.length if kv_cache is not None else 0
        if offset + n_pos > self.cfg.n_ctx:
            raise ValueError(
                f"{offset + n_pos} positions exceed the context length {self.cfg.n_ctx}"
            )
        if attention_mask is not None and kv_cache is not None:
            raise ValueError(
                "attention_mask with a KV cache is not supported: decode unpadded batches"
            )
        if attention_mask is not None and attention_mask.shape != tokens.shape:
            raise ValueError(
                f"attention_mask {tuple(attention_mask.shape)} != tokens {tuple(tokens.shape)}"
            )

        x = self.embed(tokens)
        if self.cfg.scale_embed:
            x = x * math.sqrt(self.cfg.d_model)
        x = self.hook_embed(x)
        if self.pos_embed is not None and switches.pos_encoding:
            x = x + self.hook_pos_embed(self.pos_embed(batch, n_pos, offset))
        if self.training and self.cfg.dropout:
            x = F.dropout(x, self.cfg.dropout)
        for layer, block in enumerate(self.blocks):
            kv = kv_cache.layers[layer] if kv_cache is not None else None
            x = block(x, switches, attention_mask, kv)
        if self.ln_final is not None:
            x = self.ln_final(x, enabled=switches.layernorm)
        return self.unembed(x)

    def new_cache(self, batch: int = 1) -> KVCache:
        return KVCache.empty(self.cfg.n_layers)

    def stream_hooks(self) -> list[str]:
        # resid_post of block i is resid_pre of block i + 1: one name per point of the stream
        n = self.cfg.n_layers
        return [hook_name("resid_pre", 0)] + [hook_name("resid_post", i) for i in range(n)]

    def stream_labels(self) -> list[str]:
        return ["embed"] + [f"after block {i}" for i in range(self.cfg.n_layers)]


def _share_parameters(source: nn.Module, target: nn.Module) -> None:
    """Make every parameter of `target` the very same tensor as `source`'s (hook points stay distinct)."""
    for name, param in source.named_parameters():
        owner_path, _, attr = name.rpartition(".")
        owner = target.get_submodule(owner_path) if owner_path else target
        setattr(owner, attr, param)
