"""Stream health: mean pairwise cosine and effective rank of the positions after each layer (rank
collapse), and each component's share of what is written into the residual stream."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.capture import Capture
from interp import StreamHealth
from views.interp_lab import Matrix, Request, run_or_note
from views.items import Chart, Item, Note
from viz.interp_stream import rank_collapse_lines, write_share_bars

if TYPE_CHECKING:
    from views.view_input import ViewInput

REQUEST = Request("stream_health")


def result(inp: ViewInput) -> StreamHealth | Note:
    return run_or_note(inp.lab, REQUEST)


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    h = result(inp)
    if isinstance(h, Note):
        return [h]
    projection = None if h.projection_share is None else h.projection_share.numpy()
    return [
        Chart(
            "health_rank_fig",
            rank_collapse_lines(list(h.points), h.mean_cosine.numpy(), h.effective_rank.numpy()),
        ),
        Chart(
            "health_writes_fig",
            write_share_bars(list(h.components), h.norm_share.numpy(), projection),
        ),
    ]


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    h = result(inp)
    if isinstance(h, Note):
        return h
    per_layer = np.stack([h.mean_cosine.numpy(), h.effective_rank.numpy()], axis=1)
    shares = [h.norm_share.numpy()]
    share_names = ["share of write norms"]
    if h.projection_share is not None:
        shares.append(h.projection_share.numpy())
        share_names.append("projection on the final stream")
    return [
        Matrix(
            "rank_collapse",
            "Stream health per layer",
            per_layer.astype(np.float32),
            list(h.points),
            ["mean pairwise cosine", "effective rank"],
        ),
        Matrix(
            "write_share",
            "Who writes the residual stream",
            np.stack(shares, axis=1).astype(np.float32),
            list(h.components),
            share_names,
        ),
    ]
