"""Figures of a run through training: its loss curve and its head-detector scores, with the
scrubbed step marked and the phase change shaded."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from jaxtyping import Float

from viz.curves import training_curves

STEP_COLOR = "#d62728"
PHASE_COLOR = "rgba(255, 165, 0, 0.25)"
DASHES = ("solid", "dash", "dot", "dashdot")


def mark_step(fig: go.Figure, step: int | None, log_x: bool = False) -> go.Figure:
    """A vertical line at `step`; on a log axis plotly places shapes in log10 units."""
    if step is not None:
        fig.add_vline(
            x=math.log10(max(step, 1)) if log_x else step,
            line_color=STEP_COLOR,
            line_width=2,
            annotation_text=f"step {step:,}",
        )
    return fig


def loss_at_step(
    curves: Mapping[str, Sequence[Mapping[str, Any]]], step: int | None, height: int = 300
) -> go.Figure:
    """Every run's train and validation loss, the scrubbed step as a vertical line."""
    fig = training_curves(curves, title="Loss through training")
    fig.update_layout(height=height, margin=dict(t=40, b=30))
    return mark_step(fig, step)


def detector_lines(
    series: Mapping[str, tuple[Sequence[int], Mapping[str, Float[np.ndarray, "step layer head"]]]],
    step: int | None,
    phases: Mapping[str, tuple[int, int]] | None = None,
    height: int = 300,
) -> go.Figure:
    """One line per (run, detector): the best head's score at each snapshot step. series: run ->
    (steps, detector -> scores). phases: run -> (start, end) of its phase change, shaded."""
    fig = go.Figure()
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    detectors = sorted({d for _, lines in series.values() for d in lines})
    colors = {d: palette[i % len(palette)] for i, d in enumerate(detectors)}
    for r, (run, (steps, lines)) in enumerate(series.items()):
        for d, scores in lines.items():
            best = np.nanmax(scores.reshape(len(steps), -1), axis=1)
            fig.add_trace(
                go.Scatter(
                    x=list(steps),
                    y=best,
                    mode="lines+markers",
                    name=f"{run} · {d}" if len(series) > 1 else d,
                    line=dict(color=colors[d], dash=DASHES[r % len(DASHES)]),
                )
            )
    for run, (start, end) in (phases or {}).items():
        fig.add_vrect(
            x0=math.log10(max(start, 1)),
            x1=math.log10(max(end, 1)),
            fillcolor=PHASE_COLOR,
            line_width=0,
            annotation_text=f"phase change{f' ({run})' if len(series) > 1 else ''}",
            annotation_position="top left",
        )
    fig.update_layout(
        title="Head detectors through training (best head)",
        xaxis_title="step",
        yaxis_title="score",
        yaxis_range=[0, 1.02],
        height=height,
        margin=dict(t=40, b=30),
    )
    fig.update_xaxes(type="log")  # the snapshot steps are log-spaced
    return mark_step(fig, step, log_x=True)
