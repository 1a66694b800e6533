"""Inference-time switches: ablations applied to a trained model for one forward pass.

They are an argument of the forward pass, never module state, so two app sessions sharing one
cached model can never see each other's switches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AblationMode = Literal["zero", "mean"]


@dataclass(frozen=True)
class HeadAblation:
    """Knock out one head: its output z is replaced by zeros or by its mean over positions."""

    layer: int
    head: int
    mode: AblationMode = "zero"


@dataclass(frozen=True)
class Switches:
    """What to switch off at inference. The default changes nothing."""

    causal_mask: bool = True  # False: every position sees every other, future ones included
    residual: bool = (
        True  # False: each sublayer's output replaces the stream instead of adding to it
    )
    layernorm: bool = True  # False: every LayerNorm becomes the identity
    pos_encoding: bool = True  # False: positional embeddings are not added
    head_ablations: tuple[HeadAblation, ...] = field(default_factory=tuple)  # heads to knock out

    @property
    def is_default(self) -> bool:
        return self == Switches()

    def ablated_heads(self, layer: int) -> tuple[HeadAblation, ...]:
        return tuple(a for a in self.head_ablations if a.layer == layer)


NO_SWITCHES = Switches()
