"""Publication-quality PNG / SVG of attention patterns with matplotlib.

Plotly's static export needs a headless Chrome, which a fresh machine (or CI) does not have;
matplotlib's Agg and SVG backends need nothing. Figures are built on `matplotlib.figure.Figure`
directly, never through pyplot, so there is no global figure state to leak between the app's
sessions and no GUI backend to select.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap, Normalize, PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from viz.labels import mpl_text, thinned_ticks, visible
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

ImageFormat = Literal["png", "svg"]
_MAX_LABEL = 10  # characters of a tick label


def _norm(vmin: float, vmax: float, gamma: float) -> Normalize:
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    return Normalize(vmin, vmax) if gamma == 1 else PowerNorm(gamma, vmin, vmax)


def _cmap(name: str) -> Colormap:
    # Masked (-inf) and NaN cells are drawn light grey, so "hidden" differs from "weight 0".
    return colormaps[name].with_extremes(bad="#dddddd")


def _short(label: str) -> str:
    # The margins are fixed (see head_image), so a long BPE token must not outgrow them.
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _ticks(tokens: Sequence[str], max_ticks: int) -> tuple[np.ndarray, list[str]]:
    """Thinned tick positions and their token labels: a long prompt gets every n-th token."""
    ticks = thinned_ticks(len(tokens), max_ticks)
    return ticks, [mpl_text(_short(visible(tokens[i]))) for i in ticks]


def _check_format(fmt: str) -> None:
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', got {fmt!r}")


CAPTION_CHARS = 150  # characters per caption line
CAPTION_LINE_IN = 0.16  # inches a caption line takes at the figure's foot


def caption_lines(caption: str) -> list[str]:
    """The caption wrapped for the figure's foot (at most four lines, the last cut with '…')."""
    import textwrap

    lines = textwrap.wrap(caption, CAPTION_CHARS) if caption else []
    if len(lines) > 4:
        lines = lines[:3] + [lines[3][: CAPTION_CHARS - 1] + "…"]
    return lines


def add_caption(fig: Figure, lines: list[str]) -> None:
    """What made the figure (model, switches, prompt), in small grey type at its foot, so an
    image carries its context wherever it is pasted."""
    if lines:
        fig.text(0.01, 0.004, mpl_text("\n".join(lines)), fontsize=6.5, color="#555555",
                 ha="left", va="bottom")  # fmt: skip


def _save(fig: Figure, fmt: ImageFormat, dpi: int) -> bytes:
    buf = io.BytesIO()
    # No creation date in the metadata, so exporting the same figure twice gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def _figure(
    width: float, height: float, *, left: float, bottom: float, right: float, top: float
) -> tuple[Figure, tuple[float, float, float, float]]:
    """A figure of `width` x `height` inches and its plot area, margins given in inches."""
    fig = Figure(figsize=(width, height))
    return fig, (left / width, bottom / height, 1 - right / width, 1 - top / height)


