"""Tokenizers: round trips, errors, serialization, and our BPE trainer against tiktoken's textbook one."""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import tiktoken
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiktoken._educational import bpe_train as educational_bpe_train

import model.tokenizers.gpt2 as gpt2_module
from model.tokenizers import (
    DEFAULT_PATTERN,
    GPT4_PATTERN,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    TokenizerError,
    UnencodableTextError,
    gpt2_tokenizer,
    tokenizer_from_json,
    train_bpe_ranks,
)

DATA_DIR = Path(__file__).parents[2] / "shared" / "data"
SHAKESPEARE = DATA_DIR / "tinyshakespeare.txt"
needs_shakespeare = pytest.mark.skipif(
    not SHAKESPEARE.is_file(), reason=f"Tiny Shakespeare not found at {SHAKESPEARE}"
)

# A small corpus with multi-byte characters, so that some learnt tokens hold partial characters.
CORPUS = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n"
    "Second Citizen:\nThe naïve café sells crème brûlée; 😀😀 日本語 と 日本!\n\n"
) * 20

# Hypothesis: example generation can be slow on a loaded CI machine; the properties are not.
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def educational_ranks(text: str, vocab_size: int, pattern: str) -> dict[bytes, int]:
    with contextlib.redirect_stdout(io.StringIO()):
        return educational_bpe_train(text, vocab_size, pattern, visualise=None)


def bytes_per_token(tokenizer: Tokenizer, text: str) -> float:
    return len(text.encode("utf-8")) / len(tokenizer.encode(text))


@pytest.fixture(scope="module")
def char_tok() -> CharTokenizer:
    return CharTokenizer.train(CORPUS)


@pytest.fixture(scope="module")
def bpe_tok() -> BPETokenizer:
    return BPETokenizer.train(CORPUS, vocab_size=320)


# --- character level ---


def test_char_vocabulary_is_sorted_set_of_characters() -> None:
    tok = CharTokenizer.train("hello world")
    assert tok.chars == sorted(set("hello world"))
    assert tok.n_vocab == 8
    assert tok.encode("hello") == [sorted(set("hello world")).index(c) for c in "hello"]


@FAST
@given(data=st.data())
def test_char_round_trip(char_tok: CharTokenizer, data: st.DataObject) -> None:
    text = data.draw(st.text(alphabet=st.sampled_from(char_tok.chars)))
    ids = char_tok.encode(text)
    assert char_tok.decode(ids) == text
    assert len(char_tok.token_strings(ids)) == len(ids)


def test_char_unencodable_characters_are_named_with_first_positions() -> None:
    tok = CharTokenizer.train("abc ")
    with pytest.raises(UnencodableTextError) as info:
        tok.encode("a bxc x ZZ")
    assert info.value.chars == ["x", "Z"]
    assert info.value.positions == {"x": 3, "Z": 8}
    message = str(info.value)
    assert "'x' (first at 3)" in message and "'Z' (first at 8)" in message
    assert isinstance(info.value, TokenizerError) and isinstance(info.value, ValueError)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == message and again.chars == ["x", "Z"]


def test_char_rejects_bad_vocabularies_and_ids() -> None:
    with pytest.raises(TokenizerError):
        CharTokenizer.train("")
    with pytest.raises(TokenizerError):
        CharTokenizer(["a", "a"])
    with pytest.raises(TokenizerError):
        CharTokenizer(["ab"])
    with pytest.raises(TokenizerError):
        CharTokenizer.train("ab").decode([0, 2])


