"""Keys and values of the positions already processed, so decoding one token costs one position."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

KV = Float[Tensor, "batch pos head d_head"]  # this call's positions
KVAll = Float[Tensor, "batch k_pos head d_head"]  # every position so far


@dataclass
class LayerKV:
    k: KVAll | None = None
    v: KVAll | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[1]

    def extend(self, k: KV, v: KV) -> tuple[KVAll, KVAll]:
        """Append this call's keys and values; returns the keys and values of every position so far."""
        if self.k is None or self.v is None:
            self.k, self.v = k, v
        else:
            self.k, self.v = torch.cat([self.k, k], dim=1), torch.cat([self.v, v], dim=1)
        return self.k, self.v


@dataclass
class KVCache:
    """One LayerKV per layer. Forward passes given a cache read and extend it in place."""

    layers: list[LayerKV] = field(default_factory=list)

    @classmethod
    def empty(cls, n_layers: int) -> KVCache:
        return cls([LayerKV() for _ in range(n_layers)])

    @property
    def length(self) -> int:
        return self.layers[0].length if self.layers else 0
