"""Benchmark our BPE trainer against tiktoken's textbook one (`tiktoken._educational.bpe_train`).

Both learn ranks from the same text at the same vocabulary size; the script prints both training
times, the speed-up, and each vocabulary's compression (UTF-8 bytes per token when tiktoken
encodes the same text), and fails (exit code 1) unless ours is at least 20x faster with
compression within 1%.

    .venv/bin/python -m bench.bench_bpe                   # Tiny Shakespeare train split, 512 tokens
    .venv/bin/python -m bench.bench_bpe --chars 100000    # a quicker run on a prefix

The default vocabulary, 512, is the size of the project's Shakespeare BPE: 256 merges on top of
the bytes, small enough to keep the embedding table and heatmap labels readable; 1024 would
work as well (768 merges instead of 256, so the textbook trainer takes about three times as
long). The textbook trainer needs a few minutes on the full train split at 512.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import sys
import time
from pathlib import Path

import tiktoken
from tiktoken._educational import bpe_train as educational_bpe_train

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also runnable as `python bench/bench_bpe.py`
    sys.path.insert(0, str(REPO_ROOT))

from model.tokenizers import GPT2_PATTERN, GPT4_PATTERN, train_bpe_ranks  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}
MIN_SPEEDUP = 20.0
MAX_COMPRESSION_GAP = 0.01


def bytes_per_token(ranks: dict[bytes, int], pattern: str, text: str) -> float | None:
    """Compression of `text` under `ranks`; None when tiktoken cannot use them (repeated ranks)."""
    if sorted(ranks.values()) != list(range(len(ranks))):
        return None
    encoding = tiktoken.Encoding(
        name="bench", pat_str=pattern, mergeable_ranks=ranks, special_tokens={}
    )
    return len(text.encode("utf-8")) / len(encoding.encode_ordinary(text))


def run_educational(text: str, vocab_size: int, pattern: str) -> dict[bytes, int]:
    # It prints a visualisation of every merge unless told not to; silence anything left too.
    assert "visualise" in inspect.signature(educational_bpe_train).parameters
    with contextlib.redirect_stdout(io.StringIO()):
        return educational_bpe_train(text, vocab_size, pattern, visualise=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UTF-8 text corpus")
    parser.add_argument("--vocab-size", type=int, default=512, help="tokens, bytes included")
    parser.add_argument(
        "--chars", type=int, default=None, help="use only this many characters of the train split"
    )
    parser.add_argument("--pattern", choices=sorted(PATTERNS), default="gpt2")
    args = parser.parse_args(argv)

    if not args.data.is_file():
        parser.error(f"no corpus at {args.data}; pass --data")
    text = args.data.read_text(encoding="utf-8")
    train = text[: int(0.9 * len(text))]  # the first 90%: the project's (and nanoGPT's) split
    if args.chars is not None:
        train = train[: args.chars]
    pattern = PATTERNS[args.pattern]
    print(
        f"corpus {args.data.name}: {len(train):,} chars of the train split, "
        f"vocab_size {args.vocab_size}, pattern {args.pattern}"
    )

    start = time.perf_counter()
    ours = train_bpe_ranks(train, args.vocab_size, pattern)
    t_ours = time.perf_counter() - start
    print(f"ours       {t_ours:8.2f} s", flush=True)

    start = time.perf_counter()
    reference = run_educational(train, args.vocab_size, pattern)
    t_ref = time.perf_counter() - start
    print(f"educational{t_ref:8.2f} s")

    speedup = t_ref / t_ours
    bpt_ours = bytes_per_token(ours, pattern, train)
    bpt_ref = bytes_per_token(reference, pattern, train)
    assert bpt_ours is not None  # our trainer never repeats a rank
    print(f"speed-up   {speedup:8.1f}x")
    print(f"bytes/token: ours {bpt_ours:.4f}, educational ", end="")
    if bpt_ref is None:
        print("n/a (its ranks repeat a value, which tiktoken cannot load)")
        gap = 0.0
    else:
        gap = (bpt_ours - bpt_ref) / bpt_ref
        print(f"{bpt_ref:.4f}, relative difference {gap:+.3%}")
    print(f"identical ranks: {ours == reference}")

    ok = speedup >= MIN_SPEEDUP and abs(gap) <= MAX_COMPRESSION_GAP
    print(
        f"{'PASS' if ok else 'FAIL'}: need >= {MIN_SPEEDUP:.0f}x and compression within "
        f"{MAX_COMPRESSION_GAP:.0%}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
