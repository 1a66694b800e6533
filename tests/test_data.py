"""Corpora, splits, the token cache and batch windows (training/corpora.py, training/batches.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from training import corpora
from training.batches import (
    EVAL_IGNORE_INDEX,
    eval_windows,
    random_windows,
    rank_generator,
    sequential_steps_per_epoch,
    sequential_windows,
    tokenize_cached,
)
from training.corpora import (
    DATA_ENV_VAR,
    ChecksumMismatchError,
    CorpusNotFoundError,
    load_corpus,
    split_last_word,
    split_passages,
    verify_checksum,
)

SHAKESPEARE_TRAIN, SHAKESPEARE_VAL = (
    1_003_854,
    111_540,
)  # nanoGPT's split, see shared/data/README.md


class CountingCharTokenizer:
    """The tokenizer protocol, minimal: ids are positions in `chars`; counts encode calls."""

    kind = "char"

    def __init__(self, chars: str, n_vocab: int | None = None) -> None:
        self.chars = chars
        self.n_vocab = n_vocab if n_vocab is not None else len(chars)
        self.encode_calls = 0

    def encode(self, text: str) -> list[int]:
        self.encode_calls += 1
        return [self.chars.index(c) for c in text]

    def decode(self, ids: Any) -> str:
        return "".join(self.chars[i] for i in ids)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": self.chars, "n_vocab": self.n_vocab}


@pytest.fixture
def lambada_file(shared_data: Path) -> Path:
    path = shared_data / "lambada_test.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


# --- corpora -----------------------------------------------------------------------------------


def test_shakespeare_split_is_nanogpts(shared_data: Path) -> None:
    corpus = load_corpus("shakespeare", data_dir=shared_data)
    assert (len(corpus.train), len(corpus.val)) == (SHAKESPEARE_TRAIN, SHAKESPEARE_VAL)
    assert corpus.train + corpus.val == (shared_data / "tinyshakespeare.txt").read_text()
    assert corpus.kind == "text" and corpus.train_passages is None


def test_env_var_names_the_data_folder(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(shared_data))
    corpus = load_corpus("shakespeare")
    assert corpus.source == str(shared_data / "tinyshakespeare.txt")
    assert len(corpus.val) == SHAKESPEARE_VAL


def test_lambada_split_by_passage(lambada_file: Path) -> None:
    corpus = load_corpus("lambada", data_dir=lambada_file.parent)
    assert corpus.train_passages is not None and corpus.val_passages is not None
    assert (len(corpus.train_passages), len(corpus.val_passages)) == (4638, 515)
    assert not set(corpus.train_passages) & set(corpus.val_passages)
    assert corpus.train == "\n\n".join(corpus.train_passages)
    # the same file in another folder, under another name, splits the same way
    assert load_corpus(str(lambada_file)).val_passages == corpus.val_passages
    for passage in corpus.val_passages:
        context, word = split_last_word(passage)
        assert context + " " + word == passage and " " not in word


def test_reference_files_pass_their_checksums(shared_data: Path) -> None:
    for spec in corpora.KNOWN_CORPORA.values():
        if (shared_data / spec.filename).is_file():
            verify_checksum(shared_data / spec.filename)


def test_checksum_mismatch_raises(tmp_path: Path) -> None:
    (tmp_path / "tinyshakespeare.txt").write_text("First Citizen:\nNot the real thing.\n")
    with pytest.raises(ChecksumMismatchError, match="rename it"):
        load_corpus("shakespeare", data_dir=tmp_path)
    # renamed, the same bytes load as an ordinary local corpus
    (tmp_path / "tinyshakespeare.txt").rename(tmp_path / "mine.txt")
    assert load_corpus(tmp_path / "mine.txt").name == "mine"


def test_data_folder_without_the_file_raises(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="data_dir names .* no lambada_test.jsonl"):
        load_corpus("lambada", data_dir=tmp_path)
    with pytest.raises(CorpusNotFoundError, match="neither a known corpus"):
        load_corpus(tmp_path / "absent.txt")


def test_local_text_file_through_datasets(tmp_path: Path) -> None:
    text = "".join(f"line {i}\n\n  indented\n" for i in range(50))
    path = tmp_path / "notes.txt"
    path.write_text(text)
    corpus = load_corpus(path)
    assert corpus.train + corpus.val == text  # one document: blank lines and indents survive
    assert len(corpus.train) == int(len(text) * 0.9)
    assert (corpus.name, corpus.kind, corpus.source) == ("notes", "text", str(path))


def test_local_jsonl_file_through_datasets(tmp_path: Path) -> None:
    passages = [f"passage {i} ends with word{i}" for i in range(20)]
    path = tmp_path / "passages.jsonl"
    path.write_text(
        "".join(json.dumps({"text": p, "id": i}) + "\n" for i, p in enumerate(passages))
    )
    corpus = load_corpus(path)
    assert corpus.train_passages is not None and corpus.val_passages is not None
    assert len(corpus.val_passages) == 2
    assert sorted(corpus.train_passages + corpus.val_passages) == sorted(passages)
    assert corpus.val == "\n\n".join(corpus.val_passages)

    (tmp_path / "bad.jsonl").write_text('{"body": "x"}\n')
    with pytest.raises(ValueError, match='"text" field'):
        load_corpus(tmp_path / "bad.jsonl")
    (tmp_path / "table.csv").write_text("text\nx\n")
    with pytest.raises(ValueError, match=r"\.txt, \.jsonl or \.json"):
        load_corpus(tmp_path / "table.csv")


def test_hub_splits_concatenate_to_the_file(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's 90/5/5 splits, faked from the file, re-split into exactly nanoGPT's 90/10."""
    import datasets

    text = (shared_data / "tinyshakespeare.txt").read_text()
    cut1, cut2 = SHAKESPEARE_TRAIN, SHAKESPEARE_TRAIN + 55_770
    pieces = {"train": text[:cut1], "validation": text[cut1:cut2], "test": text[cut2:]}
    fake = datasets.DatasetDict(
        {k: datasets.Dataset.from_dict({"text": [v]}) for k, v in pieces.items()}
    )
    monkeypatch.setattr(corpora, "_probe_hub", lambda spec: None)
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: fake)
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    corpus = load_corpus("shakespeare")
    assert corpus.source == "hub:karpathy/tiny_shakespeare"
    assert (corpus.train, corpus.val) == (text[:cut1], text[cut1:])

    pieces["test"] = pieces["test"][:-1]
    fake = datasets.DatasetDict(
        {k: datasets.Dataset.from_dict({"text": [v]}) for k, v in pieces.items()}
    )
    with pytest.warns(UserWarning, match="differs from the reference"):
        load_corpus("shakespeare")


