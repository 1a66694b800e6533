"""Figures of the curriculum page: measurements in (lists, dicts, arrays), plotly figures out.

Like the rest of `viz/`, no Streamlit and no torch. Each builder raises ValueError on empty or
ill-shaped input, naming what it expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.colors import SIGNED_SCALE
from viz.labels import plotly_text

_PALETTE = pc.qualitative.Plotly
_MARGIN = dict(l=60, r=20, t=60, b=50)


def _lines(
    series: Mapping[str, Sequence[float]],
    x: Sequence,
    where: str,
) -> list[go.Scatter]:
    if not series:
        raise ValueError(f"{where}: no series to draw")
    traces = []
    for i, (name, ys) in enumerate(series.items()):
        if len(ys) != len(x):
            raise ValueError(f"{where}: {name!r} has {len(ys)} values for {len(x)} x positions")
        traces.append(
            go.Scatter(
                x=list(x),
                y=[float(v) for v in ys],
                mode="lines+markers",
                name=plotly_text(name),
                line=dict(color=_PALETTE[i % len(_PALETTE)]),
            )
        )
    return traces


def step_time_chart(lengths: Sequence[int], seconds: Mapping[str, Sequence[float]]) -> go.Figure:
    """Median training-step time against sequence length, log-log, one line per model."""
    ms = {name: [1000.0 * s for s in values] for name, values in seconds.items()}
    fig = go.Figure(_lines(ms, lengths, "step_time_chart"))
    fig.update_layout(
        title="Time per training step vs sequence length (measured here)",
        xaxis=dict(title="sequence length (tokens)", type="log", tickvals=list(lengths)),
        yaxis=dict(title="ms per step (median)", type="log"),
        height=380,
        margin=_MARGIN,
    )
    return fig


def saliency_chart(
    shares: Mapping[str, Sequence[float]], max_distance: int | None = None
) -> go.Figure:
    """Share of the input-gradient at each distance back from the predicted position."""
    cut = {n: list(v)[: (max_distance or len(v)) + 1] for n, v in shares.items()}
    width = max((len(v) for v in cut.values()), default=0)
    padded = {n: v + [float("nan")] * (width - len(v)) for n, v in cut.items()}
    fig = go.Figure(_lines(padded, list(range(width)), "saliency_chart"))
    fig.update_layout(
        title="Input-gradient saliency by distance (share of the gradient, mean over positions)",
        xaxis_title="distance back from the predicted position (tokens; 0 = the current token)",
        yaxis_title="share of saliency",
        height=380,
        margin=_MARGIN,
    )
    return fig


def layer_lines(
    values: Mapping[str, Sequence[float]],
    x_labels: Sequence[str],
    *,
    title: str,
    y_title: str,
    log_y: bool = False,
) -> go.Figure:
    """One line per model over depth (embedding, block 0, ...); shorter series are padded."""
    width = len(x_labels)
    padded = {n: list(v)[:width] + [float("nan")] * (width - len(v)) for n, v in values.items()}
    fig = go.Figure(_lines(padded, list(x_labels), "layer_lines"))
    fig.update_layout(
        title=title,
        xaxis_title="depth",
        yaxis_title=y_title,
        yaxis_type="log" if log_y else "linear",
        height=360,
        margin=_MARGIN,
    )
    return fig


def grad_norm_chart(
    series: Mapping[str, tuple[Sequence[int], Mapping[str, Sequence[float]]]],
) -> go.Figure:
    """One panel per model: gradient norm of each layer's parameters over training (log scale).

    series: model -> (steps, group -> norms), e.g. {"baseline": ([100, 200], {"blocks.0": [..]})}.
    """
    if not series:
        raise ValueError("grad_norm_chart: no series to draw")
    names = list(series)
    fig = make_subplots(
        rows=1, cols=len(names), shared_yaxes=True, subplot_titles=[plotly_text(n) for n in names]
    )
    groups = sorted({g for _, by_group in series.values() for g in by_group})
    colours = {g: _PALETTE[i % len(_PALETTE)] for i, g in enumerate(groups)}
    for col, name in enumerate(names, start=1):
        steps, by_group = series[name]
        for g, ys in by_group.items():
            if len(ys) != len(steps):
                raise ValueError(
                    f"grad_norm_chart: {name}/{g} has {len(ys)} values for {len(steps)} steps"
                )
            fig.add_trace(
                go.Scatter(
                    x=list(steps),
                    y=list(ys),
                    mode="lines+markers",
                    name=g,
                    legendgroup=g,
                    showlegend=col == 1,
                    line=dict(color=colours[g]),
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(type="log")
    fig.update_yaxes(title_text="gradient norm", row=1, col=1)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title="Gradient norm per layer over training", height=380, margin=_MARGIN)
    return fig


def similarity_matrix(matrix: np.ndarray, labels: Sequence[str], *, title: str) -> go.Figure:
    """A square [-1, 1] cosine-similarity map, each cell labelled."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(labels):
        raise ValueError(
            f"similarity_matrix: need [n, n] with n = {len(labels)} labels, got {m.shape}"
        )
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=list(labels),
            y=list(labels),
            zmin=-1.0,
            zmax=1.0,
            zmid=0.0,
            colorscale=SIGNED_SCALE,
            texttemplate="%{z:.2f}",
            colorbar=dict(title="cosine", thickness=12),
            hovertemplate="%{y} vs %{x}<br>cosine %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")  # labels that look like numbers stay labels
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(title=title, height=120 + 60 * len(labels), margin=_MARGIN)
    return fig


