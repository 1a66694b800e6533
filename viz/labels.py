"""Token labels for axes and hover boxes: visible whitespace, unique per position, safely escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

# The same marks the tokenizers use for their labels (so an already-visible label is unchanged);
# repeated here because viz/ must not import model/.
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
_MAX_BLOCK_TEXT = 12  # characters of a pooled block's joined tokens shown in its label


def visible(token: str) -> str:
    """Whitespace as ␣ ↵ ⇥ ␍, other unprintable characters as escapes, the empty token as ∅."""
    if token == "":
        return "∅"
    parts = []
    for c in token:
        if c in _VISIBLE:
            parts.append(_VISIBLE[c])
        elif c.isprintable():
            parts.append(c)
        else:
            parts.append(repr(c)[1:-1])
    return "".join(parts)


def plotly_text(text: str) -> str:
    """Escape for plotly's pseudo-HTML labels: a token "<b>" must show as text, not turn bold."""
    return html.escape(text, quote=False)


def mpl_text(text: str) -> str:
    """Escape for matplotlib: a token holding two '$' would otherwise be parsed as mathtext."""
    return text.replace("$", r"\$")


def position_labels(tokens: Sequence[str], start: int = 0) -> list[str]:
    """'12 ␣the' per position (the first is `start`). The position prefix keeps repeated tokens
    apart on a category axis."""
    return [f"{start + i} {visible(t)}" for i, t in enumerate(tokens)]


def block_labels(tokens: Sequence[str], factor: int) -> list[str]:
    """One label per block of `factor` positions after pooling, e.g. '12–13 ␣t'."""
    if factor == 1:
        return position_labels(tokens)
    out = []
    for start in range(0, len(tokens), factor):
        stop = min(start + factor, len(tokens)) - 1
        text = "".join(visible(t) for t in tokens[start : stop + 1])
        if len(text) > _MAX_BLOCK_TEXT:
            text = text[: _MAX_BLOCK_TEXT - 1] + "…"
        out.append(f"{start}–{stop} {text}")
    return out


def thinned_ticks(n: int, max_ticks: int) -> np.ndarray:
    """Evenly spaced tick positions, at most `max_ticks`, always including the first position."""
    step = max(1, int(np.ceil(n / max_ticks)))
    return np.arange(0, n, step)
