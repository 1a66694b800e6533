"""Inference-time switches: ablations applied to a trained model for one forward pass.

They are an argument of the forward pass, never module state, so two app sessions sharing one
cached model can never see each other's switches.

Each switch is described once, on its field (`SwitchInfo` in the field's metadata): its label,
help text, short name, and the rule for when it can change a model. The app's sidebar, defaults,
Compare's labels and the export metadata and file names are all generated from these fields, so a
new switch is one field here plus the forward code that reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from model.config import ModelConfig

AblationMode = Literal["zero", "mean"]


@dataclass(frozen=True)
class SwitchInfo:
    """What the app says about one on/off switch."""

    label: str  # the checkbox label
    short: str  # in legends, titles and file names when switched off ("no-mask")
    help: str  # what switching it off does
    applies: Callable[[ModelConfig], bool]  # whether the trained model has the part it removes
    absent: str  # why it cannot change this model, shown when `applies` is False


def _switch(info: SwitchInfo) -> Any:
    return field(default=True, metadata={"switch": info})


@dataclass(frozen=True)
class HeadAblation:
    """Knock out one head: its output z is replaced by zeros or by its mean over positions."""

    layer: int
    head: int
    mode: AblationMode = "zero"

    @property
    def name(self) -> str:
        return f"L{self.layer}H{self.head}"


@dataclass(frozen=True)
class Switches:
    """What to switch off at inference. The default changes nothing."""

    causal_mask: bool = _switch(
        SwitchInfo(
            label="Causal mask",
            short="mask",
            help="Off: every position may attend to later ones, including the token it predicts.",
            applies=lambda cfg: cfg.causal_mask,
            absent="trained without a mask",
        )
    )
    residual: bool = _switch(
        SwitchInfo(
            label="Residual stream",
            short="residual",
            help="Off: each sublayer's output replaces the stream instead of adding to it.",
            applies=lambda cfg: cfg.residual,
            absent="trained without residual connections",
        )
    )
    layernorm: bool = _switch(
        SwitchInfo(
            label="LayerNorm",
            short="LN",
            help="Off: every LayerNorm becomes the identity.",
            applies=lambda cfg: cfg.norm != "none",
            absent="trained without LayerNorm",
        )
    )
    pos_encoding: bool = _switch(
        SwitchInfo(
            label="Positional encoding",
            short="pos",
            help="Off: positional embeddings are not added.",
            applies=lambda cfg: cfg.pos_encoding != "none",
            absent="trained without positional encoding",
        )
    )
    head_ablations: tuple[HeadAblation, ...] = field(default_factory=tuple)  # heads to knock out

    @property
    def is_default(self) -> bool:
        return self == Switches()

    def ablated_heads(self, layer: int) -> tuple[HeadAblation, ...]:
        return tuple(a for a in self.head_ablations if a.layer == layer)

    def off(self) -> list[str]:
        """Short names of what is switched off, e.g. ["mask", "L0H1"]; [] for the default."""
        names = [info.short for name, info in SWITCHES.items() if not getattr(self, name)]
        return names + [
            a.name + ("" if a.mode == "zero" else f" {a.mode}") for a in self.head_ablations
        ]

    def describe(self) -> str:
        """ "all on", or e.g. "−mask, −L0H1": for legends and titles."""
        off = self.off()
        return "all on" if not off else "−" + ", −".join(off)

    def slug(self) -> str:
        """For file names: "" for the default, else e.g. "_no-mask_no-L0H1"."""
        return "".join(f"_no-{name.replace(' ', '-')}" for name in self.off())

    def to_metadata(self) -> dict[str, Any]:
        """What an export records: every field, plus the short names of what was off."""
        return {**dataclasses.asdict(self), "off": self.off()}


# The on/off switches, from the fields' metadata: name -> SwitchInfo, in declaration order.
SWITCHES: dict[str, SwitchInfo] = {
    f.name: f.metadata["switch"] for f in dataclasses.fields(Switches) if "switch" in f.metadata
}
NO_SWITCHES = Switches()


def switch_applies(name: str, cfg: ModelConfig) -> bool:
    """Whether switch `name` can change a model of `cfg`: it must have attention (the LSTM has
    nothing to switch) and the part the switch removes."""
    return cfg.architecture == "transformer" and SWITCHES[name].applies(cfg)


def causal_mask_on(cfg: ModelConfig, switches: Switches) -> bool:
    """The one rule for whether a forward pass masks the future: the model was trained with a
    mask and the switch leaves it on. Attention, generation and the app's figures all use this."""
    return cfg.causal_mask and switches.causal_mask
