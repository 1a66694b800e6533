"""Downloads of the interpretability views, made from what the view computed for the user's
choices: PNG / SVG (every matrix of the view as a heatmap), HTML (the view's charts as on the
page, plotly.js inlined), CSV (every matrix, one long table) and NPZ (every matrix with its row
and column labels, plus the metadata every Explore export carries)."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from analysis.capture import Capture
from views.exports import ExportContext, metadata
from views.interp_lab import Matrix
from views.items import Callout, Chart, Html, Item, Note, SideBySide, Table

if TYPE_CHECKING:
    from views.view_input import ViewInput

Matrices = Callable[[Capture, "ViewInput"], "list[Matrix] | Note"]
Build = Callable[[Capture, "ViewInput"], "list[Item]"]
Make = Callable[[ExportContext, Capture, "ViewInput"], "bytes | str"]


def _panels(matrices: list[Matrix] | Note):
    from viz.interp_static import Panel

    if isinstance(matrices, Note):
        return []
    return [Panel(m.title, m.values, m.rows, m.cols, m.signed, m.value_name) for m in matrices]


def _title(ctx: ExportContext, name: str, matrices: list[Matrix] | Note) -> str:
    title = ctx.title(name)
    return title + (f" · {matrices.text}" if isinstance(matrices, Note) else "")


def image(
    name: str,
    matrices: Matrices,
    fmt: str,
    caption: Callable[[Capture, ViewInput], str] | None = None,
) -> Make:
    """caption: what the view adds to the image's context line (patching: its metric)."""

    def make(ctx: ExportContext, cap: Capture, inp: ViewInput) -> bytes:
        from viz.interp_static import panels_image

        found = matrices(cap, inp)
        extra = caption(cap, inp) if caption is not None and not isinstance(found, Note) else ""
        return panels_image(
            _panels(found), title=_title(ctx, name, found), fmt=fmt, caption=ctx.caption(extra)
        )

    return make


def csv(name: str, matrices: Matrices) -> Make:
    def make(ctx: ExportContext, cap: Capture, inp: ViewInput) -> str:
        from viz.interp_static import panels_csv

        found = matrices(cap, inp)
        if isinstance(found, Note):
            return f"# {_title(ctx, name, found)}\n"
        return panels_csv(
            [(m.name, p, m.labels) for m, p in zip(found, _panels(found), strict=True)]
        )

    return make


def npz(name: str, matrices: Matrices) -> Make:
    def make(ctx: ExportContext, cap: Capture, inp: ViewInput) -> bytes:
        from viz.export import to_npz

        found = matrices(cap, inp)
        arrays: dict[str, np.ndarray] = {}
        titles: dict[str, str] = {}
        if not isinstance(found, Note):
            for m in found:
                arrays[m.name] = np.asarray(m.values)
                arrays[f"{m.name}_rows"] = np.array(m.rows, dtype=str)
                arrays[f"{m.name}_cols"] = np.array(m.cols, dtype=str)
                if m.labels is not None:
                    arrays[f"{m.name}_labels"] = np.array(m.labels, dtype=str)
                titles[m.name] = m.title
        choice = asdict(inp.interp)
        meta = metadata(ctx, cap) | {
            "view": name,
            "matrices": titles,
            "unavailable": found.text if isinstance(found, Note) else None,
            "focus": asdict(inp.focus),
            "choice": choice,
        }
        return to_npz(arrays, meta)

    return make


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(name: str, build: Build) -> Make:
    def make(ctx: ExportContext, cap: Capture, inp: ViewInput) -> str:
        parts, first = [f"<h2>{html.escape(ctx.title(name))}</h2>"], True
        for item in build(cap, inp):
            charts = item.charts if isinstance(item, SideBySide) else (item,)
            for chart in charts:
                if isinstance(chart, Chart):
                    parts.append(chart.figure.to_html(include_plotlyjs=first, full_html=False))
                    first = False
            if isinstance(item, Note | Callout):
                parts.append(f"<p>{html.escape(item.text)}</p>")
            elif isinstance(item, Html):  # already escaped by its builder
                parts.append(item.html)
            elif isinstance(item, Table):
                parts.append(_table(item.rows))
        body = "\n".join(parts)
        return (
            f'<html>\n<head><meta charset="utf-8"><title>{html.escape(ctx.title(name))}'
            f"</title></head>\n<body>\n{body}\n</body>\n</html>\n"
        )

    return make
