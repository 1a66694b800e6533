"""Export payloads for the focused head and the layer x head grid: bytes ready for a download.

Thin wrappers over `viz.export` that add what only the app knows: the model, its config hash, the
prompt and the switches, recorded in the NPZ's metadata so a file names exactly what made it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from app_lib.capture import Capture
from app_lib.figures import Focus, grid_figure, head_figure
from model.config import ModelConfig
from model.switches import Switches
from viz.export import head_to_csv, to_html, to_npz, to_png, to_svg


@dataclass(frozen=True)
class ExportContext:
    model_name: str
    config: ModelConfig
    prompt: str  # the text the analysed tokens decode to
    switches: Switches


def metadata(ctx: ExportContext, cap: Capture) -> dict[str, Any]:
    return {
        "model": ctx.model_name,
        "config_hash": ctx.config.hash(),
        "config": ctx.config.to_dict(),
        "prompt": ctx.prompt,
        "token_ids": [int(i) for i in cap.ids],
        "token_strings": list(cap.tokens),
        "switches": dataclasses.asdict(ctx.switches),
    }


def npz_bytes(ctx: ExportContext, cap: Capture) -> bytes:
    """Every captured array (patterns, scores, q/k/v/z, stream, LN stats, losses...) + metadata."""
    return to_npz(cap.arrays(), metadata(ctx, cap))


def head_title(ctx: ExportContext, focus: Focus) -> str:
    return f"{ctx.model_name} · layer {focus.layer} head {focus.head}"


def head_png(ctx: ExportContext, cap: Capture, focus: Focus) -> bytes:
    assert cap.patterns is not None
    return to_png(cap.patterns[focus.layer, focus.head], cap.tokens, title=head_title(ctx, focus))


def head_svg(ctx: ExportContext, cap: Capture, focus: Focus) -> bytes:
    assert cap.patterns is not None
    return to_svg(cap.patterns[focus.layer, focus.head], cap.tokens, title=head_title(ctx, focus))


def head_html(ctx: ExportContext, cap: Capture, focus: Focus) -> str:
    fig = head_figure(cap, focus)
    fig.update_layout(title=head_title(ctx, focus))
    return to_html(fig)


def head_csv(cap: Capture, focus: Focus) -> str:
    assert cap.patterns is not None
    return head_to_csv(cap.patterns[focus.layer, focus.head], cap.tokens)


def grid_png(ctx: ExportContext, cap: Capture) -> bytes:
    assert cap.patterns is not None
    return to_png(cap.patterns, cap.tokens, title=f"{ctx.model_name} · attention patterns")


def grid_svg(ctx: ExportContext, cap: Capture) -> bytes:
    assert cap.patterns is not None
    return to_svg(cap.patterns, cap.tokens, title=f"{ctx.model_name} · attention patterns")


def grid_html(ctx: ExportContext, cap: Capture) -> str:
    fig = grid_figure(cap)
    fig.update_layout(title=f"{ctx.model_name} · attention patterns")
    return to_html(fig)