def _assert_says_how(message: str) -> None:
    assert DATA_ENV_VAR in message and "data_dir=" in message and "tinyshakespeare.txt" in message


def test_hub_offline_and_no_path_fails_fast_and_says_how(tmp_path: Path) -> None:
    """In a fresh process, because datasets reads HF_HUB_OFFLINE once, at import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", DATA_ENV_VAR))}
    env |= {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}  # no cached hub copy either
    script = (
        "import time\n"
        "from training.corpora import load_corpus, CorpusNotFoundError\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    load_corpus('shakespeare')\n"
        "except CorpusNotFoundError as e:\n"
        "    print(f'{time.perf_counter() - t:.2f}')\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    seconds, message = out.stdout.split("\n", 1)
    # datasets alone retries an offline hub for ~25 s; a loaded CI machine needs headroom above ~2 s
    assert float(seconds) < 20
    _assert_says_how(message)


def test_unreachable_hub_fails_fast_and_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection stands in for a machine without internet, the same everywhere."""
    import huggingface_hub.constants

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    start = time.perf_counter()
    with pytest.raises(CorpusNotFoundError) as caught:
        load_corpus("shakespeare")
    assert time.perf_counter() - start < 10
    _assert_says_how(str(caught.value))


def test_split_passages_is_seeded_and_stable() -> None:
    passages = [f"p{i}" for i in range(100)]
    train, val = split_passages(passages)
    assert len(val) == 10 and split_passages(passages) == (train, val)
    assert split_passages(passages[::-1])[1] == val[::-1]  # by content, not by position
    assert split_passages(passages, seed=1)[1] != val
    assert tuple(sorted(train + val, key=passages.index)) == tuple(passages)


