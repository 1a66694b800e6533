"""The LAMBADA figure: last-word loss and accuracy over training, and accuracy by copy distance.

Plain numbers in, one plotly figure out (no records, no torch: `training.lambada_findings` reads
the records and fills these types). Three panels side by side:

1. held-out last-word loss (nats per word) over training steps;
2. held-out last-word accuracy over training steps;
   in both, one line per model (the mean over seeds) inside a band from the lowest to the highest
   seed, and every baseline that has the panel's quantity as a dotted horizontal line;
3. final accuracy by how many words back the target last appeared in the passage, one bar group
   per bin, one bar per model (the mean over seeds; whiskers from the lowest to the highest seed),
   with the bin's passage count under its label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.colors as pc
import plotly.graph_objects as go

from viz.figure import axis_id, column_spans, figure, panel_title, title_with_note

_MODEL_COLORS = pc.qualitative.D3
_BASELINE_GREY = "rgb(110,110,110)"
_DOTS = ("dot", "dash", "dashdot", "longdash", "longdashdot")


@dataclass(frozen=True)
class ModelSeries:
    """One model's seeds over training: values[seed][evaluation] at `steps`."""

    steps: Sequence[int]
    loss: Sequence[Sequence[float]]
    accuracy: Sequence[Sequence[float]]
    # final accuracy by copy-distance bin, one value per seed
    by_distance: Mapping[str, Sequence[float]]


@dataclass(frozen=True)
class BaselineLine:
    accuracy: float
    loss: float | None  # None: the rule gives no probabilities


def _rgba(color: str, alpha: float) -> str:
    r, g, b = pc.unlabel_rgb(pc.convert_colors_to_same_type(color, "rgb")[0][0])
    return f"rgba({int(r)},{int(g)},{int(b)},{alpha})"


def _check(name: str, s: ModelSeries) -> None:
    if not s.steps:
        raise ValueError(f"lambada_figure: model {name!r} has no evaluations")
    for what, rows in (("loss", s.loss), ("accuracy", s.accuracy)):
        if not rows or any(len(r) != len(s.steps) for r in rows):
            raise ValueError(
                f"lambada_figure: {name!r} {what} needs one row per seed of {len(s.steps)} values"
            )


def _band_traces(
    name: str, steps: Sequence[int], rows: Sequence[Sequence[float]], color: str, axis: int
) -> list[dict]:
    cols = list(zip(*rows, strict=True))
    mean = [sum(c) / len(c) for c in cols]
    low, high = [min(c) for c in cols], [max(c) for c in cols]
    ax = {"xaxis": f"x{axis_id(axis)}", "yaxis": f"y{axis_id(axis)}"}
    band = {
        "type": "scatter",
        "x": [*steps, *steps[::-1]],
        "y": [*high, *low[::-1]],
        "fill": "toself",
        "fillcolor": _rgba(color, 0.18),
        "line": {"width": 0},
        "hoverinfo": "skip",
        "showlegend": False,
        "legendgroup": name,
        **ax,
    }
    line = {
        "type": "scatter",
        "x": list(steps),
        "y": mean,
        "mode": "lines+markers",
        "name": f"{name} ({len(rows)} seed{'' if len(rows) == 1 else 's'})",
        "line": {"color": color},
        "legendgroup": name,
        "showlegend": axis == 1,
        **ax,
    }
    return [band, line]


def _baseline_traces(
    baselines: Mapping[str, BaselineLine], x: Sequence[int], axis: int, quantity: str
) -> list[dict]:
    out = []
    for i, (name, b) in enumerate(baselines.items()):
        value = b.loss if quantity == "loss" else b.accuracy
        if value is None:
            continue
        out.append(
            {
                "type": "scatter",
                "x": [min(x), max(x)],
                "y": [value, value],
                "mode": "lines",
                "name": name,
                "line": {"color": _BASELINE_GREY, "dash": _DOTS[i % len(_DOTS)], "width": 1.5},
                "legendgroup": f"baseline {name}",
                "showlegend": axis == 2,  # every baseline has an accuracy; listed once
                "hovertemplate": f"{name}: %{{y:.3f}}<extra></extra>",
                "xaxis": f"x{axis_id(axis)}",
                "yaxis": f"y{axis_id(axis)}",
            }
        )
    return out


def lambada_figure(
    models: Mapping[str, ModelSeries],
    baselines: Mapping[str, BaselineLine],
    bins: Sequence[str],
    bin_counts: Sequence[int],
    *,
    title: str = "LAMBADA, held-out passages",
    note: str | None = None,
) -> go.Figure:
    """Loss and accuracy over training steps, and accuracy by copy distance (module docstring)."""
    if not models:
        raise ValueError("lambada_figure: no models to draw")
    if len(bins) != len(bin_counts):
        raise ValueError(f"lambada_figure: {len(bins)} bins but {len(bin_counts)} counts")
    for name, s in models.items():
        _check(name, s)
        missing = [b for b in bins if b not in s.by_distance]
        if missing:
            raise ValueError(f"lambada_figure: {name!r} has no accuracy for bins {missing}")
    spans = column_spans([1.0, 1.0, 1.1], 0.07)
    data: list[dict] = []
    all_steps = sorted({int(x) for s in models.values() for x in s.steps})
    for i, (name, s) in enumerate(models.items()):
        color = _MODEL_COLORS[i % len(_MODEL_COLORS)]
        data += _band_traces(name, list(s.steps), s.loss, color, 1)
        data += _band_traces(name, list(s.steps), s.accuracy, color, 2)
        values = [list(s.by_distance[b]) for b in bins]
        means = [sum(v) / len(v) for v in values]
        data.append(
            {
                "type": "bar",
                "x": [f"{b}<br>(n={n})" for b, n in zip(bins, bin_counts, strict=True)],
                "y": means,
                "name": name,
                "marker": {"color": color},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [max(v) - m for v, m in zip(values, means, strict=True)],
                    "arrayminus": [m - min(v) for v, m in zip(values, means, strict=True)],
                },
                "legendgroup": name,
                "showlegend": False,
                "xaxis": "x3",
                "yaxis": "y3",
            }
        )
    data += _baseline_traces(baselines, all_steps, 1, "loss")
    data += _baseline_traces(baselines, all_steps, 2, "accuracy")
    layout: dict = {
        "title": title_with_note(title, note),
        "height": 430,
        "margin": {"l": 60, "r": 20, "t": 90, "b": 60},
        "barmode": "group",
        "legend": {"orientation": "h", "y": -0.22},
        "annotations": [
            panel_title("last-word loss", spans[0], [0, 1]),
            panel_title("last-word accuracy", spans[1], [0, 1]),
            panel_title("accuracy by copy distance (words back)", spans[2], [0, 1]),
        ],
    }
    for n, span in enumerate(spans, start=1):
        suffix = axis_id(n)
        layout[f"xaxis{suffix}"] = {"domain": span, "anchor": f"y{suffix}"}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}"}
    layout["xaxis"]["title"] = {"text": "training step"}
    layout["xaxis2"]["title"] = {"text": "training step"}
    layout["yaxis"]["title"] = {"text": "nats per word"}
    layout["yaxis2"]["title"] = {"text": "share of passages"}
    layout["yaxis2"]["rangemode"] = "tozero"
    layout["yaxis3"]["rangemode"] = "tozero"
    return figure(data, layout)
