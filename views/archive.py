"""'Export everything': every view's files for the state on screen, in one ZIP.

Each view contributes the files its own export buttons make (HTML left out: every one inlines
plotly.js, ~4.7 MB), under a folder named by the view's key; a MANIFEST.txt at the top says what
made them (the same context line the images carry) and which views had nothing to export."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from analysis.capture import Capture
from views.exports import ExportContext

if TYPE_CHECKING:
    from views.registry import View
    from views.view_input import ViewInput

SKIPPED = ("html",)  # plotly.js inlined in each: the archive would be mostly copies of it


def archive_bytes(
    ctx: ExportContext,
    cap: Capture,
    views: Sequence[View],
    input_for: Callable[[View], ViewInput],
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """The ZIP; input_for(view): the choices that view's files are made for."""
    buf = io.BytesIO()
    lines = ["Attention Lab export", ctx.caption(), ""]
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, view in enumerate(views):
            inp = input_for(view)
            for f in view.exports:
                if f.suffix in SKIPPED:
                    continue
                try:
                    data = f.data(ctx, cap, inp)
                except Exception as e:  # noqa: BLE001 - one view's failure must not lose the rest
                    lines.append(f"{view.key}/{f.suffix}: not exported ({type(e).__name__}: {e})")
                    continue
                name = f"{view.key}/{f.file_name(ctx, inp.focus)}"
                zf.writestr(name, data if isinstance(data, bytes) else data.encode("utf-8"))
                lines.append(name)
            if progress is not None:
                progress(i + 1, len(views))
        zf.writestr("MANIFEST.txt", "\n".join(lines) + "\n")
    return buf.getvalue()
