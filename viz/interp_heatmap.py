"""The one heatmap every interpretability figure is made of: labelled rows and columns, a
diverging scale for signed values, optional text in each cell and in the hover box.

Rows read top to bottom (layer 0 at the top, as in the attention grids); both axes are
categorical so labels such as "12" or "1 e" never turn into a numeric axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.colors import PATTERN_SCALE, SIGNED_SCALE, explicit_colorscale, symmetric_range
from viz.figure import figure, title_with_note
from viz.labels import plotly_text
from viz.pooling import compact
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping a runtime need
    from jaxtyping import Float


def heatmap_trace(
    z: np.ndarray,
    x: Sequence[str],
    y: Sequence[str],
    *,
    value_name: str,
    signed: bool,
    zmin: float | None = None,
    zmax: float | None = None,
    hover_text: Sequence[Sequence[str]] | None = None,
    cell_text: Sequence[Sequence[str]] | None = None,
    colorscale: str = PATTERN_SCALE,
) -> dict:
    trace: dict = {
        "type": "heatmap",
        "z": compact(np.where(np.isfinite(z), z, np.nan)),
        "x": [plotly_text(v) for v in x],
        "y": [plotly_text(v) for v in y],
        "colorscale": explicit_colorscale(SIGNED_SCALE if signed else colorscale),
        "colorbar": {"title": {"text": value_name}, "thickness": 12},
        "hovertemplate": f"%{{y}}<br>%{{x}}<br>{value_name} %{{z:.4g}}<extra></extra>",
    }
    if signed:
        peak = symmetric_range(z)
        trace["zmin"], trace["zmax"] = -peak, peak
    if zmin is not None:
        trace["zmin"] = zmin
    if zmax is not None:
        trace["zmax"] = zmax
    if hover_text is not None:
        trace["customdata"] = [[plotly_text(t) for t in row] for row in hover_text]
        trace["hovertemplate"] = (
            f"%{{y}}<br>%{{x}}<br>{value_name} %{{z:.4g}}<br>%{{customdata}}<extra></extra>"
        )
    if cell_text is not None:
        trace["text"] = [[plotly_text(t) for t in row] for row in cell_text]
        trace["texttemplate"] = "%{text}"
        trace["textfont"] = {"size": 10}
    return trace


def labelled_heatmap(
    values: Float[np.ndarray, "row col"],
    col_labels: Sequence[str],
    row_labels: Sequence[str],
    *,
    title: str = "",
    note: str | None = None,
    value_name: str = "value",
    signed: bool = False,
    zmin: float | None = None,
    zmax: float | None = None,
    hover_text: Sequence[Sequence[str]] | None = None,
    cell_text: Sequence[Sequence[str]] | None = None,
    x_title: str = "",
    y_title: str = "",
    height: int | None = None,
) -> go.Figure:
    """signed: a diverging scale centred on zero (attributions, score terms, patching effects)."""
    s = Shapes("labelled_heatmap")
    z = s.array(values, "row col", "values")
    cols = s.tokens(col_labels, "col", name="col_labels")
    rows = s.tokens(row_labels, "row", name="row_labels")
    for name, text in (("hover_text", hover_text), ("cell_text", cell_text)):
        if text is not None and (len(text) != len(rows) or any(len(r) != len(cols) for r in text)):
            raise s.error(f"{name} must be [row][col] = [{len(rows)}][{len(cols)}] strings")
    trace = heatmap_trace(
        z,
        cols,
        rows,
        value_name=value_name,
        signed=signed,
        zmin=zmin,
        zmax=zmax,
        hover_text=hover_text,
        cell_text=cell_text,
    )
    layout = {
        "title": title_with_note(title, note),
        "height": height or min(900, 180 + 30 * len(rows)),
        "margin": {"l": 90, "r": 20, "t": 80, "b": 70},
        "xaxis": {"title": {"text": x_title}, "type": "category", "tickfont": {"size": 9}},
        "yaxis": {"title": {"text": y_title}, "type": "category", "autorange": "reversed"},
    }
    return figure([trace], layout)
