"""Exports (PNG, SVG, self-contained HTML, NPZ, CSV) and the command line that writes them.

    python -m viz.export --checkpoint runs/baby --prompt "To be, or not" --out out/ \\
        --format png svg html npz csv --layer 1 --head 2

The functions return bytes or str and write nothing. Only the command line touches the model; it
imports it (and torch) inside `main`, so importing this module for its functions stays light.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from viz.attention import head_heatmap, pattern_grid
from viz.shapes import Shapes
from viz.static import grid_image, head_image

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

METADATA_KEY = "__metadata__"  # the NPZ entry holding the JSON metadata
FORMATS = ("png", "svg", "html", "npz", "csv")
_PATTERN = "blocks.{}.attn.hook_pattern"


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

    Columns: q_pos, query token, then one column per key token. Tokens are written as they are
    (the csv module quotes commas, quotes and newlines), values with 6 significant digits.
    """
    s = Shapes("head_to_csv")
    p = s.array(pattern, "q_pos k_pos", "pattern")
    toks = s.tokens(tokens, "q_pos", "k_pos")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["q_pos", "query", *toks])
    for i, row in enumerate(p):
        writer.writerow([i, toks[i], *(f"{v:.6g}" for v in row)])
    return out.getvalue()


# --- command line -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m viz.export",
        description="Run a prompt through a checkpoint and export its attention patterns.",
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder")
    parser.add_argument("--prompt", required=True, help="text to run through the model")
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created)")
    parser.add_argument(
        "--format", nargs="+", choices=FORMATS, default=["png"], help="one or more (default png)"
    )
    parser.add_argument("--layer", type=int, help="with --head: export that head, not the grid")
    parser.add_argument("--head", type=int, help="with --layer: export that head, not the grid")
    return parser


def _numpy(tensor: Any) -> np.ndarray:
    """A cached tensor as numpy; float16/bfloat16 become float32 (numpy has no bfloat16)."""
    t = tensor.detach().cpu()
    if t.is_floating_point():
        t = t.float()
    return t.numpy()


def _capture(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Load the checkpoint, run the prompt, return what the exports need (numpy only)."""
    import torch  # the model side is imported here only, so `import viz.export` stays torch-free

    from model.checkpoint import load_checkpoint
    from model.switches import Switches

    try:
        checkpoint = load_checkpoint(args.checkpoint)
    except ValueError as e:  # CheckpointError: the message names the file and the problem
        parser.error(str(e))
    config, tokenizer, model = checkpoint.config, checkpoint.tokenizer, checkpoint.model
    n_layers, n_heads = config.n_layers, config.n_heads
    if args.layer is not None and not (0 <= args.layer < n_layers and 0 <= args.head < n_heads):
        parser.error(f"--layer/--head must be within {n_layers} layers x {n_heads} heads")
    try:
        ids = tokenizer.encode(args.prompt)
    except ValueError as e:  # characters outside the vocabulary, named by the tokenizer
        parser.error(f"cannot encode the prompt: {e}")
    if not ids:
        parser.error("the prompt encodes to no tokens")
    n_ctx = getattr(config, "n_ctx", None)
    if n_ctx is not None and len(ids) > n_ctx:
        parser.error(f"the prompt is {len(ids)} tokens; this model's context is {n_ctx}")
    patterns = [_PATTERN.format(layer) for layer in range(n_layers)]
    if patterns[0] not in getattr(model, "hook_names", patterns):
        parser.error(f"{checkpoint.name} has no attention patterns (an LSTM?)")

    # The NPZ promises every captured tensor; the figures need only the patterns.
    names = (lambda name: True) if "npz" in args.format else patterns
    model.eval()
    with torch.no_grad():
        logits, cache = model.run_with_cache(torch.tensor([ids], dtype=torch.long), names=names)
    arrays = {name: _numpy(tensor) for name, tensor in cache.items()}
    arrays["tokens"] = np.asarray(ids, dtype=np.int64)
    arrays["logits"] = _numpy(logits)
    tokens = tokenizer.token_strings(ids)
    return {
        "name": checkpoint.name,
        "tokens": tokens,
        "grid": np.stack([arrays[name][0] for name in patterns]),  # [layer, head, q_pos, k_pos]
        "arrays": arrays,
        "metadata": {
            "model": checkpoint.name,
            "config_hash": config.hash(),
            "config": config.to_dict() if hasattr(config, "to_dict") else None,
            "prompt": args.prompt,
            "token_strings": tokens,
            "switches": dataclasses.asdict(Switches()),  # the defaults: nothing switched off
        },
    }


def _exports(args: argparse.Namespace, run: dict[str, Any]) -> Iterator[tuple[str, bytes | str]]:
    """(file name, content) for every requested format."""
    grid, tokens = run["grid"], run["tokens"]
    n_layers, n_heads = grid.shape[:2]
    if args.layer is not None:
        stem, attention = f"L{args.layer}H{args.head}", grid[args.layer, args.head]
        title = f"{run['name']} · layer {args.layer} head {args.head}"
    else:
        stem, attention, title = "attention_grid", grid, f"{run['name']} · attention patterns"
    for fmt in dict.fromkeys(args.format):
        if fmt == "png":
            yield f"{stem}.png", to_png(attention, tokens, title=title)
        elif fmt == "svg":
            yield f"{stem}.svg", to_svg(attention, tokens, title=title)
        elif fmt == "html":
            # A file on disk has no page budget, so the grid keeps full resolution (no pooling).
            fig = (
                head_heatmap(attention, tokens, title=title)
                if attention.ndim == 2
                else pattern_grid(attention, tokens, title=title, max_positions=None)
            )
            yield f"{stem}.html", to_html(fig)
        elif fmt == "csv":
            heads = [(args.layer, args.head)] if args.layer is not None else None
            for layer, head in heads or [(i, j) for i in range(n_layers) for j in range(n_heads)]:
                yield f"L{layer}H{head}.csv", head_to_csv(grid[layer, head], tokens)
        elif fmt == "npz":
            yield "activations.npz", to_npz(run["arrays"], run["metadata"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.layer is None) != (args.head is None):
        parser.error("--layer and --head go together")
    run = _capture(args, parser)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in _exports(args, run):
        path = args.out / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