def test_split_last_word() -> None:
    assert split_last_word("he said  hello there") == ("he said  hello", "there")
    assert split_last_word('"Come back," she called to Harlin') == (
        '"Come back," she called to',
        "Harlin",
    )
    for bad in ("oneword", "trailing space "):
        with pytest.raises(ValueError):
            split_last_word(bad)


# --- token cache -------------------------------------------------------------------------------


def test_tokenize_cached_encodes_once(tmp_path: Path) -> None:
    text = "to be or not to be"
    tok = CountingCharTokenizer(" abenorst")
    first = tokenize_cached(text, tok, tmp_path, "toy-train")
    again = tokenize_cached(text, tok, tmp_path, "toy-train")
    assert tok.encode_calls == 1
    assert first.dtype == np.uint16 and np.array_equal(first, again)
    assert tok.decode(again.tolist()) == text
    assert [
        p.name for p in tmp_path.iterdir() if not p.name.endswith(".npy")
    ] == []  # no temp files

    tokenize_cached(text[:5], tok, tmp_path, "toy-train")  # another text: another entry
    assert tok.encode_calls == 2
    bigger = CountingCharTokenizer(" abenorst", n_vocab=70_000)  # another tokenizer, too
    assert tokenize_cached(text, bigger, tmp_path, "toy-train").dtype == np.uint32
    assert bigger.encode_calls == 1
    with pytest.raises(ValueError, match="file-name part"):
        tokenize_cached(text, tok, tmp_path, "../escape")


# --- windows -----------------------------------------------------------------------------------


def test_random_windows_shapes_and_shift() -> None:
    tokens = np.arange(1000, dtype=np.uint16)  # token = its position: a shift is visible
    x, y = random_windows(
        tokens, batch_size=8, n_ctx=16, generator=torch.Generator().manual_seed(0)
    )
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.int64
    assert torch.equal(y, x + 1)
    assert torch.equal(x[:, 1:], x[:, :-1] + 1)  # contiguous text
    assert int(y.max()) < 1000


def test_random_windows_reach_both_ends() -> None:
    tokens = np.arange(10, dtype=np.uint16)
    x, y = random_windows(tokens, batch_size=200, n_ctx=8, generator=rank_generator(0))
    assert set(x[:, 0].tolist()) == {0, 1}  # the only two starts with a full (x, y)
    with pytest.raises(ValueError, match="too few"):
        random_windows(tokens, 1, 10, rank_generator(0))


def test_ranks_and_seeds_draw_different_batches() -> None:
    tokens = np.arange(100_000, dtype=np.uint32)

    def draw(seed: int, rank: int) -> torch.Tensor:
        return random_windows(tokens, 4, 8, rank_generator(seed, rank))[0]

    assert torch.equal(draw(0, 0), draw(0, 0))
    assert not torch.equal(draw(0, 0), draw(0, 1))
    assert not torch.equal(draw(0, 0), draw(1, 0))
    assert not torch.equal(draw(1, 0), draw(0, 1))