def head_image(
    pattern: Float[np.ndarray, "q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "",
    fmt: ImageFormat = "png",
    dpi: int = 200,
    vmin: float = 0.0,
    vmax: float = 1.0,
    gamma: float = 1.0,
    cmap: str = "viridis",
    value_name: str = "attention weight",
    max_ticks: int = 48,
    caption: str = "",
) -> bytes:
    """One head: queries down, keys across, token labels on both axes, colour bar, title;
    caption: the context, printed at the foot."""
    _check_format(fmt)
    s = Shapes("head_image")
    p = s.array(pattern, "q_pos k_pos", "pattern")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    # Fixed margins in inches instead of constrained layout: that layout engine measures every
    # tick label in an extra draw pass and more than doubled the export time.
    lines = caption_lines(caption)
    foot = CAPTION_LINE_IN * len(lines)
    fig, (left, bottom, right, top) = _figure(
        7.0, 6.6 + foot, left=0.95, bottom=0.95 + foot, right=1.1, top=0.45
    )
    add_caption(fig, lines)
    ax = fig.add_axes((left, bottom, right - left, top - bottom))
    image = ax.imshow(
        np.ma.masked_invalid(p),
        cmap=_cmap(cmap),
        norm=_norm(vmin, vmax, gamma),
        interpolation="nearest",
    )
    ticks, labels = _ticks(toks, max_ticks)
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if title:
        ax.set_title(mpl_text(title))
    cax = fig.add_axes((right + 0.03, bottom + 0.1 * (top - bottom), 0.02, 0.8 * (top - bottom)))
    fig.colorbar(image, cax=cax, label=value_name)
    return _save(fig, fmt, dpi)


def grid_image(
    patterns: Float[np.ndarray, "layer head q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "",
    fmt: ImageFormat = "png",
    dpi: int = 150,
    vmax: float = 1.0,
    gamma: float = 1.0,
    cmap: str = "viridis",
    max_ticks: int = 10,
    caption: str = "",
) -> bytes:
    """Every layer (rows) x head (columns) on one shared colour scale with one colour bar
    (caption: the context, printed at the foot).

    Token labels run along the bottom and left of the outer panels, thinned to `max_ticks` each.
    Non-finite cells are drawn as weight 0 here (white is kept for the gaps between panels).
    """
    _check_format(fmt)
    s = Shapes("grid_image")
    p = s.array(patterns, "layer head q_pos k_pos", "patterns")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    n_layers, n_heads, n = p.shape[:3]
    # One Axes showing a mosaic of all heads, not layer x head Axes: each Axes builds its own tick
    # machinery, which cost ~40% of the export time at 4 x 4 heads.
    gap = max(1, round(0.05 * n))  # blank cells between panels
    step = n + gap
    mosaic = np.full((n_layers * step - gap, n_heads * step - gap), np.nan)
    for layer in range(n_layers):
        for head in range(n_heads):
            r, c = layer * step, head * step
            mosaic[r : r + n, c : c + n] = np.where(np.isfinite(p[layer, head]), p[layer, head], 0)
    panel = 1.9  # inches per head
    lines = caption_lines(caption)
    foot = CAPTION_LINE_IN * len(lines)
    fig, (left, bottom, right, top) = _figure(
        panel * n_heads + 1.6,
        panel * n_layers + 1.3 + foot,
        left=0.8,
        bottom=0.65 + foot,
        right=1.0,
        top=0.65,
    )
    add_caption(fig, lines)
    ax = fig.add_axes((left, bottom, right - left, top - bottom))
    # The gaps are NaN, drawn in the "bad" colour: white, so panels stand apart on the page.
    colours = colormaps[cmap].with_extremes(bad="white")
    image = ax.imshow(
        np.ma.masked_invalid(mosaic),
        cmap=colours,
        norm=_norm(0.0, vmax, gamma),
        interpolation="nearest",
    )
    ticks, labels = _ticks(toks, max_ticks)
    ax.set_xticks(np.concatenate([h * step + ticks for h in range(n_heads)]), labels * n_heads)
    ax.set_yticks(np.concatenate([ly * step + ticks for ly in range(n_layers)]), labels * n_layers)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    ax.tick_params(axis="y", labelsize=7)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for layer in range(n_layers):
        for head in range(n_heads):
            corner = (head * step - 0.5, layer * step - 0.5)
            ax.add_patch(Rectangle(corner, n, n, fill=False, linewidth=0.6, edgecolor="black"))
    for head in range(n_heads):
        ax.annotate(
            f"H{head}",
            xy=(head * step + n / 2, 1),
            xycoords=("data", "axes fraction"),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=10,
        )
    for layer in range(n_layers):
        ax.annotate(
            f"L{layer}",
            xy=(0, layer * step + n / 2),
            xycoords=("axes fraction", "data"),
            xytext=(-32, 0),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=10,
            rotation=90,
        )
    if title:
        fig.suptitle(mpl_text(title), y=1 - 0.12 / fig.get_figheight(), va="top")
    cax = fig.add_axes((right + 0.02, bottom + 0.15 * (top - bottom), 0.015, 0.7 * (top - bottom)))
    fig.colorbar(image, cax=cax, label="attention weight")
    return _save(fig, fmt, dpi)
