"""From a TrainConfig to token arrays and a tokenizer: the data side of a run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from model.tokenizers import CharTokenizer, Tokenizer, UnencodableTextError
from training.batches import random_windows, sequential_steps_per_epoch, sequential_windows
from training.config import RunConfig, task_context
from training.corpora import load_corpus
from training.repeats import plant_repeats
from training.reversal import reversal_batch
from training.tokenizer_build import build_tokenizer

REVERSAL_SYMBOLS = "abcdefghijklmnopqrstuvwxyz0123456789"
REVERSAL_SEP = "|"  # sorts after every symbol, so its id is n_symbols


@dataclass
class RunData:
    tokenizer: Tokenizer
    train: np.ndarray | None  # token ids of the train split (None for the synthetic task)
    val: np.ndarray | None
    val_chars: int  # characters the validation tokens encode, for bits per character
    corpus_source: str
    holdout: np.ndarray | None = (
        None  # the train split's held-out slice (TrainConfig.holdout_tokens, holdout_at)
    )


def prepare_data(run: RunConfig) -> RunData:
    t = run.train
    if t.task == "reversal":
        if t.reversal_vocab > len(REVERSAL_SYMBOLS):
            raise ValueError(f"reversal_vocab must be at most {len(REVERSAL_SYMBOLS)}")
        tok = CharTokenizer.train(REVERSAL_SYMBOLS[: t.reversal_vocab] + REVERSAL_SEP)
        return RunData(tok, None, None, 0, "synthetic:reversal")
    from training.batches import tokenize_cached

    corpus = load_corpus(t.corpus, t.data_dir)
    # refusals come before anything is written (a BPE, a token cache): a character tokenizer
    # makes a token of every character, the byte-level ones at most one per byte
    most = len(corpus.train) if t.tokenizer == "char" else len(corpus.train.encode())
    _check_holdout(t.holdout_tokens, most, "at most ")
    tokenizer = build_tokenizer(t.tokenizer, corpus.train, t.bpe_vocab_size, t.cache_dir)
    # validation first: a character the train split never had is refused before either is cached
    try:
        val = tokenize_cached(corpus.val, tokenizer, t.cache_dir, f"{corpus.name}-val")
    except UnencodableTextError as e:
        raise ValueError(f"its validation split has characters its train split lacks ({e})") from e
    train = tokenize_cached(corpus.train, tokenizer, t.cache_dir, f"{corpus.name}-train")
    holdout = None
    if t.holdout_tokens:
        _check_holdout(t.holdout_tokens, len(train), "")
        if t.holdout_at == "start":
            holdout, train = train[: t.holdout_tokens], train[t.holdout_tokens :]
        else:
            train, holdout = train[: -t.holdout_tokens], train[-t.holdout_tokens :]
    return RunData(tokenizer, train, val, len(corpus.val), corpus.source, holdout)


def _check_holdout(holdout_tokens: int, train_tokens: int, bound: str) -> None:
    if holdout_tokens and holdout_tokens >= train_tokens // 2:
        raise ValueError(
            f"holdout_tokens={holdout_tokens} leaves too little of the train split to train on "
            f"(it has {bound}{train_tokens:,} tokens; hold out less than half)"
        )


def model_config_for(run: RunConfig, data: RunData) -> RunConfig:
    """The vocabulary (and, for reversal, the context) follow from the data."""
    model = run.model.replace(vocab_size=data.tokenizer.n_vocab, n_ctx=task_context(run))
    return RunConfig(model, run.train)


def check_data_fits(run: RunConfig, data: RunData, world_size: int = 1) -> None:
    """Refuse, before any model is built, a context the corpus cannot fill: otherwise the first
    batch (or the first evaluation, minutes later) failed with a traceback."""
    if run.train.task != "lm":
        return
    assert data.train is not None and data.val is not None
    n_ctx, t = run.model.n_ctx, run.train
    where = f"corpus {t.corpus!r}"
    if len(data.train) <= n_ctx:  # a window is n_ctx inputs plus the target after the last
        raise ValueError(
            f"n_ctx={n_ctx} is longer than the {len(data.train)}-token train split of {where} "
            "(a window needs n_ctx + 1 tokens)"
        )
    if t.sampling == "sequential":
        if sequential_steps_per_epoch(len(data.train), t.batch_size, n_ctx, world_size) == 0:
            raise ValueError(
                f"{where}: its {len(data.train)} train tokens make fewer than one batch of "
                f"batch_size={t.batch_size} windows of n_ctx={n_ctx} for each of {world_size} "
                "rank(s)"
            )
    if t.repeat_share > 0 and t.repeat_min_len > (n_ctx + 1) // 2:
        raise ValueError(
            f"repeat_min_len={t.repeat_min_len}: a stretch that long cannot recur within a window "
            f"of n_ctx={n_ctx} (+1) tokens"
        )
    if len(data.val) < 2:
        raise ValueError(f"{where}: the validation split has {len(data.val)} tokens, needs 2")


class BatchSource:
    """Yields training batches for one rank; its position is a step count, so resuming is exact."""

    def __init__(
        self,
        run: RunConfig,
        data: RunData,
        generator: torch.Generator,
        rank: int,
        world_size: int,
        start_step: int,
    ) -> None:
        self.run, self.data, self.generator = run, data, generator
        self.sequential = None
        if run.train.task == "lm" and run.train.sampling == "sequential":
            assert data.train is not None
            self.sequential = sequential_windows(
                data.train,
                run.train.batch_size,
                run.model.n_ctx,
                start_step=start_step,
                shuffle_seed=run.train.seed,
                rank=rank,
                world_size=world_size,
            )

    def next(self) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
        t = self.run.train
        if t.task == "reversal":
            return reversal_batch(t.batch_size, t.reversal_len, t.reversal_vocab, self.generator)
        if self.sequential is not None:
            b = next(self.sequential)
            x, y = b.x, b.y
        else:
            assert self.data.train is not None
            n_ctx = self.run.model.n_ctx
            x, y = random_windows(self.data.train, t.batch_size, n_ctx, self.generator)
        # drawn from the run's generator after the windows: a resumed run plants the same copies
        return plant_repeats(
            x, y, t.repeat_share, t.repeat_min_len, t.repeat_max_len, self.generator
        )
