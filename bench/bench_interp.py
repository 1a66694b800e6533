"""How long each interpretability view's computation takes for one prompt on a shipped model.

Bars (`interp.views`): every view <= 300 ms for a 128-token prompt; patching every head of every
layer <= 3 s. The views and their budgets come from `interp.VIEWS`, the table the app uses too;
each is its `interp` computation alone (no figure), timed in interleaved rounds (see
`bench/_timing.py`), medians printed. Patching's layer x position maps (every position of every
layer) are held to the 3 s patching budget as well. The corrupted prompt replaces 8 tokens in
the middle of the clean one, as a typical corruption does.

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
from interp import VIEWS, VIEWS_BY_KEY, PatchingSetup, ViewInputs, setup_from_predictions  # noqa: E402
from interp.views import PATCHING_BUDGET_S  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.tokenizers import TokenizerError  # noqa: E402
from model.transformer import Transformer  # noqa: E402

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. "
    "resolved.\n\nFirst Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n"
)


def prompt(ck, n_pos: int) -> torch.Tensor:
    """Shakespeare where the tokenizer can spell it, else random tokens (e.g. a reversal task)."""
    try:
        ids = ck.tokenizer.encode(TEXT)
    except TokenizerError:
        gen = torch.Generator().manual_seed(0)
        return torch.randint(0, ck.config.vocab_size, (n_pos,), generator=gen)
    while len(ids) < n_pos:
        ids = ids + ids
    return torch.tensor(ids[:n_pos])


def patching_setup(model: Transformer, clean: torch.Tensor) -> PatchingSetup:
    """The same prompt with a stretch in the middle replaced by other tokens."""
    corrupted = clean.clone()
    mid = len(clean) // 2
    corrupted[mid : mid + 8] = (torch.roll(clean[mid : mid + 8], 3) + 1) % model.cfg.vocab_size
    return setup_from_predictions(model, clean, corrupted)


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
    inputs = ViewInputs(tokens, setup=setup)
    views: dict[str, tuple[Callable[[], object], float]] = {}
    for view in VIEWS:
        reason = view.unavailable(model)
        if reason is not None:
            print(f"  {view.key}: not shown for this model ({reason})")
            continue
        views[view.key] = (lambda view=view: view.compute(model, inputs), view.budget_s)
    noising = ViewInputs(tokens, setup=setup, direction="noising")
    patch_heads = VIEWS_BY_KEY["patch_heads"]
    views["patch_heads noising"] = (lambda: patch_heads.compute(model, noising), PATCHING_BUDGET_S)
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
