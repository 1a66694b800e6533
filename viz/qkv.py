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

from viz.colors import SIGNED_SCALE, explicit_colorscale, symmetric_range
from viz.figure import axis_id, column_spans, figure, panel_title, row_spans
from viz.labels import plotly_text, position_labels, visible
from viz.pooling import compact
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

_STRIP_PX = 46  # height of a one-row strip (q, k, q⊙k, z)
_MAX_V_PX = 520  # the V panel grows with k_pos up to this height

# The panels, top to bottom: (axis number, row, column). Rows: q, k, q⊙k, V, z; the weight bars
# sit right of V. Axis numbers follow make_subplots' order (row by row), as the tests expect.
_Q, _K, _QK, _V, _W, _Z = 1, 2, 3, 4, 5, 6
_PANELS = {_Q: (0, 0), _K: (1, 0), _QK: (2, 0), _V: (3, 0), _W: (3, 1), _Z: (4, 0)}


def _strip(values: np.ndarray, name: str, axis: int, coloraxis: str, fmt: str) -> dict:
    return {
        "type": "heatmap",
        "z": compact(values[None, :]),
        "y": [name],
        "name": name,
        "coloraxis": coloraxis,
        "hovertemplate": f"{name}[%{{x}}] = %{{z:{fmt}}}<extra></extra>",
        "xaxis": f"x{axis_id(axis)}",
        "yaxis": f"y{axis_id(axis)}",
    }


def _colorbar(
    top: Sequence[float], bottom: Sequence[float], title: str, span: float | None = None
) -> dict:
    """A colour bar right of the figure, level with the rows from span `top` to span `bottom`;
    span: the scale's half-range, which a one-strip bar labels at -span, 0 and +span."""
    low, high = bottom[0], top[1]
    bar = {
        "title": {"text": title},
        "thickness": 10,
        "len": high - low,
        "y": (low + high) / 2,
        "yanchor": "middle",
        "x": 1.02,
    }
    if top is bottom and span:  # one strip high: plotly's own ticks thin out to a lone "0"
        bar["tickmode"] = "array"
        bar["tickvals"] = [-span, 0.0, span]
        bar["ticktext"] = [f"{-span:.2g}", "0", f"{span:.2g}"]
        bar["tickfont"] = {"size": 9}
    return bar


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
    rows, cols = row_spans(heights, 0.07), column_spans([0.84, 0.16], 0.02)
    key_labels = [plotly_text(label) for label in position_labels(toks)]

    data = [
        _strip(q_a, "q", _Q, "coloraxis", ".3f"),
        _strip(k_a, "k", _K, "coloraxis", ".3f"),
        _strip(product, "q⊙k", _QK, "coloraxis2", ".3f"),
        {
            "type": "heatmap",
            "z": compact(v_a),
            "y": key_labels,
            "name": "V",
            "coloraxis": "coloraxis3",
            "hovertemplate": "V[%{y}][%{x}] = %{z:.3f}<extra></extra>",
            "xaxis": f"x{_V}",
            "yaxis": f"y{_V}",
        },
    ]
    if w_row is not None:
        data.append(
            {
                "type": "bar",
                "x": compact(w_row),
                "y": key_labels,
                "orientation": "h",
                "marker": {"color": "#444"},
                "name": "weights",
                "hovertemplate": "weight on %{y}: %{x:.4f}<extra></extra>",
                "xaxis": f"x{_W}",
                "yaxis": f"y{_W}",
            }
        )
    data.append(_strip(z_a, "z", _Z, "coloraxis3", ".3f"))

    layout: dict = {}
    for n, (row, col) in _PANELS.items():
        suffix = axis_id(n)
        layout[f"xaxis{suffix}"] = {"domain": cols[col], "anchor": f"y{suffix}"}
        layout[f"yaxis{suffix}"] = {"domain": rows[row], "anchor": f"x{suffix}"}
        layout[f"yaxis{suffix}"]["tickfont"] = {"size": 9}
        layout[f"yaxis{suffix}"]["type"] = "category"  # row names and token labels, never numbers
        if col == 0 and n != _Z:  # the d_head columns line up all the way down, ticks at the bottom
            layout[f"xaxis{suffix}"].update(matches=f"x{_Z}", showticklabels=False)
    layout[f"xaxis{_Z}"]["title"] = {"text": "d_head"}
    if w_row is not None:
        layout[f"xaxis{_W}"]["range"] = [0, 1]
    layout[f"yaxis{_V}"]["autorange"] = "reversed"
    # The weight bars line up with V's rows only if both panels share one category axis.
    layout[f"yaxis{_W}"].update(autorange="reversed", matches=f"y{_V}", showticklabels=False)
    panel_titles = {
        _Q: f"query q{at(q_pos)}",
        _K: f"key k{at(k_pos)}",
        _QK: f"q ⊙ k   ({chain})",
        _V: "values V (one row per key position)",
        _W: "weights",
        _Z: "output z = Σₖ weight · V[k]",
    }
    layout["annotations"] = [
        panel_title(text, cols[_PANELS[n][1]], rows[_PANELS[n][0]])
        for n, text in panel_titles.items()
    ]
    if k_pos is not None:  # outline the key's row of V: the value this weight multiplies
        layout["shapes"] = [
            {
                "type": "rect",
                "xref": f"x{_V}",
                "yref": f"y{_V}",
                "x0": -0.5,
                "x1": len(k_a) - 0.5,
                "y0": k_pos - 0.5,
                "y1": k_pos + 0.5,
                "line": {"color": "black", "width": 2},
            }
        ]
    # Three scales: q and k live in the same space; their product is another magnitude; z is a
    # weighted average of V's rows, so V and z share one scale and a cell of z reads against V.
    qk_span = symmetric_range(q_a, k_a)
    product_span = symmetric_range(product)
    v_span = symmetric_range(v_a, z_a)
    scale = explicit_colorscale(SIGNED_SCALE)
    layout.update(
        title={"text": title},
        height=sum(heights) + 260,
        margin={"l": 80, "r": 20, "t": 70, "b": 50},
        showlegend=False,
        coloraxis={
            "colorscale": scale,
            "cmin": -qk_span,
            "cmax": qk_span,
            "colorbar": _colorbar(rows[0], rows[1], "q, k"),
        },
        coloraxis2={
            "colorscale": scale,
            "cmin": -product_span,
            "cmax": product_span,
            "colorbar": _colorbar(rows[2], rows[2], "q⊙k", product_span),
        },
        coloraxis3={
            "colorscale": scale,
            "cmin": -v_span,
            "cmax": v_span,
            "colorbar": _colorbar(rows[3], rows[4], "V, z"),
        },
    )
    return figure(data, layout)
