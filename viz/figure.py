"""Figures written as plain dicts and wrapped once: hand-made panel layouts, no `make_subplots`.

Why not the usual `make_subplots` + `add_trace` + `update_*`: plotly validates every property
write, creates an axis object per subplot and deep-copies the figure again and again; for the
Explore page's multi-panel figures that costs most of the page's 150 ms budget. A builder
here writes the whole figure in plotly's canonical form (`title={"text": ...}`, never a bare
string; lists or numpy arrays, never tuples) and `figure` wraps it in one step without
re-validating it. `tests/test_viz.py` checks that plotly's validator changes nothing in any
builder's output, so skipping it here hides no typo.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

PANEL_TITLE_FONT = {"size": 16}  # what make_subplots gives subplot titles; kept so views look alike


def axis_id(n: int) -> str:
    """Suffix of the n-th (1-based) cartesian axis pair: '' for xaxis/yaxis, then '2', '3', ..."""
    return "" if n == 1 else str(n)


def column_spans(sizes: Sequence[float], gap: float) -> list[list[float]]:
    """[start, end] fractions of the figure's width for panels of relative `sizes`, left to right,
    `gap` apart: make_subplots' arithmetic for column widths."""
    free = 1.0 - gap * (len(sizes) - 1)
    total = float(sum(sizes))
    out, start = [], 0.0
    for size in sizes:
        width = free * size / total
        # float rounding can put the last end at 1.0000000000000002, which plotly rejects
        out.append([start, min(start + width, 1.0)])
        start += width + gap
    return out


def row_spans(sizes: Sequence[float], gap: float) -> list[list[float]]:
    """Like `column_spans` for rows listed top first (plotly's y runs upwards)."""
    return column_spans(list(sizes)[::-1], gap)[::-1]


def title_with_note(text: str, note: str | None = None) -> dict:
    """A figure title with an optional grey subtitle (notes there are never clipped by margins)."""
    note_font = {"size": 11, "color": "gray"}
    if note and not text:  # plotly.js may skip the whole title group when its text is empty
        return {"text": note, "font": note_font}
    out: dict = {"text": text}
    if note:
        out["subtitle"] = {"text": note, "font": note_font}
    return out


def panel_title(text: str, x_span: Sequence[float], y_span: Sequence[float]) -> dict:
    """An annotation centred above a panel, where make_subplots puts a subplot title."""
    return {
        "text": text,
        "x": (x_span[0] + x_span[1]) / 2,
        "y": y_span[1],
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": PANEL_TITLE_FONT,
    }


def figure(data: list[dict], layout: dict) -> go.Figure:
    """`data` (trace dicts, each with its "type") and `layout` as one Figure, not re-validated.

    Validation is switched back on afterwards, so a caller's later edits (`update_layout(title=
    "...")`, as the export buttons do) are checked and normalised as on any other figure. Only
    the top-level objects carry the switch: nested ones (axes, titles) are created lazily, with
    validation on.
    """
    fig = go.Figure(data=data, layout=layout, _validate=False)
    fig._validate = True
    fig.layout._validate = True
    for trace in fig.data:
        trace._validate = True
    return fig