@settings(max_examples=40, deadline=None)
@given(
    n_tokens=st.integers(2, 400),
    n_ctx=st.integers(1, 40),
    batch_size=st.integers(1, 7),
    world_size=st.integers(1, 3),
    shuffle=st.booleans(),
)
def test_sequential_windows_are_disjoint_and_cover(
    n_tokens: int, n_ctx: int, batch_size: int, world_size: int, shuffle: bool
) -> None:
    tokens = np.arange(n_tokens, dtype=np.uint16)
    steps = sequential_steps_per_epoch(n_tokens, batch_size, n_ctx, world_size)
    seed = 3 if shuffle else None
    if steps == 0:
        with pytest.raises(ValueError, match="fewer than one batch"):
            next(sequential_windows(tokens, batch_size, n_ctx, world_size=world_size))
        return
    starts: list[int] = []
    for rank in range(world_size):
        batches = list(
            sequential_windows(
                tokens,
                batch_size,
                n_ctx,
                n_epochs=1,
                shuffle_seed=seed,
                rank=rank,
                world_size=world_size,
            )
        )
        assert [b.step for b in batches] == list(range(steps))
        for b in batches:
            assert b.x.shape == (batch_size, n_ctx) and torch.equal(b.y, b.x + 1)
            starts += b.x[:, 0].tolist()
    assert len(set(starts)) == len(starts)  # no window twice, across ranks too
    assert all(s % n_ctx == 0 for s in starts)  # on the grid: windows never overlap
    n_windows = (n_tokens - 1) // n_ctx
    assert n_windows - len(starts) < world_size * batch_size  # only the ragged end left out
    if not shuffle:
        assert sorted(starts) == [k * n_ctx for k in range(len(starts))]


def test_sequential_windows_resume_and_reshuffle() -> None:
    tokens = np.arange(961, dtype=np.uint16)  # 96 windows of 10: 24 full batches of 4
    run = sequential_windows(tokens, 4, 10, n_epochs=3, shuffle_seed=0)
    full = [(b.epoch, b.step, b.x) for b in run]
    assert len(full) == 3 * 24
    epoch0 = sorted(int(x[i, 0]) for _, _, x in full[:24] for i in range(4))
    epoch1 = [int(x[i, 0]) for _, _, x in full[24:48] for i in range(4)]
    assert epoch0 == sorted(epoch1) != epoch1  # each epoch a new order of the same windows
    resumed = list(
        sequential_windows(tokens, 4, 10, start_epoch=1, start_step=5, n_epochs=3, shuffle_seed=0)
    )
    assert [(b.epoch, b.step) for b in resumed] == [(e, s) for e, s, _ in full[29:]]
    assert all(torch.equal(b.x, x) for b, (_, _, x) in zip(resumed, full[29:], strict=True))
    carried = next(sequential_windows(tokens, 4, 10, start_step=24, shuffle_seed=0))
    assert (carried.epoch, carried.step) == (1, 0)


@settings(max_examples=40, deadline=None)
@given(n_tokens=st.integers(2, 300), n_ctx=st.integers(1, 40), batch_size=st.integers(1, 6))
def test_eval_windows_count_every_target_once(n_tokens: int, n_ctx: int, batch_size: int) -> None:
    tokens = np.arange(n_tokens, dtype=np.uint16)
    batches = list(eval_windows(tokens, n_ctx, batch_size))
    counted: list[int] = []
    for x, y in batches:
        assert x.shape == y.shape and x.shape[0] <= batch_size
        assert x.shape[1] == min(n_ctx, n_tokens - 1)
        kept = y != EVAL_IGNORE_INDEX
        assert torch.equal(y[kept], (x + 1)[kept])
        counted += y[kept].tolist()
    assert counted == list(range(1, n_tokens))  # each target once, in order
    again = list(eval_windows(tokens, n_ctx, batch_size))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again, strict=True))


def test_eval_windows_sum_to_the_split_loss() -> None:
    """The documented recipe: summed cross-entropy over the pass / (len - 1) = mean over targets."""
    tokens = np.random.default_rng(0).integers(0, 5, 103).astype(np.uint16)
    logits_table = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))  # bigram "model"
    total = sum(
        torch.nn.functional.cross_entropy(
            logits_table[x].flatten(0, 1), y.flatten(), reduction="sum"
        )
        for x, y in eval_windows(tokens, n_ctx=10, batch_size=4)
    )
    t = torch.from_numpy(tokens.astype(np.int64))
    direct = torch.nn.functional.cross_entropy(logits_table[t[:-1]], t[1:])
    assert torch.allclose(total / (len(tokens) - 1), direct)
