"""What every language model here shares, transformer or LSTM: hooks, sampling, sizes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jaxtyping import Int
from torch import Tensor

from model.config import ModelConfig
from model.generate import GenerationSettings, generate_stream
from model.hooks import HookedRoot


class LanguageModelBase(HookedRoot):
    cfg: ModelConfig

    @property
    def n_ctx(self) -> int:
        return self.cfg.n_ctx

    def generate(
        self, tokens: Int[Tensor, "batch pos"], settings: GenerationSettings, **kwargs: Any
    ) -> Iterator[Int[Tensor, " batch"]]:
        """Stream sampled tokens through the model's cache; see `model.generate.generate_stream`."""
        return generate_stream(self, tokens, settings, **kwargs)

    @property
    def has_attention(self) -> bool:
        """Whether attention hooks (patterns, scores, q/k/v) exist: False for the LSTM."""
        return self.cfg.architecture != "lstm"

    def stream_hooks(self) -> list[str]:
        """The residual stream as hook names: what enters the first layer, then what leaves each
        layer (n_layers + 1 entries). Each architecture says which of its hook points these are."""
        raise NotImplementedError

    def stream_labels(self) -> list[str]:
        """Row labels for `stream_hooks`: "embed", then one per layer."""
        raise NotImplementedError

    def n_params(self) -> int:
        """Distinct parameters: tensors shared across layers count once."""
        return sum(p.numel() for p in self.parameters())
