"""The induction experiment's figure: copy losses and the best head's induction score over
training, one panel per model, the phase change the rule found marked as a shaded step range."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.colors import run_colors


def induction_over_training(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    phases: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    title: str = "Copying from context over training",
) -> go.Figure:
    """runs: model -> its measurement rows ({"step", "second_copy_loss", "first_copy_loss",
    "best_induction"?}); phases: model -> the phase rule's result ({"found", "start", "end"}).

    Top: second-copy loss (solid) and first-copy loss (dotted) per model, log step axis. Bottom:
    the best head's induction score (models without attention have none). A found phase change is
    a band over [start, end] in the model's colour."""
    if not runs:
        raise ValueError("induction_over_training: no runs")
    colors = run_colors(list(runs))
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("held-out repeated text: loss per token", "best head's induction score"),
    )
    for name, rows in runs.items():
        steps = [r["step"] for r in rows]
        color = colors[name]
        for key, dash, label in (
            ("second_copy_loss", "solid", "second copy"),
            ("first_copy_loss", "dot", "first copy"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=[r.get(key) for r in rows],
                    name=f"{name}: {label}",
                    line={"color": color, "dash": dash},
                    legendgroup=name,
                ),
                row=1,
                col=1,
            )
        scores = [r.get("best_induction") for r in rows]
        if any(s is not None for s in scores):
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=scores,
                    name=f"{name}: best induction",
                    line={"color": color},
                    legendgroup=name,
                    showlegend=False,
                ),
                row=2,
                col=1,
            )
        phase = (phases or {}).get(name) or {}
        if phase.get("found"):
            for row in (1, 2):
                fig.add_vrect(
                    x0=phase["start"],
                    x1=phase["end"],
                    fillcolor=color,
                    opacity=0.15,
                    line_width=0,
                    row=row,
                    col=1,
                )
    fig.update_xaxes(type="log", title_text="training step", row=2, col=1)
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_yaxes(title_text="nats", row=1, col=1)
    fig.update_yaxes(title_text="score", range=[0, 1], row=2, col=1)
    fig.update_layout(title=title, height=560, legend={"groupclick": "togglegroup"})
    return fig
