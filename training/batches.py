"""From text to training tensors: a token stream cached on disk, and the windows cut from it.

Every batch is a pair (x, y) of int64 tensors [batch, pos] with y = x shifted left by one
token, as in nanoGPT: y[b, i] is the token that follows x[b, i].

Three ways to cut windows of n_ctx tokens:

- `random_windows`: windows starting anywhere, drawn from a torch.Generator (nanoGPT's get_batch).
  Distributed training gives each rank its own generator, `rank_generator(seed, rank)`.
- `sequential_windows`: an epoch of non-overlapping windows (overlapping ones let a small model
  see the same characters many times per epoch and overfit), resumable at any (epoch, step).
  Distributed training passes `rank` / `world_size`; ranks then read disjoint windows.
- `eval_windows`: one deterministic pass in which every token of a split is a target exactly
  once, so all runs are evaluated on the same tokens.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

EVAL_IGNORE_INDEX = -100  # F.cross_entropy's default ignore_index: eval targets already counted


class Encoder(Protocol):
    """What this module needs of a tokenizer (a subset of model.tokenizers.Tokenizer)."""

    @property
    def n_vocab(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def to_json(self) -> dict[str, Any]: ...


# --- the token cache ---------------------------------------------------------------------------


def tokenizer_hash(tokenizer: Encoder) -> str:
    """sha256 of the tokenizer's JSON form: equal hashes mean equal token ids for any text."""
    blob = json.dumps(tokenizer.to_json(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def token_dtype(n_vocab: int) -> np.dtype[Any]:
    """uint16 while ids fit (char, GPT-2's 50,257), halving disk and memory; else uint32."""
    return np.dtype(np.uint16) if n_vocab <= 1 << 16 else np.dtype(np.uint32)


def tokenize_cached(
    text: str, tokenizer: Encoder, cache_dir: str | os.PathLike[str], key: str
) -> np.ndarray:
    """Token ids of `text`, encoded once and then read back from `cache_dir`.

    `key` names the text for people (corpus and split, e.g. "shakespeare-train"); the file name
    adds hashes of the tokenizer and of the text, so a changed vocabulary or corpus never reads
    stale ids. The file is a plain .npy (no pickles) written to a temporary name and renamed into
    place, so a crash or a concurrent writer (one per rank) never leaves a half-written cache.
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", key):
        raise ValueError(f"cache key {key!r} must be a plain file-name part ([A-Za-z0-9._-])")
    cache_dir = Path(cache_dir)
    text_hash = hashlib.sha256(text.encode()).hexdigest()
    path = cache_dir / f"{key}-{tokenizer_hash(tokenizer)[:16]}-{text_hash[:16]}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)

    ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
    n_vocab = tokenizer.n_vocab
    if ids.size and (ids.min() < 0 or ids.max() >= n_vocab):
        raise ValueError(f"tokenizer returned ids outside [0, {n_vocab})")
    tokens = ids.astype(token_dtype(n_vocab))

    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{key}-", suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, tokens, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tokens


# --- windows -----------------------------------------------------------------------------------


class WindowBatch(NamedTuple):
    """A batch of `sequential_windows`, with its place in the schedule for resuming."""

    x: Int[Tensor, "batch pos"]
    y: Int[Tensor, "batch pos"]
    epoch: int
    step: int  # within the epoch; resume after it with start_epoch=epoch, start_step=step + 1


def rank_generator(seed: int, rank: int = 0) -> torch.Generator:
    """A CPU generator for `random_windows` whose stream differs for each (seed, rank).

    SeedSequence mixes the pair, so (seed=1, rank=0) and (seed=0, rank=1) are unrelated streams,
    which `seed + rank` would not guarantee across runs with consecutive seeds.
    """
    return _seeded_generator(seed, rank)


def random_windows(
    tokens: np.ndarray, batch_size: int, n_ctx: int, generator: torch.Generator
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """`batch_size` windows at uniform random starts; any start with a full (x, y) is possible."""
    n_starts = len(tokens) - n_ctx  # a window needs n_ctx + 1 tokens
    if n_starts < 1:
        raise ValueError(f"{len(tokens)} tokens are too few for windows of n_ctx={n_ctx} (+1)")
    starts = torch.randint(n_starts, (batch_size,), generator=generator).numpy()
    return _gather(tokens, starts, n_ctx)


def sequential_steps_per_epoch(
    n_tokens: int, batch_size: int, n_ctx: int, world_size: int = 1
) -> int:
    """Batches each rank reads per epoch of `sequential_windows`."""
    n_windows = (n_tokens - 1) // n_ctx  # a window's last target is one token past its end
    return n_windows // world_size // batch_size


def sequential_windows(
    tokens: np.ndarray,
    batch_size: int,
    n_ctx: int,
    *,
    start_epoch: int = 0,
    start_step: int = 0,
    n_epochs: int | None = None,
    shuffle_seed: int | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[WindowBatch]:
    """Epochs of non-overlapping windows tokens[k n_ctx : (k + 1) n_ctx + 1], k = 0, 1, ...

    Each epoch reads the windows in order, or, with `shuffle_seed`, in a permutation drawn from
    (shuffle_seed, epoch), so batches do not walk through one play at a time; all ranks must pass
    the same seed. Rank r reads every world_size-th window of that order, so ranks never share a
    window. Every rank reads the same number of full batches (DDP would hang on uneven counts), so
    up to world_size * batch_size - 1 windows per epoch (and the tail shorter than a window) are
    left out; a shuffled order leaves out different ones each epoch.

    Starts at (`start_epoch`, `start_step`); a step past the epoch's end carries over into the
    next. Runs through epoch `n_epochs` - 1, or forever if None.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside [0, {world_size})")
    n_windows = (len(tokens) - 1) // n_ctx
    steps = sequential_steps_per_epoch(len(tokens), batch_size, n_ctx, world_size)
    if steps == 0:
        raise ValueError(
            f"{len(tokens)} tokens make {n_windows} windows of n_ctx={n_ctx}, fewer than one "
            f"batch of {batch_size} for each of {world_size} rank(s)"
        )
    epoch = start_epoch + start_step // steps
    step = start_step % steps
    while n_epochs is None or epoch < n_epochs:
        if shuffle_seed is None:
            order = np.arange(n_windows)
        else:
            generator = _seeded_generator(shuffle_seed, epoch)
            order = torch.randperm(n_windows, generator=generator).numpy()
        mine = order[rank::world_size][: steps * batch_size]
        for s in range(step, steps):
            windows = mine[s * batch_size : (s + 1) * batch_size]
            x, y = _gather(tokens, windows * n_ctx, n_ctx)
            yield WindowBatch(x, y, epoch, s)
        epoch, step = epoch + 1, 0


def eval_windows(
    tokens: np.ndarray, n_ctx: int, batch_size: int
) -> Iterator[tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]]:
    """One pass in which each of tokens[1:] is a target exactly once, in order.

    Windows start at 0, n_ctx, 2 n_ctx, ...; the remainder shorter than a window is covered by a
    last window flush with the end of the split, whose targets already counted are set to
    EVAL_IGNORE_INDEX (-100). So F.cross_entropy(..., reduction="sum") over all batches, divided
    by len(tokens) - 1, is the split's mean loss, and all windows keep one shape. The final batch
    may hold fewer than `batch_size` windows; a split shorter than n_ctx + 1 tokens gives one
    shorter window.
    """
    n_targets = len(tokens) - 1
    if n_targets < 1:
        raise ValueError("an evaluation split needs at least two tokens")
    if n_targets <= n_ctx:
        yield _gather(tokens, np.zeros(1, dtype=np.int64), n_targets)
        return
    n_full = n_targets // n_ctx
    starts = np.arange(n_full) * n_ctx
    tail = n_targets - n_full * n_ctx  # targets after the last full window
    if tail:
        starts = np.append(starts, n_targets - n_ctx)
    for first in range(0, len(starts), batch_size):
        x, y = _gather(tokens, starts[first : first + batch_size], n_ctx)
        if tail and first + batch_size >= len(starts):
            y[-1, : n_ctx - tail] = EVAL_IGNORE_INDEX
        yield x, y


def _seeded_generator(*entropy: int) -> torch.Generator:
    state = np.random.SeedSequence(list(entropy)).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def _gather(
    tokens: np.ndarray, starts: np.ndarray, n_ctx: int
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """(x, y) for windows tokens[s : s + n_ctx + 1]; x and y never share memory."""
    tokens = np.asarray(tokens)
    index = starts[:, None] + np.arange(n_ctx)  # [batch, pos]
    # int64: what embedding lookups and cross_entropy index with
    x = torch.from_numpy(tokens[index].astype(np.int64))
    y = torch.from_numpy(tokens[index + 1].astype(np.int64))
    return x, y
