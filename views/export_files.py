"""The files an Explore view offers for download: `ExportFile` (a button: label, file name,
how its bytes are made) and the sets the registry gives its views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from analysis.capture import Capture
from views import exports, interp_exports
from views.explore import Focus
from views.view_input import ViewInput


@dataclass(frozen=True)
class ExportFile:
    label: str  # button label
    what: (
        str  # the file-name part after the model, e.g. "L1H2" or "grid"; "{layer}"/"{head}" filled
    )
    suffix: str  # file extension
    mime: str
    make: Callable[..., bytes | str]  # (context, capture, focus); with whole_input: (..., input)
    whole_input: bool = False  # make reads the whole ViewInput (the interpretability views)

    def data(self, ctx: exports.ExportContext, cap: Capture, inp: ViewInput) -> bytes | str:
        """The file's bytes for what the user chose."""
        return self.make(ctx, cap, inp if self.whole_input else inp.focus)

    def file_name(self, ctx: exports.ExportContext, focus: Focus) -> str:
        what = self.what.format(layer=focus.layer, head=focus.head)
        return f"{ctx.stem}_{what}.{self.suffix}"


NPZ = ExportFile(
    "NPZ (all tensors)", "activations", "npz", "application/octet-stream", exports.npz_bytes
)
HEAD_EXPORTS = (
    ExportFile("PNG", "L{layer}H{head}", "png", "image/png", exports.head_png),
    ExportFile("SVG", "L{layer}H{head}", "svg", "image/svg+xml", exports.head_svg),
    ExportFile("HTML", "L{layer}H{head}", "html", "text/html", exports.head_html),
    ExportFile("CSV", "L{layer}H{head}", "csv", "text/csv", exports.head_csv),
)
GRID_EXPORTS = (
    ExportFile("PNG", "grid", "png", "image/png", exports.grid_png),
    ExportFile("SVG", "grid", "svg", "image/svg+xml", exports.grid_svg),
    ExportFile("HTML", "grid", "html", "text/html", exports.grid_html),
)


def view_files(
    name: str, what: str, build: Callable, matrices: Callable, with_npz: bool = False
) -> tuple[ExportFile, ...]:
    """PNG, SVG, HTML and CSV of a view that reads the capture, from its matrices
    (`views.classic_exports`); with_npz: also their NPZ (else the capture's NPZ covers it)."""
    files = interp_files(name, what, SimpleNamespace(build=build, matrices=matrices))
    return files if with_npz else files[:4]


def interp_files(name: str, what: str, module: object) -> tuple[ExportFile, ...]:
    """PNG, SVG, HTML, CSV and NPZ of an interpretability view (see `views.interp_exports`)."""
    build, matrices = module.build, module.matrices  # type: ignore[attr-defined]
    caption = getattr(module, "caption", None)  # what the view adds to an image's context
    return tuple(
        ExportFile(label, what, suffix, mime, make, whole_input=True)
        for label, suffix, mime, make in (
            ("PNG", "png", "image/png", interp_exports.image(name, matrices, "png", caption)),
            ("SVG", "svg", "image/svg+xml", interp_exports.image(name, matrices, "svg", caption)),
            ("HTML", "html", "text/html", interp_exports.page(name, build)),
            ("CSV", "csv", "text/csv", interp_exports.csv(name, matrices)),
            ("NPZ", "npz", "application/octet-stream", interp_exports.npz(name, matrices)),
        )
    )
