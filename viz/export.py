"""Exports (PNG, SVG, self-contained HTML, NPZ, CSV) as bytes or str: nothing is written here.

The command line that runs a checkpoint and writes these files is `python -m views.export_cli`;
this module knows nothing of the model or torch.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from viz.shapes import Shapes
from viz.static import grid_image, head_image

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

METADATA_KEY = "__metadata__"  # the NPZ entry holding the JSON metadata


def _image(
    attention: np.ndarray, tokens: Sequence[str], title: str, fmt: str, **options: Any
) -> bytes:
    arr = np.asarray(attention)
    if arr.ndim == 2:
        return head_image(arr, tokens, title=title, fmt=fmt, **options)
    if arr.ndim == 4:
        return grid_image(arr, tokens, title=title, fmt=fmt, **options)
    raise ValueError(
        f"to_{fmt}: attention must be one head [q_pos, k_pos] or a grid "
        f"[layer, head, q_pos, k_pos], got shape {arr.shape}"
    )


def to_png(
    attention: Float[np.ndarray, "q_pos k_pos"] | Float[np.ndarray, "layer head q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "",
    **options: Any,
) -> bytes:
    """PNG of one head (2-D input) or of the layer x head grid (4-D input); see viz.static."""
    return _image(attention, tokens, title, "png", **options)


def to_svg(
    attention: Float[np.ndarray, "q_pos k_pos"] | Float[np.ndarray, "layer head q_pos k_pos"],
    tokens: Sequence[str],
    *,
    title: str = "",
    **options: Any,
) -> bytes:
    """SVG of one head (2-D input) or of the layer x head grid (4-D input); see viz.static."""
    return _image(attention, tokens, title, "svg", **options)


def to_html(fig: go.Figure) -> str:
    """A complete HTML page with plotly.js inlined (~4.7 MB), so it opens offline, from disk."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def to_npz(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> bytes:
    """Compressed NPZ of every array plus a JSON metadata entry under METADATA_KEY.

    The metadata is stored as a numpy string, not an object, so the file opens with
    np.load(..., allow_pickle=False), which cannot run code hidden in a pickle.
    """
    if METADATA_KEY in arrays:
        raise ValueError(f"to_npz: {METADATA_KEY!r} is reserved for the metadata")
    clean: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise ValueError(f"to_npz: {name!r} has dtype object, which only pickle could store")
        clean[name] = arr
    try:
        blob = json.dumps(dict(metadata), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"to_npz: metadata must be JSON-serialisable ({e})") from None
    buf = io.BytesIO()
    np.savez_compressed(buf, **clean, **{METADATA_KEY: np.array(blob)})
    return buf.getvalue()


def read_npz_metadata(data: bytes) -> dict[str, Any]:
    """The metadata dict of bytes written by `to_npz`."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return json.loads(str(npz[METADATA_KEY]))


def head_to_csv(pattern: Float[np.ndarray, "q_pos k_pos"], tokens: Sequence[str]) -> str:
    """One head's pattern as CSV: a header of key tokens, then one row per query.

    Columns: q_pos, query token, then one column per key, headed by its position and token
    ("3 t": repeated tokens stay apart). Tokens are written as they are (the csv module quotes
    commas, quotes and newlines), values with 6 significant digits.
    """
    s = Shapes("head_to_csv")
    p = s.array(pattern, "q_pos k_pos", "pattern")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["q_pos", "query", *(f"{i} {t}" for i, t in enumerate(toks))])
    for i, row in enumerate(p):
        writer.writerow([i, toks[i], *(f"{v:.6g}" for v in row)])
    return out.getvalue()
