"""An LSTM language model with the transformer's interface: the recurrent baseline of question 1.

Same embedding and unembedding sizes as the transformer; one `nn.LSTM` per layer so each layer's
hidden states pass through a hook point. Its "cache" is the recurrent state, so `generate_stream`
decodes it one token at a time exactly as it does the transformer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from model.config import ModelConfig
from model.embed import Embed, Unembed
from model.hook_names import hook_name
from model.hooks import HookPoint
from model.lm_base import LanguageModelBase
from model.switches import NO_SWITCHES, Switches


@dataclass
class LSTMState:
    """(h, c) per layer, each [1, batch, d_model]; `length` counts the tokens consumed."""

    layers: list[tuple[Tensor, Tensor] | None] = field(default_factory=list)
    length: int = 0


class LSTMLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(cfg.d_model, cfg.d_model, batch_first=True)
        self.hook_hidden = (
            HookPoint()
        )  # [batch, pos, d_model]  the layer's hidden state at each step

    def forward(
        self, x: Float[Tensor, "batch pos d_model"], state: tuple[Tensor, Tensor] | None
    ) -> tuple[Float[Tensor, "batch pos d_model"], tuple[Tensor, Tensor]]:
        out, new_state = self.lstm(x, state)
        return self.hook_hidden(out), new_state


class LSTMLanguageModel(LanguageModelBase):
    def __init__(self, cfg: ModelConfig, init: bool = True) -> None:
        """init=False skips the random initialisation (see `model.build.build_meta_model`)."""
        super().__init__()
        if cfg.architecture != "lstm":
            raise ValueError(
                f"LSTMLanguageModel needs architecture='lstm', got {cfg.architecture!r}"
            )
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.hook_embed = HookPoint()  # [batch, pos, d_model]
        self.layers = nn.ModuleList(LSTMLayer(cfg) for _ in range(cfg.n_layers))
        self.unembed = Unembed(cfg, self.embed)
        if init:
            self.init_weights()
        self.setup_hooks()

    def init_weights(self) -> None:
        """What a practitioner gets from torch's layers, plus the forget-gate bias of 1
        (Jozefowicz et al., 2015): embeddings N(0, 1) as nn.Embedding, an untied output map
        U(+-1/sqrt(d)) as nn.Linear, LSTM weights as nn.LSTM initialises them. (A 0.02-std tied
        embedding, GPT-2's choice, leaves a sigmoid/tanh network on the unigram plateau.)"""
        d = self.cfg.d_model
        for name, p in self.named_parameters():
            if name.startswith("embed") and p.dim() == 2:
                nn.init.normal_(p, std=1.0 / math.sqrt(d) if self.cfg.tied_embeddings else 1.0)
            elif name.startswith("unembed") and p.dim() == 2:
                nn.init.uniform_(p, -1.0 / math.sqrt(d), 1.0 / math.sqrt(d))
            elif name.startswith("unembed"):
                nn.init.zeros_(p)
        for layer in self.layers:
            for name, p in layer.lstm.named_parameters():
                if name.startswith("bias_ih"):  # gates are ordered input, forget, cell, output
                    with torch.no_grad():
                        p[d : 2 * d].fill_(1.0)

    def forward(
        self,
        tokens: Int[Tensor, "batch pos"],
        attention_mask: Bool[Tensor, "batch pos"] | None = None,
        switches: Switches = NO_SWITCHES,
        kv_cache: LSTMState | None = None,
    ) -> Float[Tensor, "batch pos vocab"]:
        """Logits for every position. attention_mask is accepted for interface parity: right
        padding never affects earlier positions of a recurrent model. Switches do not apply."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [batch, pos], got shape {tuple(tokens.shape)}")
        x = self.hook_embed(self.embed(tokens))
        if self.training and self.cfg.dropout:
            x = F.dropout(x, self.cfg.dropout)
        if kv_cache is not None and not kv_cache.layers:
            kv_cache.layers = [None] * len(self.layers)
        for i, layer in enumerate(self.layers):
            state = kv_cache.layers[i] if kv_cache is not None else None
            x, new_state = layer(x, state)
            if kv_cache is not None:
                kv_cache.layers[i] = new_state
        if kv_cache is not None:
            kv_cache.length += tokens.shape[1]
        return self.unembed(x)

    def new_cache(self, batch: int = 1) -> LSTMState:
        return LSTMState()

    def stream_hooks(self) -> list[str]:
        # no residual stream: the embedding, then each layer's hidden states play its part
        return [hook_name("embed")] + [hook_name("hidden", i) for i in range(self.cfg.n_layers)]

    def stream_labels(self) -> list[str]:
        return ["embed"] + [f"after LSTM layer {i}" for i in range(self.cfg.n_layers)]
