"""Static (PNG/SVG) images and CSV of the interpretability views' labelled matrices, for the
downloads: one panel per matrix, stacked top to bottom, rows and columns labelled."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from viz.colors import symmetric_range
from viz.labels import mpl_text, thinned_ticks, visible
from viz.static import CAPTION_LINE_IN, add_caption, caption_lines

ImageFormat = Literal["png", "svg"]
_MAX_LABEL = 14  # characters of a tick label
_MAX_TICKS = 40


@dataclass(frozen=True)
class Panel:
    """One labelled matrix: values [row, col], its labels, how to colour it."""

    title: str
    values: np.ndarray
    rows: Sequence[str]
    cols: Sequence[str]
    signed: bool = False
    value_name: str = "value"


def _short(label: str) -> str:
    label = visible(label) if len(label) <= 1 else label
    return mpl_text(label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…")


def _ticks(labels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    ticks = thinned_ticks(len(labels), _MAX_TICKS)
    return ticks, [_short(labels[i]) for i in ticks]


def panels_image(
    panels: Sequence[Panel],
    *,
    title: str = "",
    fmt: ImageFormat = "png",
    dpi: int = 150,
    caption: str = "",
) -> bytes:
    """Every panel as a heatmap under the other; signed panels on a diverging scale centred on
    zero, the others on viridis from their minimum to their maximum. No panel: the title alone.
    caption: the context (model, switches, prompt, metric), printed at the foot."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', got {fmt!r}")
    heights = [min(7.0, 1.6 + 0.12 * max(1, p.values.shape[0])) for p in panels] or [0.6]
    lines = caption_lines(caption)
    foot = CAPTION_LINE_IN * len(lines)
    fig = Figure(figsize=(9.0, sum(heights) + 0.8 + 0.9 * len(panels) + foot), layout="constrained")
    if lines:  # the constrained layout keeps the panels above the caption's band
        fig.get_layout_engine().set(rect=(0, foot / fig.get_figheight(), 1, 1))
    add_caption(fig, lines)
    if title:
        fig.suptitle(mpl_text(title))
    if panels:
        axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
        for ax, p in zip(axes, panels, strict=True):
            z = np.asarray(p.values, dtype=np.float64)
            if z.ndim != 2 or z.shape != (len(p.rows), len(p.cols)):
                raise ValueError(
                    f"panel {p.title!r}: values {z.shape} do not match "
                    f"{len(p.rows)} row and {len(p.cols)} column labels"
                )
            if z.size == 0:
                ax.set_axis_off()
                ax.set_title(mpl_text(p.title + " (empty)"), fontsize=9)
                continue
            finite = z[np.isfinite(z)]
            if p.signed:
                peak = symmetric_range(z)
                norm, cmap = Normalize(-peak, peak), "RdBu_r"
            else:
                lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
                norm, cmap = Normalize(lo, hi if hi > lo else lo + 1.0), "viridis"
            image = ax.imshow(
                np.ma.masked_invalid(z),
                cmap=colormaps[cmap].with_extremes(bad="#dddddd"),
                norm=norm,
                aspect="auto",
                interpolation="nearest",
            )
            xt, xl = _ticks(p.cols)
            yt, yl = _ticks(p.rows)
            ax.set_xticks(xt, xl, rotation=90, fontsize=6)
            ax.set_yticks(yt, yl, fontsize=6)
            ax.set_title(mpl_text(p.title), fontsize=9)
            fig.colorbar(image, ax=ax, label=mpl_text(p.value_name), fraction=0.03)
    buf = io.BytesIO()
    # no creation date, so exporting the same matrices twice gives the same bytes
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def panels_csv(named: Sequence[tuple[str, Panel, Sequence[Sequence[str]] | None]]) -> str:
    """Every matrix in one long table: name, row, col, value (and label, where cells have one).
    Labels are written as they are (the csv module quotes commas, quotes and newlines)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    with_labels = any(labels is not None for _, _, labels in named)
    writer.writerow(["matrix", "row", "col", "value"] + (["label"] if with_labels else []))
    for name, p, labels in named:
        z = np.asarray(p.values)
        for i, row in enumerate(p.rows):
            for j, col in enumerate(p.cols):
                cell = [name, row, col, f"{float(z[i, j]):.6g}"]
                if with_labels:
                    cell.append("" if labels is None else labels[i][j])
                writer.writerow(cell)
    return out.getvalue()