@needs_shakespeare
def test_char_matches_nanogpt_on_tiny_shakespeare() -> None:
    tok = CharTokenizer.train(SHAKESPEARE.read_text(encoding="utf-8"))
    # nanoGPT's data/shakespeare_char/prepare.py prints this vocabulary.
    assert "".join(tok.chars) == (
        "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    )


# --- byte-level BPE: the runtime ---


@FAST
@given(text=st.text())
def test_bpe_round_trip_any_text(bpe_tok: BPETokenizer, text: str) -> None:
    ids = bpe_tok.encode(text)
    assert bpe_tok.decode(ids) == text
    assert len(bpe_tok.token_strings(ids)) == len(ids)


@FAST
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_bpe_round_trip_all_encodable_code_points(bpe_tok: BPETokenizer, text: str) -> None:
    assert bpe_tok.decode(bpe_tok.encode(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "😀",
        "👩‍👩‍👧‍👦 family, 🇫🇷 flag, 👍🏽",  # zero-width joiners, regional indicators, skin tone
        "e\u0301 vs é",  # combining accent vs precomposed
        "שלום עולם, مرحبا",
        "\x00\x1f\x7f\t\r\n  \u2028 <|endoftext|>",
        "First Citizen:\nBefore we proceed",
    ],
)
def test_bpe_round_trip_examples(bpe_tok: BPETokenizer, text: str) -> None:
    assert bpe_tok.decode(bpe_tok.encode(text)) == text


def test_bpe_rejects_surrogates_by_name(bpe_tok: BPETokenizer) -> None:
    with pytest.raises(UnencodableTextError) as info:
        bpe_tok.encode("ok \ud800 then \udfff")
    assert info.value.chars == ["\ud800", "\udfff"]
    assert "'\\ud800' (first at 3)" in str(info.value)


def test_bpe_runtime_is_tiktoken(bpe_tok: BPETokenizer) -> None:
    assert isinstance(bpe_tok.encoding, tiktoken.Encoding)
    assert bpe_tok.encoding.n_vocab == bpe_tok.n_vocab == 320
    assert bpe_tok.encode(CORPUS) == bpe_tok.encoding.encode_ordinary(CORPUS)


def test_token_strings_are_printable_labels(bpe_tok: BPETokenizer, char_tok: CharTokenizer) -> None:
    for tok, text in ((bpe_tok, "All:\nSpeak,\tspeak\r\n\x00 😀"), (char_tok, "All:\nSpeak 😀")):
        labels = tok.token_strings(tok.encode(text))
        assert all(label and label.isprintable() for label in labels)
    assert char_tok.token_strings(char_tok.encode("a b\n")) == ["a", "␣", "b", "↵"]
    # A lone byte of a multi-byte character shows as the byte itself.
    assert BPETokenizer.train("x", 256).token_strings(list("😀".encode())) == [
        "\\xf0",
        "\\x9f",
        "\\x98",
        "\\x80",
    ]


def test_decode_accepts_arrays_and_rejects_bad_ids(bpe_tok: BPETokenizer) -> None:
    ids = bpe_tok.encode("Speak, speak.")
    assert bpe_tok.decode(np.array(ids)) == "Speak, speak."
    assert bpe_tok.decode(torch.tensor(ids)) == "Speak, speak."
    for bad in ([bpe_tok.n_vocab], [-1], [1.5], np.zeros((2, 2), dtype=int)):
        with pytest.raises(TokenizerError):
            bpe_tok.decode(bad)
        with pytest.raises(TokenizerError):
            bpe_tok.token_strings(bad)


def test_every_tokenizer_meets_the_protocol(bpe_tok: BPETokenizer, char_tok: CharTokenizer) -> None:
    assert isinstance(bpe_tok, Tokenizer) and bpe_tok.kind == "bpe"
    assert isinstance(char_tok, Tokenizer) and char_tok.kind == "char"


# --- byte-level BPE: the trainer ---


def test_bpe_first_merges_follow_frequency_then_first_occurrence() -> None:
    # (a,b) occurs 4 times, (' ',a) 3; then " ab" 3; (' ',c) and (c,d) tie at 2 and
    # (' ',c) occurs first; (' ',x) and (x,y) tie at 1. Then no pairs are left.
    ranks = train_bpe_ranks("ab ab ab ab cd cd xy", vocab_size=300)
    merges = [t for t, r in sorted(ranks.items(), key=lambda item: item[1]) if r >= 256]
    assert merges == [b"ab", b" ab", b" c", b" cd", b" x", b" xy"]


def test_bpe_trainer_reserves_ranks_0_to_255_for_bytes(bpe_tok: BPETokenizer) -> None:
    ranks = bpe_tok.mergeable_ranks
    assert all(ranks[bytes([b])] == b for b in range(256))
    assert sorted(ranks.values()) == list(range(320))
    assert all(len(token) >= 2 for token, rank in ranks.items() if rank >= 256)


def test_bpe_trainer_is_deterministic() -> None:
    assert train_bpe_ranks(CORPUS, 300) == train_bpe_ranks(CORPUS, 300)


def test_bpe_trainer_stops_when_pairs_run_out() -> None:
    tok = BPETokenizer.train("ab ab", vocab_size=1000)
    assert tok.n_vocab == 258  # "ab", " ab"
    assert tok.decode(tok.encode("abba")) == "abba"


@pytest.mark.parametrize("pattern", [DEFAULT_PATTERN, GPT4_PATTERN], ids=["gpt2", "gpt4"])
def test_bpe_trainer_equals_educational_trainer(pattern: str) -> None:
    ours = train_bpe_ranks(CORPUS, 300, pattern)
    reference = educational_ranks(CORPUS, 300, pattern)
    assert ours == reference
    assert bytes_per_token(BPETokenizer(ours, pattern), CORPUS) == bytes_per_token(
        BPETokenizer(reference, pattern), CORPUS
    )


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet="ab c\n😀'", max_size=120), vocab_size=st.integers(256, 280))
def test_bpe_trainer_equals_educational_on_random_text(text: str, vocab_size: int) -> None:
    # Small alphabets make ties common, which is what this exercises.
    ours = train_bpe_ranks(text, vocab_size)
    try:
        reference = educational_ranks(text, vocab_size, DEFAULT_PATTERN)
    except ValueError:  # it calls max() on no pairs when the text runs out of them
        reference = None
    if reference is not None:
        assert ours == reference
    tok = BPETokenizer(ours)
    assert tok.decode(tok.encode(text)) == text