def dot_spread_chart(
    d_heads: Sequence[int],
    std: Mapping[str, Sequence[float]],
    max_weight: Mapping[str, Sequence[float]],
    n_keys: int,
) -> go.Figure:
    """Left: std of the scores by d_head. Right: the mean largest softmax weight (1 = saturated)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["spread of the scores (std)", f"largest softmax weight over {n_keys} keys"],
    )
    for col, data in ((1, std), (2, max_weight)):
        for trace in _lines(data, d_heads, "dot_spread_chart"):
            trace.showlegend = col == 1
            trace.legendgroup = trace.name
            fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(title_text="d_head", type="log", tickvals=list(d_heads))
    fig.update_yaxes(title_text="std of score", type="log", row=1, col=1)
    fig.update_yaxes(title_text="max weight", range=[0, 1.05], row=1, col=2)
    fig.update_layout(height=380, margin=_MARGIN)
    return fig


def params_scatter(
    points: Mapping[str, tuple[float, float, float]], *, y_title: str = "val loss (nats)"
) -> go.Figure:
    """One labelled point per model: parameter count (x) against a loss (y) ± its seed std."""
    if not points:
        raise ValueError("params_scatter: no points")
    names = list(points)
    fig = go.Figure(
        go.Scatter(
            x=[points[n][0] for n in names],
            y=[points[n][1] for n in names],
            error_y=dict(type="data", array=[points[n][2] for n in names]),
            mode="markers+text",
            text=[plotly_text(n) for n in names],
            textposition="top center",
            marker=dict(size=12, color=[_PALETTE[i % len(_PALETTE)] for i in range(len(names))]),
            hovertemplate="%{text}<br>%{x:,} parameters<br>loss %{y:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Loss against parameter count",
        xaxis_title="parameters",
        yaxis_title=y_title,
        height=380,
        margin=_MARGIN,
    )
    return fig


def reversal_chart(
    accuracy: Mapping[str, Sequence[float]], length: int, chance: float
) -> go.Figure:
    """Accuracy at each target position of the reversal task, with chance and the half boundary."""
    n = 2 * length
    for name, values in accuracy.items():
        if len(values) != n:
            raise ValueError(f"reversal_chart: {name!r} has {len(values)} positions, expected {n}")
    fig = go.Figure(_lines(accuracy, list(range(n)), "reversal_chart"))
    fig.add_hline(
        y=chance, line_dash="dot", line_color="gray", annotation_text=f"chance {chance:.3f}"
    )
    fig.add_vline(x=length - 1, line_dash="dash", line_color="gray", annotation_text="separator")
    fig.update_layout(
        title="Reversal task: accuracy per target position",
        xaxis_title="target position (left of the separator: the random first half)",
        yaxis=dict(title="accuracy", range=[0, 1.05]),
        height=380,
        margin=_MARGIN,
    )
    return fig


def layer_head_map(
    values: np.ndarray, *, title: str, value_name: str, zmax: float | None = None
) -> go.Figure:
    """A [layer, head] map of any per-head number, each cell labelled."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or not v.size:
        raise ValueError(f"layer_head_map: values must be [layer, head], got {v.shape}")
    fig = go.Figure(
        go.Heatmap(
            z=v,
            x=[f"H{h}" for h in range(v.shape[1])],
            y=[f"L{layer}" for layer in range(v.shape[0])],
            zmin=0.0,
            zmax=zmax,
            colorscale="Cividis",
            texttemplate="%{z:.2f}",
            colorbar=dict(title=value_name, thickness=12),
            hovertemplate=f"%{{y}} %{{x}}<br>{value_name} %{{z:.3f}}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")  # labels that look like numbers stay labels
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(title=title, height=140 + 48 * v.shape[0], margin=_MARGIN)
    return fig


def spread_bars(
    spreads: Mapping[str, tuple[float, float]], *, title: str, y_title: str, reference: str = ""
) -> go.Figure:
    """One bar per variant: the mean over seeds with ± one std; the reference bar in grey."""
    if not spreads:
        raise ValueError("spread_bars: no variants")
    names = list(spreads)
    colours = ["#9e9e9e" if n == reference else _PALETTE[0] for n in names]
    fig = go.Figure(
        go.Bar(
            x=[plotly_text(n) for n in names],
            y=[spreads[n][0] for n in names],
            error_y=dict(type="data", array=[spreads[n][1] for n in names]),
            marker_color=colours,
            hovertemplate="%{x}<br>%{y:.4f} ± %{error_y.array:.4f}<extra></extra>",
        )
    )
    lo = min(m - s for m, s in spreads.values())
    hi = max(m + s for m, s in spreads.values())
    pad = 0.1 * (hi - lo) + 1e-6
    fig.update_xaxes(type="category")
    fig.update_layout(
        title=title,
        yaxis=dict(title=y_title, range=[lo - pad, hi + pad]),
        height=360,
        margin=_MARGIN,
    )
    return fig


def band_lines(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    x: Sequence,
    *,
    title: str,
    x_title: str,
    y_title: str,
    log_x: bool = False,
    y_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One line per model with ± one std (over seeds) as error bars."""
    if not series:
        raise ValueError("band_lines: no series to draw")
    fig = go.Figure()
    for i, (name, (mean, std)) in enumerate(series.items()):
        if len(mean) != len(x) or len(std) != len(x):
            raise ValueError(
                f"band_lines: {name!r} has {len(mean)} values for {len(x)} x positions"
            )
        fig.add_trace(
            go.Scatter(
                x=list(x),
                y=[float(v) for v in mean],
                error_y=dict(type="data", array=[float(v) for v in std], thickness=1),
                mode="lines+markers",
                name=plotly_text(name),
                line=dict(color=_PALETTE[i % len(_PALETTE)]),
            )
        )
    fig.update_layout(
        title=title,
        xaxis=dict(title=x_title, type="log" if log_x else "linear"),
        yaxis=dict(title=y_title, range=list(y_range) if y_range else None),
        height=380,
        margin=_MARGIN,
    )
    return fig


def health_chart(
    series: Mapping[
        str, tuple[Sequence[int], Sequence[Sequence[float]], Sequence[Sequence[float]]]
    ],
) -> go.Figure:
    """Per model (steps, entropy [eval][layer], max score [eval][layer]): two panels over
    training, one line per (model, layer)."""
    if not series:
        raise ValueError("health_chart: no series to draw")
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["mean attention entropy (nats)", "largest score into softmax"],
    )
    for i, (name, (steps, entropy, max_logit)) in enumerate(series.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        for col, values in ((1, entropy), (2, max_logit)):
            if len(values) != len(steps):
                raise ValueError(
                    f"health_chart: {name!r} has {len(values)} evals for {len(steps)} steps"
                )
            for layer in range(len(values[0]) if values else 0):
                fig.add_trace(
                    go.Scatter(
                        x=list(steps),
                        y=[v[layer] for v in values],
                        mode="lines",
                        name=f"{plotly_text(name)} L{layer}",
                        legendgroup=name,
                        showlegend=col == 1,
                        line=dict(
                            color=colour, dash=["solid", "dash", "dot", "dashdot"][layer % 4]
                        ),
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=380, margin=_MARGIN)
    return fig
