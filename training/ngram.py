"""A count n-gram reference beyond the bigram: interpolated Kneser-Ney on token ids.

The records' count references stop at the bigram, which says whether a model uses *any* context.
This one says how far counting alone gets with more of it: an n-gram model of a few characters of
context, the classic strong count baseline (Kneser & Ney 1995; the interpolated form with one
discount per order, D = n1 / (n1 + 2 n2), as Chen & Goodman 1998 estimate it). Fitted on the
tokens the suite's models trained on, its order chosen on the held-out slice, scored on
validation:

    python -m training.ngram --suite configs/suite.toml [--orders 2 3 4 5 6 7 8]

prints each order's held-out and validation loss (nats/token, bits/char) and the chosen order.

Dimensions: N = the model's order (tokens of context + 1), k = one order of the interpolation
(1..N), V = vocabulary size; an n-gram of token ids is one int64 code, sum of id * V^place.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Order:
    """Counts of one order k: the k-grams seen (sorted codes) with their count (the raw count at
    the top order, the number of distinct one-token left extensions below it), and per context
    (the k-gram's first k-1 tokens) the total count and how many distinct tokens follow it."""

    codes: np.ndarray  # int64 [n_kgrams], sorted
    counts: np.ndarray  # float64 [n_kgrams]
    contexts: np.ndarray  # int64 [n_contexts], sorted
    totals: np.ndarray  # float64 [n_contexts]
    followers: np.ndarray  # float64 [n_contexts]
    discount: float


def _codes(tokens: np.ndarray, k: int, vocab: int) -> np.ndarray:
    """int64 code of the k-gram ending at each index from k-1 on: [len(tokens) - k + 1]."""
    t = tokens.astype(np.int64)
    code = t[: len(t) - k + 1].copy()
    for j in range(1, k):
        code = code * vocab + t[j : len(t) - k + 1 + j]
    return code


def _lookup(table: np.ndarray, values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """values[table == key] for each key, 0 where a key is not in the sorted table."""
    if len(table) == 0:
        return np.zeros(len(keys))
    at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return np.where(table[at] == keys, values[at], 0.0)


def _check_ids(tokens: np.ndarray, vocab: int) -> None:
    """Ids outside 0..vocab-1 would collide with other n-grams' codes: refuse them."""
    if len(tokens) and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab):
        raise ValueError(f"token ids must lie in 0..{vocab - 1}")


def loss_by_window_position(log_probs: np.ndarray, n_ctx: int) -> list[float]:
    """Mean loss of each target at the window position where the model's evaluation scores it
    (`training.batches.eval_windows`: windows at 0, n_ctx, 2 n_ctx, ..., and a last one flush with
    the end that scores only new targets), from log_probs of targets 1..n: [n_ctx] (fewer for a
    split shorter than one window). A model sees fewer than N-1 tokens of context at the first
    positions of its window and a count model never does: read them on the same positions."""
    n = len(log_probs)
    width = min(n_ctx, n)
    position = np.arange(n) % width
    n_full = n // width
    tail = n - n_full * width
    if tail:  # the last window starts at n - width; its new targets are the last `tail`
        position[n_full * width :] = np.arange(width - tail, width)
    sums = np.bincount(position, weights=-log_probs, minlength=width)
    return (sums / np.bincount(position, minlength=width)).tolist()


def _discount(counts: np.ndarray) -> float:
    n1, n2 = float((counts == 1).sum()), float((counts == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 > 0 else 0.5


class KneserNey:
    """Interpolated Kneser-Ney n-gram model of order N over ids 0..V-1."""

    def __init__(self, train: np.ndarray, order: int, vocab: int) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        if order * math.log2(max(vocab, 2)) > 62:
            raise ValueError(f"order {order} over {vocab} tokens does not fit an int64 code")
        if len(train) < order:
            raise ValueError(f"{len(train)} training tokens are fewer than the order {order}")
        _check_ids(train, vocab)
        self.order, self.vocab = order, vocab
        self.orders: list[_Order] = []
        top_codes, top_counts = np.unique(_codes(train, order, vocab), return_counts=True)
        above = top_codes  # the distinct (k+1)-grams, for continuation counts
        for k in range(order, 0, -1):
            if k == order:
                codes, counts = top_codes, top_counts.astype(np.float64)
            else:  # continuation count: distinct tokens seen just before the k-gram
                codes, counts = np.unique(above % vocab**k, return_counts=True)
                counts = counts.astype(np.float64)
            contexts, inverse = np.unique(codes // vocab, return_inverse=True)
            totals = np.bincount(inverse, weights=counts)
            followers = np.bincount(inverse).astype(np.float64)
            self.orders.insert(
                0, _Order(codes, counts, contexts, totals, followers, _discount(counts))
            )
            above = codes

    def log_probs(self, tokens: np.ndarray) -> np.ndarray:
        """log P(tokens[i] | the up to N-1 tokens before it) for i = 1..len-1: [len - 1]."""
        if len(tokens) < 2:
            raise ValueError("scoring needs at least two tokens (one target)")
        _check_ids(tokens, self.vocab)
        t = tokens.astype(np.int64)
        n = len(t) - 1
        p = np.full(n, 1.0 / self.vocab)  # order 0: uniform, so nothing is ever impossible
        for k, o in enumerate(self.orders, start=1):
            # targets 1..n; the k-gram ending at target i needs i >= k-1 earlier tokens
            first = max(k - 1, 1)  # first target with k-1 tokens of context
            if first > n:
                break
            codes = _codes(t, k, self.vocab)[first - (k - 1) :]  # k-grams ending at first..n
            count = _lookup(o.codes, o.counts, codes)
            ctx = codes // self.vocab
            total = _lookup(o.contexts, o.totals, ctx)
            follow = _lookup(o.contexts, o.followers, ctx)
            lower = p[first - 1 :]
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = (np.maximum(count - o.discount, 0.0) + o.discount * follow * lower) / safe
            p[first - 1 :] = np.where(seen, mixed, lower)
        return np.log(p)

    def loss(self, tokens: np.ndarray) -> float:
        """Mean nats per target over tokens[1:]."""
        return float(-self.log_probs(tokens).mean())


ORDERS = tuple(range(2, 9))  # the orders a record tries: 6 wins on Tiny Shakespeare's characters


def fitting_orders(vocab: int, orders: tuple[int, ...] = ORDERS) -> list[int]:
    """The orders whose n-grams fit an int64 code over this vocabulary."""
    return [n for n in orders if n * math.log2(max(vocab, 2)) <= 62]


@dataclass(frozen=True)
class NgramReference:
    order: int  # chosen on the held-out slice
    by_order: dict[int, tuple[float, float]]  # order -> (held-out loss, validation loss)
    # the chosen order's validation loss at each window position of a model's evaluation
    # (`loss_by_window_position`), when a context was given
    by_position: list[float] | None = None

    @property
    def loss(self) -> float:
        """Validation loss of the chosen order."""
        return self.by_order[self.order][1]


def ngram_reference(
    train: np.ndarray,
    held_out: np.ndarray,
    scored: np.ndarray,
    vocab: int,
    orders: list[int],
    n_ctx: int | None = None,
) -> NgramReference:
    """Every order fitted on `train`, scored on `held_out` and `scored`; the order is chosen on
    held-out loss (validation is reported, never used for choosing). With n_ctx, also the chosen
    order's loss at each position of a model's evaluation windows over `scored`."""
    by_order, scored_lp = {}, {}
    for n in orders:
        model = KneserNey(train, n, vocab)
        scored_lp[n] = model.log_probs(scored)
        by_order[n] = (model.loss(held_out), float(-scored_lp[n].mean()))
    order = min(by_order, key=lambda n: by_order[n][0])
    curve = None if n_ctx is None else loss_by_window_position(scored_lp[order], n_ctx)
    return NgramReference(order, by_order, curve)


def main(argv: list[str] | None = None) -> int:
    from training.prepare import prepare_data
    from training.suite import read_suite

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="configs/suite.toml")
    parser.add_argument("--variant", default="baseline", help="whose data: its tokenizer, split")
    parser.add_argument("--orders", type=int, nargs="+", default=list(ORDERS))
    args = parser.parse_args(argv)
    try:
        suite = read_suite(args.suite)
        variant = next((v for v in suite.variants if v.name == args.variant), None)
        if variant is None:
            raise ValueError(f"no variant {args.variant!r} in {args.suite}")
        data = prepare_data(variant.run)
        if data.train is None or data.val is None or data.holdout is None:
            raise ValueError("the n-gram reference needs a corpus with a held-out slice")
        ref = ngram_reference(
            data.train, data.holdout, data.val, data.tokenizer.n_vocab, args.orders
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    chars_per_token = data.val_chars / (len(data.val) - 1)
    print(
        f"interpolated Kneser-Ney on {data.corpus_source} ({len(data.train):,} training tokens, "
        f"held-out slice {len(data.holdout):,}, validation {len(data.val) - 1:,} targets)"
    )
    print("order | held-out nats/token | val nats/token | val bits/char")
    for n, (ho, val) in ref.by_order.items():
        mark = "  <- chosen on held-out" if n == ref.order else ""
        print(f"{n:5d} | {ho:.3f} | {val:.3f} | {val / chars_per_token / math.log(2):.3f}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
