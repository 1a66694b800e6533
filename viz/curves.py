"""Training and evaluation charts: loss curves across runs, loss by position, metric bars."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from viz.colors import run_colors
from viz.labels import plotly_text, position_labels
from viz.pooling import compact

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")  # one dash per metric


def _number(value: Any) -> float | None:
    """A plottable float, or None for a missing / non-numeric / non-finite entry."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _colors(names: Iterable[str], given: Mapping[str, str] | None) -> dict[str, str]:
    """`given` where it names a run, distinct unused colours for the rest."""
    names, given = list(names), dict(given or {})
    # enough candidates for every name even if all of `given`'s colours are skipped
    candidates = run_colors([*given, *names, *(f"\0{i}" for i in range(len(given)))]).values()
    spare = iter([c for c in candidates if c not in set(given.values())])
    return {name: given[name] if name in given else next(spare) for name in names}


def training_curves(
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    x: str = "step",
    y: Sequence[str] = ("train_loss", "val_loss"),
    title: str = "Training curves",
    log_y: bool = False,
    y_title: str = "loss",
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Several runs on one chart: colour = run, dash = metric.

    colors: run -> colour, e.g. `viz.colors.run_colors` over every variant the app knows, so a run
    keeps its colour across charts; by default each run here gets its own (never reused).

    records: run name -> its logged records, e.g. [{"step": 0, "train_loss": 4.2}, ...]. A record
    may lack a metric (validation is logged less often); such points are skipped, not zeroed.
    """
    if isinstance(y, str):  # y="val_loss" would otherwise iterate over characters
        y = (y,)
    if not records:
        raise ValueError("training_curves: records is empty")
    colors = _colors(records, colors)
    fig = go.Figure()
    for run, run_records in records.items():
        colour = colors[run]
        for metric_index, metric in enumerate(y):
            points = []
            for record in run_records:
                px, py = _number(record.get(x)), _number(record.get(metric))
                if px is not None and py is not None:
                    points.append((px, py))
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            fig.add_trace(
                go.Scatter(
                    x=list(xs),
                    y=list(ys),
                    mode="lines+markers" if len(points) < 30 else "lines",
                    name=f"{run} · {metric}",
                    legendgroup=run,
                    line=dict(color=colour, dash=_DASHES[metric_index % len(_DASHES)]),
                    hovertemplate=f"{plotly_text(run)}<br>{x} %{{x}}<br>{metric} %{{y:.4f}}<extra></extra>",
                )
            )
    if not fig.data:
        raise ValueError(f"training_curves: no record has both {x!r} and any of {list(y)}")
    fig.update_layout(
        title=title,
        xaxis_title=x,
        yaxis_title=y_title,
        yaxis_type="log" if log_y else "linear",
        height=420,
        margin=dict(l=60, r=20, t=60, b=50),
        hovermode="closest",
    )
    return fig


def position_loss_curves(
    losses: Mapping[str, Float[np.ndarray, " pos"]],
    *,
    tokens: Sequence[str] | None = None,
    highlight: int | None = None,
    title: str = "Loss by position",
    unit: str = "nats",
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Mean loss at each position, one line per model (the LAMBADA view).

    LAMBADA asks for a passage's last word, which only long-range context predicts; plotting loss
    against position shows whether a model's loss keeps falling as context grows. highlight marks
    a position (e.g. the target word) with a vertical line; tokens, if given, label the positions.
    """
    if not losses:
        raise ValueError("position_loss_curves: losses is empty")
    arrays = {}
    for name, values in losses.items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"position_loss_curves: losses[{name!r}] must be [pos], got {arr.shape}"
            )
        arrays[name] = arr
    n_pos = max(a.size for a in arrays.values())
    if tokens is not None and len(tokens) != n_pos:
        raise ValueError(f"position_loss_curves: {len(tokens)} tokens for {n_pos} positions")
    labels = [plotly_text(t) for t in position_labels(tokens)] if tokens is not None else None
    colors = _colors(arrays, colors)
    fig = go.Figure()
    for name, arr in arrays.items():
        xs = np.arange(arr.size)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=compact(arr),
                customdata=labels[: arr.size] if labels is not None else None,
                mode="lines",
                name=name,
                line=dict(color=colors[name]),
                hovertemplate=(
                    f"{plotly_text(name)}<br>"
                    + ("%{customdata}" if labels is not None else "pos %{x}")
                    + f"<br>loss %{{y:.3f}} {unit}<extra></extra>"
                ),
            )
        )
    if highlight is not None:
        if not 0 <= highlight < n_pos:
            raise ValueError(f"position_loss_curves: highlight={highlight} outside 0..{n_pos - 1}")
        fig.add_vline(x=highlight, line_dash="dash", line_color="gray", annotation_text="target")
    fig.update_layout(
        title=title,
        xaxis_title="position",
        yaxis_title=f"loss ({unit})",
        height=400,
        margin=dict(l=60, r=20, t=60, b=50),
    )
    return fig


def metric_bars(
    values: Mapping[str, float],
    *,
    title: str = "",
    y_title: str = "",
    errors: Mapping[str, float] | None = None,
    sort: bool = False,
    reference: str | None = None,
    fmt: str = ".3f",
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """One bar per variant, its value printed on it, in the variant's colour (see `colors` of
    `training_curves`).

    errors: optional ± per variant (e.g. a standard error), drawn as error bars. reference: the
    variant the others are compared against (the baseline); its bar is outlined in black and a
    dashed line runs at its height.
    """
    if not values:
        raise ValueError("metric_bars: values is empty")
    items = list(values.items())
    bad = [name for name, v in items if _number(v) is None]
    if bad:
        raise ValueError(f"metric_bars: non-numeric or non-finite values for {bad}")
    if reference is not None and reference not in values:
        raise ValueError(f"metric_bars: reference {reference!r} is not one of {list(values)}")
    if sort:
        items.sort(key=lambda item: item[1])
    names = [name for name, _ in items]
    heights = [float(v) for _, v in items]
    palette = _colors(values, colors)
    colours = [palette[name] for name in names]
    outline = [2.5 if name == reference else 0.0 for name in names]
    error_y = None
    if errors is not None:
        error_y = dict(type="data", array=[float(errors.get(name, 0.0)) for name in names])
    fig = go.Figure(
        go.Bar(
            x=[plotly_text(n) for n in names],
            y=heights,
            marker={"color": colours, "line": {"color": "black", "width": outline}},
            error_y=error_y,
            texttemplate=f"%{{y:{fmt}}}",
            textposition="outside",
            hovertemplate=f"%{{x}}<br>%{{y:{fmt}}}<extra></extra>",
        )
    )
    if reference is not None:
        fig.add_hline(y=float(values[reference]), line_dash="dash", line_color="#333")
    fig.update_layout(
        title=title,
        yaxis_title=y_title,
        xaxis_type="category",  # a variant named "14" is a name, not a number
        height=400,
        margin=dict(l=60, r=20, t=60, b=80),
    )
    return fig