@needs_shakespeare
def test_bpe_trainer_equals_educational_on_shakespeare_prefix() -> None:
    text = SHAKESPEARE.read_text(encoding="utf-8")[:30_000]
    assert train_bpe_ranks(text, 280) == educational_ranks(text, 280, DEFAULT_PATTERN)


@needs_shakespeare
def test_bpe_on_tiny_shakespeare_train_split_is_fast_and_compresses() -> None:
    text = SHAKESPEARE.read_text(encoding="utf-8")
    train = text[: int(0.9 * len(text))]
    start = time.perf_counter()
    tok = BPETokenizer.train(train, 512)
    elapsed = time.perf_counter() - start
    assert elapsed < 15, f"training took {elapsed:.1f} s; the textbook trainer takes minutes"
    assert tok.n_vocab == 512
    assert bytes_per_token(tok, train) > 1.9  # bytes alone would give 1.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("text", 255), "at least 256"),
        (("text with spaces", 300, r"\S+"), "skips some characters"),
    ],
)
def test_bpe_trainer_rejects_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(TokenizerError, match=match):
        train_bpe_ranks(*args)


def test_bpe_rejects_ranks_tiktoken_would_choke_on() -> None:
    byte_ranks = {bytes([b]): b for b in range(256)}
    with pytest.raises(TokenizerError, match="single byte"):
        BPETokenizer({token: rank for token, rank in byte_ranks.items() if token != b"a"})
    with pytest.raises(TokenizerError, match="0..n-1"):
        BPETokenizer({**byte_ranks, b"ab": 300})
    with pytest.raises(TokenizerError, match="tiktoken rejected"):
        BPETokenizer(byte_ranks, pattern="(unclosed")


# --- serialization ---


def test_json_round_trip_gives_identical_encodings(
    bpe_tok: BPETokenizer, char_tok: CharTokenizer
) -> None:
    probe = CORPUS[:500] + " unseen words, ünïcödé 🙂"
    for tok in (bpe_tok, char_tok):
        blob = json.dumps(tok.to_json())
        again = tokenizer_from_json(json.loads(blob))
        assert type(again) is type(tok)
        assert again.to_json() == tok.to_json()
        text = probe if tok is bpe_tok else CORPUS[:500]
        assert again.encode(text) == tok.encode(text)


def test_bpe_json_uses_tiktoken_rank_format(bpe_tok: BPETokenizer) -> None:
    d = bpe_tok.to_json()
    assert d["kind"] == "bpe" and d["pattern"] == DEFAULT_PATTERN and d["name"]
    assert d["mergeable_ranks"][:2] == ["AA== 0", "AQ== 1"]  # base64(b"\x00") rank 0, ...
    assert len(d["mergeable_ranks"]) == bpe_tok.n_vocab


@pytest.mark.parametrize(
    "d",
    [
        {},
        {"kind": "wordpiece"},
        {"kind": "char"},
        {"kind": "bpe", "pattern": DEFAULT_PATTERN},
        {"kind": "bpe", "pattern": DEFAULT_PATTERN, "mergeable_ranks": ["not base64! 0"]},
        {"kind": "bpe", "pattern": DEFAULT_PATTERN, "mergeable_ranks": ["AA== 0"]},
    ],
)
def test_bad_json_raises_tokenizer_error(d: dict) -> None:
    with pytest.raises(TokenizerError):
        tokenizer_from_json(d)


# --- GPT-2 ---


def test_gpt2_loads_or_fails_fast_with_tokenizer_error() -> None:
    start = time.perf_counter()
    try:
        tok = gpt2_tokenizer()
    except TokenizerError as e:
        assert "TIKTOKEN_CACHE_DIR" in str(e)
    else:
        assert tok.n_vocab == 50257 and tok.kind == "gpt2"
        assert tok.encode("Hello world") == [15496, 995]
        assert tok.decode(tok.encode("<|endoftext|> 😀")) == "<|endoftext|> 😀"
        assert tokenizer_from_json(tok.to_json()).encode("Hi") == tok.encode("Hi")
    assert time.perf_counter() - start < 30


def test_gpt2_offline_without_cache_raises_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gpt2_module, "_host_reachable", lambda: False)

    def must_not_download(name: str) -> tiktoken.Encoding:
        raise AssertionError("tried to download while offline")

    monkeypatch.setattr(tiktoken, "get_encoding", must_not_download)
    with pytest.raises(TokenizerError, match="TIKTOKEN_CACHE_DIR") as info:
        gpt2_tokenizer()
    assert str(tmp_path) in str(info.value)


def test_gpt2_download_failure_becomes_tokenizer_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gpt2_module, "_host_reachable", lambda: True)

    def fail(name: str) -> tiktoken.Encoding:
        raise ConnectionError("connection reset")

    monkeypatch.setattr(tiktoken, "get_encoding", fail)
    with pytest.raises(TokenizerError, match="connection reset"):
        gpt2_tokenizer()
