"""How long each interpretability view's computation takes for one prompt on a shipped model.

Bars (issue 12): every view <= 300 ms for a 128-token prompt; patching every head of every
layer <= 3 s. Each view is its `interp` function alone (the figure is not built), timed in
interleaved rounds (see `bench/_timing.py`), medians printed. Patching's layer x position maps
(every position of every layer, one forward each) are printed too, against the 3 s patching bar.

    .venv/bin/python -m bench.bench_interp                          # checkpoints/baseline
    .venv/bin/python -m bench.bench_interp --checkpoint checkpoints/char_baseline --threads 1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also runnable as `python bench/bench_interp.py`
    sys.path.insert(0, str(REPO_ROOT))

from bench._timing import CLOCKS, add_timing_args, apply_timing_args, interleaved  # noqa: E402
from interp import (  # noqa: E402
    PatchingSetup,
    detect_heads,
    direct_logit_attribution,
    full_ov,
    full_qk,
    logit_lens,
    patch_heads,
    patch_mlps,
    patch_resid,
    positional_qk,
    score_terms,
    stream_health,
)
from interp.circuits import MAX_CIRCUIT_VOCAB  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.transformer import Transformer  # noqa: E402

VIEW_BAR_S = 0.300
PATCHING_BAR_S = 3.0
TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. "
    "resolved.\n\nFirst Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n"
)


def prompt(ck, n_pos: int) -> torch.Tensor:
    ids = ck.tokenizer.encode(TEXT)
    while len(ids) < n_pos:
        ids = ids + ids
    return torch.tensor(ids[:n_pos])


def patching_setup(model: Transformer, clean: torch.Tensor) -> PatchingSetup:
    """The same prompt with a stretch in the middle replaced by other tokens."""
    corrupted = clean.clone()
    mid = len(clean) // 2
    corrupted[mid : mid + 8] = torch.roll(clean[mid : mid + 8], 3) + 1
    corrupted %= model.cfg.vocab_size
    with torch.no_grad():
        answer = int(model(clean[None])[0, -1].argmax())
        ranked = model(corrupted[None])[0, -1].argsort(descending=True)
    wrong = int(ranked[0]) if int(ranked[0]) != answer else int(ranked[1])
    return PatchingSetup(clean, corrupted, answer, wrong)


def circuits(model: Transformer, tokens: torch.Tensor) -> None:
    """What a circuits view shows: every head's weight circuits and layer 0's score terms."""
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            if model.cfg.vocab_size <= MAX_CIRCUIT_VOCAB:
                full_qk(model, layer, head)
                full_ov(model, layer, head)
            if model.pos_embed is not None:
                positional_qk(model, layer, head, len(tokens))
    if model.cfg.attn_score in ("scaled_dot", "dot"):
        score_terms(model, tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/baseline")
    parser.add_argument("--n-pos", type=int, default=128, help="prompt length (capped at n_ctx)")
    add_timing_args(parser, repeats=7, warmup=1)
    args = parser.parse_args(argv)
    print(apply_timing_args(args))
    ck = load_checkpoint(args.checkpoint)
    model = ck.model
    if not isinstance(model, Transformer):
        print(f"{args.checkpoint}: not a transformer, nothing to interpret")
        return 0
    tokens = prompt(ck, min(args.n_pos, model.cfg.n_ctx))
    setup = patching_setup(model, tokens)
    cfg = model.cfg
    print(
        f"{args.checkpoint}: {cfg.n_layers} layers x {cfg.n_heads} heads, d_model {cfg.d_model}, "
        f"vocab {cfg.vocab_size}, norm {cfg.norm}, residual {cfg.residual}; prompt {len(tokens)} tokens"
    )
    views: dict[str, tuple[Callable[[], object], float]] = {
        "detect_heads": (lambda: detect_heads(model), VIEW_BAR_S),
        "logit_lens": (lambda: logit_lens(model, tokens), VIEW_BAR_S),
        "stream_health": (lambda: stream_health(model, tokens), VIEW_BAR_S),
        "circuits": (lambda: circuits(model, tokens), VIEW_BAR_S),
        "patch_heads": (lambda: patch_heads(model, setup), PATCHING_BAR_S),
        "patch_heads noising": (lambda: patch_heads(model, setup, "noising"), PATCHING_BAR_S),
        "patch_resid": (lambda: patch_resid(model, setup), PATCHING_BAR_S),
        "patch_mlps": (lambda: patch_mlps(model, setup), PATCHING_BAR_S),
    }
    if cfg.residual:
        target = torch.cat([tokens[1:], tokens[:1]])
        views["attribution"] = (lambda: direct_logit_attribution(model, tokens, target), VIEW_BAR_S)
    timings = interleaved(
        {name: fn for name, (fn, _) in views.items()},
        repeats=args.repeats,
        warmup=args.warmup,
        inner=args.inner,
        clock=CLOCKS[args.clock],
    )
    failed = 0
    print(f"  {'view':22} {'median ms':>10} {'bar ms':>8}")
    for name, (_, bar) in views.items():
        median = timings.median(name)
        ok = median <= bar
        failed += not ok
        print(f"  {name:22} {median * 1e3:10.1f} {bar * 1e3:8.0f}  {'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
