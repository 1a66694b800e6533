"""The export command line: run a prompt through a checkpoint and write its attention patterns.

    python -m views.export_cli --checkpoint checkpoints/baseline --prompt "ROMEO:" --out out/ \\
        --format png svg html npz csv --layer 1 --head 2

The files are those of the Explore page's export buttons (`viz.export` makes the bytes); this
module is the only part of the export path that loads a model.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.hook_names import pattern_hooks
from model.safe_read import folder_problem
from training.cli import OneLineParser

FORMATS = ("png", "svg", "html", "npz", "csv")


def _parser() -> argparse.ArgumentParser:
    # every refusal one line (a missing model is no usage mistake, and argparse's usage block
    # above it hid it); --help still shows the usage
    parser = OneLineParser(
        prog="python -m views.export_cli",
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
    import torch  # imported here so `--help` and argument errors answer at once

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
    patterns = pattern_hooks(n_layers)
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
            "switches": Switches().to_metadata(),  # the defaults: nothing switched off
        },
    }


def _exports(args: argparse.Namespace, run: dict[str, Any]) -> Iterator[tuple[str, bytes | str]]:
    """(file name, content) for every requested format."""
    # the figure libraries (plotly, matplotlib) load here, after the checkpoint was accepted:
    # a refusal answers without paying for them
    from viz.attention import head_heatmap, pattern_grid
    from viz.export import head_to_csv, to_html, to_npz, to_png, to_svg

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
    problem = folder_problem(args.out)  # before the model is loaded and run
    if problem is not None:
        parser.error(f"--out {problem}")
    run = _capture(args, parser)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in _exports(args, run):
            path = args.out / name
            if isinstance(data, str):
                path.write_text(data, encoding="utf-8")
            else:
                path.write_bytes(data)
            print(path)
    except OSError as e:  # a full disk, a folder without write permission
        parser.exit(1, f"{parser.prog}: error: writing {e.filename}: {e.strerror}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
