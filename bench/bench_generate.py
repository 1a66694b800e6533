"""What the KV cache buys: greedy generation with the cache vs recomputing the window every step.

Both contenders run `model.generate.generate` on the same model and prompt, interleaved (see
`bench/_timing.py`), and must produce the same tokens before they are timed.

- n_ctx 320: prompt + 256 new tokens fit, so every cached step feeds one position. Goal: >= 5x.
- n_ctx 128 (the default config): the window fills after 128 positions and from then on each step
  re-encodes the window from scratch, cache or not; printed for honesty, without a goal.

    .venv/bin/python -m bench.bench_generate                              # torch's threads, wall clock
    .venv/bin/python -m bench.bench_generate --threads 1 --clock cpu      # steadier when loaded, ~1.5 min
    .venv/bin/python -m bench.bench_generate --new-tokens 512 --long-ctx 528   # a longer generation
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also runnable as `python bench/bench_generate.py`
    sys.path.insert(0, str(REPO_ROOT))

from bench._timing import CLOCKS, add_timing_args, apply_timing_args, interleaved, print_table  # noqa: E402
from model.build import build_model  # noqa: E402
from model.config import ModelConfig  # noqa: E402
from model.generate import GenerationSettings, generate  # noqa: E402

MIN_SPEEDUP = 5.0


def run_case(n_ctx: int, args: argparse.Namespace) -> float:
    """Time both ways of generating with a model of this context; returns the speed-up."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_ctx=n_ctx)).eval()
    prompt = torch.randint(model.cfg.vocab_size, (1, args.prompt))
    cached = GenerationSettings(max_new_tokens=args.new_tokens, temperature=0, use_cache=True)
    recomputed = GenerationSettings(max_new_tokens=args.new_tokens, temperature=0, use_cache=False)
    total = args.prompt + args.new_tokens
    note = "fits" if total <= n_ctx else f"window slides after {n_ctx - args.prompt} new tokens"
    print(f"\nn_ctx {n_ctx}: prompt {args.prompt} + {args.new_tokens} new tokens ({note})")

    with torch.no_grad():
        same = torch.equal(generate(model, prompt, cached), generate(model, prompt, recomputed))
    # greedy decoding of the same logits must agree; a near-tie could flip on rounding alone
    print(f"  same tokens with and without the cache: {same}")
    timings = interleaved(
        {
            "recompute": lambda: generate(model, prompt, recomputed),
            "kv cache": lambda: generate(model, prompt, cached),
        },
        args.repeats,
        args.warmup,
        args.inner,
        CLOCKS[args.clock],
    )
    print_table(timings, ("kv cache",), unit="s")
    speedup = timings.ratio("recompute", "kv cache")
    per_token = timings.median("kv cache") / args.new_tokens * 1e3
    print(f"  speed-up {speedup:.2f}x; cached: {per_token:.2f} ms per token")
    return speedup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt", type=int, default=8, help="prompt tokens (random)")
    parser.add_argument("--new-tokens", type=int, default=256, help="tokens to generate")
    parser.add_argument(
        "--long-ctx", type=int, default=320, help="n_ctx of the model the goal is measured on"
    )
    add_timing_args(parser, repeats=3, warmup=1)
    args = parser.parse_args(argv)
    print(apply_timing_args(args))
    if args.prompt + args.new_tokens > args.long_ctx:
        parser.error("--long-ctx must hold the prompt and every new token")

    speedup = run_case(args.long_ctx, args)
    run_case(ModelConfig().n_ctx, args)

    ok = speedup >= MIN_SPEEDUP
    print(
        f"\n{'PASS' if ok else 'FAIL'}  n_ctx {args.long_ctx} kv cache vs recompute "
        f"{speedup:.2f}x  (need >= {MIN_SPEEDUP:.0f}x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
