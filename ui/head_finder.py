"""The widgets that keep the views usable at GPT-2's 12 layers x 12 heads and beyond: a head found
by typing its name ("L5H1"), and the Grid shown a window of layers at a time (the rules are
`views.head_names`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from views.head_names import GRID_PANELS, layer_windows, parse_head, window_label
from views.registry import ViewInput

__all__ = ["GRID_PANELS", "grid_layers", "head_finder"]

FIND_KEY, FIND_ERROR_KEY, WINDOW_KEY = "head_find", "head_find_error", "grid_layers"


def _go_to_typed_head(n_layers: int, n_heads: int) -> None:
    """on_change of the finder: the typed head becomes the focus (and the Grid's window)."""
    picked = parse_head(st.session_state.get(FIND_KEY, ""), n_layers, n_heads)
    if isinstance(picked, str):
        st.session_state[FIND_ERROR_KEY] = picked
        return
    st.session_state.pop(FIND_ERROR_KEY, None)
    layer, head = picked
    st.session_state["layer"], st.session_state["head"] = layer, head
    for window in layer_windows(n_layers, n_heads):
        if window[0] <= layer <= window[1]:
            st.session_state[WINDOW_KEY] = window_label(window)


def head_finder(n_layers: int, n_heads: int) -> None:
    """A text box: typing "L5H1" sets the layer and head every view focuses on."""
    st.text_input(
        "Go to head",
        key=FIND_KEY,
        placeholder="L5H1",
        on_change=_go_to_typed_head,
        args=(n_layers, n_heads),
        help="Type a head as L<layer>H<head>, e.g. L5H1, and press Enter.",
    )
    if error := st.session_state.get(FIND_ERROR_KEY):
        st.caption(f":red[{error}]")


def grid_layers(page: Any, inp: ViewInput) -> ViewInput:
    """The Grid's layer window, drawn only when every layer's heads would not fit in one."""
    cfg = page.ckpt.config
    windows = layer_windows(cfg.n_layers, cfg.n_heads)
    if len(windows) == 1:
        return replace(inp, grid_layers=None)
    labels = [window_label(w) for w in windows]
    if st.session_state.get(WINDOW_KEY) not in labels:
        st.session_state[WINDOW_KEY] = labels[0]
    choice = st.radio(
        "Layers shown",
        labels,
        key=WINDOW_KEY,
        horizontal=True,
        help=f"{cfg.n_layers} layers x {cfg.n_heads} heads is more than one figure can show "
        "legibly: the grid shows a few layers at a time (type a head in Focused head to jump).",
    )
    return replace(inp, grid_layers=windows[labels.index(choice)])
