"""Heads by name and the Grid's layer windows: what keeps the views usable at GPT-2's 12 layers x
12 heads and beyond, without Streamlit (the page's widgets are `ui.head_finder`).

The layer window keeps the Grid's figure near a small model's weight: every one of GPT-2 small's
144 panels at 64 positions is ~590k cells (2.2 MB of JSON at 146 tokens, seconds to draw), where
the shipped 4 x 4 model's grid is 65k; 24 panels are 98k (0.43 MB, as light as the 4 x 4 grid at
that prompt: `bench/bench_gpt2_browser.py` times the toggle beside it).
"""

from __future__ import annotations

import re

GRID_PANELS = 24  # most head panels the Grid draws at once (two layers of GPT-2's 12 heads)
# "L5H1", "l5 h1", "L5.1", "5/1": a layer and a head, in that order
_HEAD_NAME = re.compile(r"\s*[Ll]?\s*(\d+)\s*(?:[Hh.:/,\s]\s*)(\d+)\s*")


def parse_head(text: str, n_layers: int, n_heads: int) -> tuple[int, int] | str:
    """(layer, head) for a typed head name such as "L5H1", or a message saying what is wrong."""
    found = _HEAD_NAME.fullmatch(text)
    if found is None:
        return f"“{text.strip()}” is not a head name: type it as L5H1 (layer 5, head 1)"
    layer, head = int(found[1]), int(found[2])
    if layer >= n_layers or head >= n_heads:
        return (
            f"L{layer}H{head} is outside this model: layers 0-{n_layers - 1}, heads 0-{n_heads - 1}"
        )
    return layer, head


def layer_windows(n_layers: int, n_heads: int) -> list[tuple[int, int]]:
    """Consecutive (first, last) layer ranges of at most GRID_PANELS panels; one when all fit."""
    per = max(1, GRID_PANELS // max(1, n_heads))
    return [(lo, min(lo + per, n_layers) - 1) for lo in range(0, n_layers, per)]


def window_label(window: tuple[int, int]) -> str:
    lo, hi = window
    return f"layer {lo}" if lo == hi else f"layers {lo}-{hi}"
