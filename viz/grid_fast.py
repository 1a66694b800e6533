"""The layer x head pattern grid built in one constructor call, for the app's landing view.

Same picture and hover text as `viz.attention.pattern_grid` (pooled positions, one shared colour
axis, head titles, layer labels), but the layout is written out as plain dicts instead of going
through `make_subplots` and a dozen `update_*` calls: plotly validates every one of those property
writes, which cost ~140 ms of the page's 150 ms budget at 4 x 4 heads; one validated constructor
costs a fraction of that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from viz.attention import _axis_labels, _pool_note, _title, compact
from viz.colors import PATTERN_SCALE, power_colorscale
from viz.pooling import pool_factor, pool_last2
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    import numpy as np
    from jaxtyping import Float

_GAP = 0.015  # fraction of the figure between panels


def _domains(n: int) -> list[tuple[float, float]]:
    width = (1.0 - _GAP * (n - 1)) / n
    return [(i * (width + _GAP), i * (width + _GAP) + width) for i in range(n)]


def fast_pattern_grid(
    patterns: Float[np.ndarray, "layer head q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "Attention patterns",
    max_positions: int | None = 128,
    zmax: float = 1.0,
    gamma: float = 1.0,
    colorscale: str = PATTERN_SCALE,
    cell_px: int = 190,
) -> go.Figure:
    """Every layer (rows) x head (columns), one shared colour scale, linked zoom."""
    s = Shapes("fast_pattern_grid")
    p = s.array(patterns, "layer head q_pos k_pos", "patterns")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    n_layers, n_heads = p.shape[:2]
    factor = pool_factor(len(toks), max_positions)
    z = compact(pool_last2(p, factor, "max"))
    labels = _axis_labels(toks, factor)
    value_name = "max weight" if factor > 1 else "weight"
    cols, rows = _domains(n_heads), _domains(n_layers)[::-1]  # row 0 at the top

    data = []
    layout: dict = {}
    annotations = []
    for layer in range(n_layers):
        for head in range(n_heads):
            i = layer * n_heads + head + 1
            suffix = "" if i == 1 else str(i)
            name = f"L{layer} H{head}"
            data.append(
                go.Heatmap(
                    z=z[layer, head],
                    x=labels,
                    y=labels,
                    name=name,
                    coloraxis="coloraxis",
                    xaxis=f"x{suffix}",
                    yaxis=f"y{suffix}",
                    hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{value_name} %{{z:.4f}}<extra>{name}</extra>",
                )
            )
            # every panel zooms with the first one, as make_subplots' shared_*axes="all" does
            layout[f"xaxis{suffix}"] = dict(
                domain=cols[head],
                anchor=f"y{suffix}",
                showticklabels=False,
                **({} if i == 1 else {"matches": "x"}),
            )
            layout[f"yaxis{suffix}"] = dict(
                domain=rows[layer],
                anchor=f"x{suffix}",
                showticklabels=False,
                autorange="reversed",
                **({} if i == 1 else {"matches": "y"}),
                **({"title": {"text": f"L{layer}"}} if head == 0 else {}),
            )
    for head in range(n_heads):
        annotations.append(
            dict(
                text=f"H{head}",
                x=sum(cols[head]) / 2,
                y=1.0,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=16),
            )
        )
    layout.update(
        title=_title(title, _pool_note(factor) if factor > 1 else None),
        height=cell_px * n_layers + 120,
        margin=dict(l=50, r=20, t=90, b=30),
        annotations=annotations,
        coloraxis=dict(
            colorscale=power_colorscale(colorscale, gamma),
            cmin=0.0,
            cmax=zmax,
            colorbar=dict(title=dict(text=value_name), thickness=12),
        ),
    )
    return go.Figure(data=data, layout=layout)
