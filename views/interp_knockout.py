"""Head knockout: the change in the prompt's loss when each head is knocked out, every head in one
map (`interp.knockout`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.capture import Capture
from interp.knockout import KnockoutMap
from views.interp_lab import Matrix, Request, run_or_note
from views.items import Chart, Item, Note
from viz.interp_heatmap import labelled_heatmap

if TYPE_CHECKING:
    from views.view_input import ViewInput

REQUEST = Request("knockout")


def result(cap: Capture, inp: ViewInput) -> KnockoutMap | Note:
    return run_or_note(inp.lab, REQUEST)


def _labels(k: KnockoutMap) -> tuple[list[str], list[str]]:
    L, H = k.losses.shape
    return [f"L{i}" for i in range(L)], [f"H{h}" for h in range(H)]


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    k = result(cap, inp)
    if isinstance(k, Note):
        return [k]
    rows, cols = _labels(k)
    delta = k.delta.numpy()
    worst = divmod(int(delta.argmax()), delta.shape[1])
    fig = labelled_heatmap(
        delta,
        cols,
        rows,
        title=f"Loss change with each head knocked out ({k.mode}); base {k.base_loss:.4f} nats/token",
        value_name="Δ loss",
        signed=True,
        cell_text=[[f"{v:+.3f}" for v in row] for row in delta],
        hover_text=[[f"loss {v:.4f}" for v in row] for row in k.losses.numpy()],
        x_title="head",
        y_title="layer",
    )
    return [
        Chart("knockout_fig", fig),
        Note(
            f"Red: the prompt's loss rises without that head (it helps here); blue: it falls. "
            f"The largest rise is L{worst[0]}H{worst[1]} ({delta.max():+.3f} nats/token). Each "
            "cell is one forward pass with that head's output zeroed and the sidebar's switches "
            "kept; knock heads out together in the sidebar to see how they combine."
        ),
    ]


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    k = result(cap, inp)
    if isinstance(k, Note):
        return k
    rows, cols = _labels(k)
    return [
        Matrix(
            "delta",
            "loss change with the head knocked out",
            k.delta.numpy(),
            rows,
            cols,
            True,
            "Δ loss",
        ),  # fmt: skip
        Matrix(
            "loss",
            "loss with the head knocked out",
            k.losses.numpy(),
            rows,
            cols,
            False,
            "nats/token",
        ),  # fmt: skip
    ]
