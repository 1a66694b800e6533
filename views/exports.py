"""Export payloads of the Explore views: bytes ready for a download, with names that say what made them.

Thin wrappers over `viz.export` that add what only the app knows: the model, its config hash, the
prompt and the switches. The switches are in the NPZ's metadata, in every file name
("baseline_no-mask_L1H2.png") and in every title, so a mask-off export never passes for a mask-on one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.capture import Capture
from model.config import ModelConfig
from model.switches import Switches
from views.explore import Focus, grid_figure, head_figure

# `viz.export` is imported inside each function: it loads matplotlib (~0.8 s), which the page
# needs only when a download button is clicked, not on its first load.


@dataclass(frozen=True)
class ExportContext:
    model_name: str
    config: ModelConfig
    prompt: str  # the text the analysed tokens decode to
    switches: Switches

    @property
    def stem(self) -> str:
        """File-name stem: the model and what was switched off ("baseline_no-mask")."""
        return f"{self.model_name}{self.switches.slug()}"

    def caption(self, extra: str = "") -> str:
        """What an exported image was made from, printed at its foot: the model and config, the
        switches, the prompt (its start, when long) and anything the view adds (a metric)."""
        switches = self.switches.describe() if not self.switches.is_default else "none"
        prompt = self.prompt if len(self.prompt) <= 240 else self.prompt[:239] + "…"
        parts = [
            f"{self.model_name} (config {self.config.hash()})",
            f"switched off: {switches}",
            *([extra] if extra else []),
            f"prompt: “{prompt}”",
        ]
        return " · ".join(parts)

    def title(self, what: str) -> str:
        """ "baseline · layer 1 head 2", or "baseline (−mask) · layer 1 head 2"."""
        model = self.model_name
        if not self.switches.is_default:
            model += f" ({self.switches.describe()})"
        return f"{model} · {what}"


def metadata(ctx: ExportContext, cap: Capture) -> dict[str, Any]:
    return {
        "model": ctx.model_name,
        "config_hash": ctx.config.hash(),
        "config": ctx.config.to_dict(),
        "prompt": ctx.prompt,
        "token_ids": [int(i) for i in cap.ids],
        "token_strings": list(cap.tokens),
        "switches": ctx.switches.to_metadata(),
        "causal_mask_applied": cap.causal,
    }


def npz_bytes(ctx: ExportContext, cap: Capture, focus: Focus | None = None) -> bytes:
    """Every captured array (patterns, scores, q/k/v/z, stream, LN stats, losses...) + metadata."""
    from viz.export import to_npz

    return to_npz(cap.arrays(), metadata(ctx, cap))


def head_title(ctx: ExportContext, focus: Focus) -> str:
    return ctx.title(f"layer {focus.layer} head {focus.head}")


def grid_title(ctx: ExportContext) -> str:
    return ctx.title("attention patterns")


def head_png(ctx: ExportContext, cap: Capture, focus: Focus) -> bytes:
    from viz.export import to_png

    assert cap.patterns is not None
    return to_png(
        cap.patterns[focus.layer, focus.head],
        cap.tokens,
        title=head_title(ctx, focus),
        caption=ctx.caption(),
    )


def head_svg(ctx: ExportContext, cap: Capture, focus: Focus) -> bytes:
    from viz.export import to_svg

    assert cap.patterns is not None
    return to_svg(
        cap.patterns[focus.layer, focus.head],
        cap.tokens,
        title=head_title(ctx, focus),
        caption=ctx.caption(),
    )


def head_html(ctx: ExportContext, cap: Capture, focus: Focus) -> str:
    from viz.export import to_html

    fig = head_figure(cap, focus)
    fig.update_layout(title=head_title(ctx, focus))
    return to_html(fig)


def head_csv(ctx: ExportContext, cap: Capture, focus: Focus) -> str:
    from viz.export import head_to_csv

    assert cap.patterns is not None
    return head_to_csv(cap.patterns[focus.layer, focus.head], cap.tokens)


def grid_png(ctx: ExportContext, cap: Capture, focus: Focus | None = None) -> bytes:
    from viz.export import to_png

    assert cap.patterns is not None
    return to_png(cap.patterns, cap.tokens, title=grid_title(ctx), caption=ctx.caption())


def grid_svg(ctx: ExportContext, cap: Capture, focus: Focus | None = None) -> bytes:
    from viz.export import to_svg

    assert cap.patterns is not None
    return to_svg(cap.patterns, cap.tokens, title=grid_title(ctx), caption=ctx.caption())


def grid_html(ctx: ExportContext, cap: Capture, focus: Focus | None = None) -> str:
    from viz.export import to_html

    fig = grid_figure(cap, knocked=[(a.layer, a.head) for a in ctx.switches.head_ablations])
    fig.update_layout(title=grid_title(ctx))
    return to_html(fig)
