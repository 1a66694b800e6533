"""The Q/K/V inspector: how one query-key pair becomes a score and a weight, and how the weights mix
the values into the head's output (the idea of BertViz's neuron view, drawn as aligned strips).

Rows share the d_head axis, so a column is one dimension all the way down: the query's entry, the
key's entry, their product (whose sum is the score), each key position's value, and the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.colors import SIGNED_SCALE, symmetric_range
from viz.labels import plotly_text, position_labels, visible
from viz.pooling import compact
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

_STRIP_PX = 46  # height of a one-row strip (q, k, q⊙k, z)
_MAX_V_PX = 520  # the V panel grows with k_pos up to this height


def _strip(values: np.ndarray, name: str, row_label: str, coloraxis: str, fmt: str) -> go.Heatmap:
    return go.Heatmap(
        z=compact(values[None, :]),
        y=[row_label],
        name=name,
        coloraxis=coloraxis,
        hovertemplate=f"{name}[%{{x}}] = %{{z:{fmt}}}<extra></extra>",
    )


def _colorbar(fig: go.Figure, top: str, bottom: str, title: str) -> dict:
    """A colour bar right of the figure, level with the rows from y-axis `top` to `bottom`."""
    low, high = fig.layout[bottom].domain[0], fig.layout[top].domain[1]
    return dict(
        title=title, thickness=10, len=high - low, y=(low + high) / 2, yanchor="middle", x=1.02
    )


def qkv_inspector(
    q: Float[np.ndarray, " d_head"],
    k: Float[np.ndarray, " d_head"],
    weight: float,
    v: Float[np.ndarray, "k_pos d_head"],
    z: Float[np.ndarray, " d_head"],
    *,
    tokens: Sequence[str] | None = None,
    q_pos: int | None = None,
    k_pos: int | None = None,
    weights: Float[np.ndarray, " k_pos"] | None = None,
    score: float | None = None,
    title: str = "",
) -> go.Figure:
    """q and k of one (query, key) pair, q ⊙ k with its sum, the weight; V and the output z.

    tokens: labels of the k_pos key positions (the V rows); q_pos / k_pos: the pair's positions,
    used in titles and to outline the key's row of V. weights: the query's whole pattern row, drawn
    beside V, since z = Σ_k weights[k] · V[k]. score: the score the model actually used (after
    scaling, if any), shown next to the bare dot product q·k.
    """
    s = Shapes("qkv_inspector")
    q_a = s.array(q, "d_head", "q")
    k_a = s.array(k, "d_head", "k")
    v_a = s.array(v, "k_pos d_head", "v")
    z_a = s.array(z, "d_head", "z")
    w_row = None if weights is None else s.array(weights, "k_pos", "weights")
    n_keys = v_a.shape[0]
    toks = s.tokens(tokens, "k_pos") if tokens is not None else [str(i) for i in range(n_keys)]
    for name, pos in (("q_pos", q_pos), ("k_pos", k_pos)):
        if pos is not None and not 0 <= pos < n_keys:
            raise s.error(f"{name}={pos} is outside the {n_keys} key positions")
    if not np.isfinite(weight):
        raise s.error(f"weight must be a finite number, got {weight}")

    product = q_a * k_a
    dot = float(product.sum())

    def at(pos: int | None) -> str:
        return "" if pos is None else f" at {pos} “{plotly_text(visible(toks[pos]))}”"

    chain = f"Σ = q·k = {dot:.3f}"
    if score is not None:
        chain += f" → score {score:.3f}"
    chain += f" → weight {weight:.3f}"

    v_px = min(_MAX_V_PX, max(120, 12 * n_keys))
    heights = [_STRIP_PX, _STRIP_PX, _STRIP_PX, v_px, _STRIP_PX]
    fig = make_subplots(
        rows=5,
        cols=2,
        column_widths=[0.84, 0.16],
        row_heights=heights,
        specs=[[{}, None], [{}, None], [{}, None], [{}, {}], [{}, None]],
        shared_xaxes=True,
        vertical_spacing=0.07,
        horizontal_spacing=0.02,
        subplot_titles=[
            f"query q{at(q_pos)}",
            f"key k{at(k_pos)}",
            f"q ⊙ k   ({chain})",
            "values V (one row per key position)",
            "weights",
            "output z = Σₖ weight · V[k]",
        ],
    )
    fig.add_trace(_strip(q_a, "q", "q", "coloraxis", ".3f"), row=1, col=1)
    fig.add_trace(_strip(k_a, "k", "k", "coloraxis", ".3f"), row=2, col=1)
    fig.add_trace(_strip(product, "q⊙k", "q⊙k", "coloraxis2", ".3f"), row=3, col=1)
    key_labels = [plotly_text(label) for label in position_labels(toks)]
    fig.add_trace(
        go.Heatmap(
            z=compact(v_a),
            y=key_labels,
            coloraxis="coloraxis3",
            name="V",
            hovertemplate="V[%{y}][%{x}] = %{z:.3f}<extra></extra>",
        ),
        row=4,
        col=1,
    )
    if w_row is not None:
        fig.add_trace(
            go.Bar(
                x=compact(w_row),
                y=key_labels,
                orientation="h",
                marker_color="#444",
                name="weights",
                hovertemplate="weight on %{y}: %{x:.4f}<extra></extra>",
            ),
            row=4,
            col=2,
        )
        fig.update_xaxes(range=[0, 1], row=4, col=2)
    fig.add_trace(_strip(z_a, "z", "z", "coloraxis3", ".3f"), row=5, col=1)
    if k_pos is not None:  # outline the key's row of V: the value this weight multiplies
        fig.add_shape(
            type="rect",
            xref="x4",
            yref="y4",
            x0=-0.5,
            x1=len(k_a) - 0.5,
            y0=k_pos - 0.5,
            y1=k_pos + 0.5,
            line=dict(color="black", width=2),
        )

    fig.update_yaxes(autorange="reversed", row=4)
    # The weight bars line up with V's rows only if both panels share one category axis.
    fig.update_yaxes(matches="y4", showticklabels=False, row=4, col=2)
    fig.update_yaxes(tickfont=dict(size=9))
    fig.update_xaxes(title_text="d_head", row=5, col=1)
    # Three scales: q and k live in the same space; their product is another magnitude; z is a
    # weighted average of V's rows, so V and z share one scale and a cell of z reads against V.
    qk_span = symmetric_range(q_a, k_a)
    product_span = symmetric_range(product)
    v_span = symmetric_range(v_a, z_a)
    fig.update_layout(
        title=title,
        height=sum(heights) + 260,
        margin=dict(l=80, r=20, t=70, b=50),
        showlegend=False,
        coloraxis=dict(
            colorscale=SIGNED_SCALE,
            cmin=-qk_span,
            cmax=qk_span,
            colorbar=_colorbar(fig, "yaxis", "yaxis2", "q, k"),
        ),
        coloraxis2=dict(
            colorscale=SIGNED_SCALE,
            cmin=-product_span,
            cmax=product_span,
            colorbar=_colorbar(fig, "yaxis3", "yaxis3", "q⊙k"),
        ),
        coloraxis3=dict(
            colorscale=SIGNED_SCALE,
            cmin=-v_span,
            cmax=v_span,
            colorbar=_colorbar(fig, "yaxis4", "yaxis6", "V, z"),
        ),
    )
    return fig
