"""GPT-2's own tokenizer as a tiktoken.Encoding: from tiktoken's download (`gpt2_tokenizer`), or
offline from a Hugging Face folder's vocab.json + merges.txt or tokenizer.json
(`gpt2_tokenizer_from_folder`), failing fast and clearly when neither can be had."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

import tiktoken

from model.safe_read import ReadRefused, read_json
from model.tokenizers.base import TokenizerError, check_utf8_encodable
from model.tokenizers.patterns import GPT2_PATTERN
from model.tokenizers.tiktoken_backed import TiktokenTokenizer

# The two files tiktoken's "gpt2" encoding reads (tiktoken_ext/openai_public.py); tiktoken caches
# each under the sha1 of its URL. Consulted only to tell whether a download is needed at all.
_GPT2_URLS = (
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
)
_HOST = "openaipublic.blob.core.windows.net"
# tiktoken downloads with `requests.get` and no timeout: on a network that drops packets instead
# of refusing them it would hang, so reachability is probed first with a bound.
_PROBE_TIMEOUT_S = 5.0


class GPT2Tokenizer(TiktokenTokenizer):
    """GPT-2's 50,257-token byte-level BPE (its pattern: `patterns.GPT2_PATTERN`).

    specials_in_text: "<|endoftext|>" typed in the text becomes the special token, as Hugging
    Face's GPT2TokenizerFast does (the folder-built tokenizer); else it is ordinary text.
    """

    kind: str = "gpt2"

    def __init__(self, encoding: tiktoken.Encoding, specials_in_text: bool = False) -> None:
        super().__init__(encoding)
        self.specials_in_text = specials_in_text

    def encode(self, text: str) -> list[int]:
        if not self.specials_in_text:
            return super().encode(text)
        check_utf8_encodable(text)
        return self.encoding.encode(text, allowed_special="all")

    def to_json(self) -> dict[str, Any]:
        # The vocabulary is public and 50k entries long: store only which one it is.
        return {"kind": self.kind}

    def __repr__(self) -> str:
        return "GPT2Tokenizer()"


def _tiktoken_cache_dir() -> str:
    """Where tiktoken looks for cached files (the same rules as tiktoken.load.read_file_cached)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _cache_file_names() -> list[str]:
    return [hashlib.sha1(url.encode()).hexdigest() for url in _GPT2_URLS]


def _files_cached() -> bool:
    cache_dir = _tiktoken_cache_dir()
    return cache_dir != "" and all((Path(cache_dir) / n).is_file() for n in _cache_file_names())


def _host_reachable(timeout_s: float = _PROBE_TIMEOUT_S) -> bool:
    if urllib.request.getproxies().get("https"):
        return True  # the connection goes through a proxy; let requests find out
    reachable = False

    def probe() -> None:
        nonlocal reachable
        try:
            with socket.create_connection((_HOST, 443), timeout=timeout_s):
                reachable = True
        except OSError:
            pass

    # A thread bounds the DNS lookup as well, which create_connection's timeout does not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return reachable


def _how_to_fix() -> str:
    names = ", ".join(_cache_file_names())
    return (
        "To use GPT-2's tokenizer offline, fill a tiktoken cache on a machine with internet access:\n"
        "    TIKTOKEN_CACHE_DIR=/path/to/tiktoken_cache python -c "
        "\"import tiktoken; tiktoken.get_encoding('gpt2')\"\n"
        "then copy that folder here and set TIKTOKEN_CACHE_DIR=/path/to/tiktoken_cache "
        f"(it should hold the files {names}). "
        f"Currently tiktoken looks in {_tiktoken_cache_dir()!r}."
    )


def gpt2_tokenizer() -> GPT2Tokenizer:
    """GPT-2's tokenizer via `tiktoken.get_encoding("gpt2")`.

    Raises TokenizerError (never another exception) when its files are neither cached nor
    downloadable; without network access that takes at most a few seconds.
    """
    if not _files_cached() and not _host_reachable():
        raise TokenizerError(
            f"GPT-2's BPE files are not cached and {_HOST} is unreachable. " + _how_to_fix()
        )
    try:
        encoding = tiktoken.get_encoding("gpt2")
    except Exception as e:  # requests' ConnectionError/HTTPError, a hash mismatch, a bad cache file
        raise TokenizerError(
            f"could not load GPT-2's encoding ({type(e).__name__}: {e}). " + _how_to_fix()
        ) from e
    return GPT2Tokenizer(encoding)


# --- offline, from a Hugging Face folder ---------------------------------------------------------

VOCAB_FILE, MERGES_FILE, HF_TOKENIZER_FILE = "vocab.json", "merges.txt", "tokenizer.json"
_MAX_TOKENIZER_BYTES = 64 * 2**20  # GPT-2's files are ~2 MB; anything near this is not one


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, as its vocab.json and merges.txt spell tokens:
    printable Latin-1 bytes stand for themselves, the other 68 for chr(256 + n) in byte order."""
    keep = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    out = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + n)
            n += 1
    return out


def _read_text(file: Path) -> str:
    if not file.is_file():
        raise TokenizerError(f"{file}: missing or not a regular file")
    if file.stat().st_size > _MAX_TOKENIZER_BYTES:
        raise TokenizerError(f"{file}: larger than {_MAX_TOKENIZER_BYTES:,} bytes; refused")
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerError(f"{file}: cannot be read ({e})") from None


def _read_json(file: Path) -> Any:
    """Bounded in size and nesting depth (model.safe_read): a deep file is refused, not parsed."""
    try:
        return read_json(file, _MAX_TOKENIZER_BYTES)
    except ReadRefused as e:
        raise TokenizerError(str(e)) from None


def _read_vocab_and_merges(folder: Path) -> tuple[object, object]:
    """(vocab, merges) as the files hold them; tokenizer.json when vocab.json is absent."""
    if (folder / VOCAB_FILE).is_file() and (folder / MERGES_FILE).is_file():
        try:
            vocab = _read_json(folder / VOCAB_FILE)
        except json.JSONDecodeError as e:
            raise TokenizerError(f"{folder / VOCAB_FILE}: not valid JSON ({e})") from None
        lines = _read_text(folder / MERGES_FILE).split("\n")
        merges = [ln for ln in lines if ln and not ln.startswith("#version")]
        return vocab, merges
    if (folder / HF_TOKENIZER_FILE).is_file():
        try:
            data = _read_json(folder / HF_TOKENIZER_FILE)
            model = data["model"]
            if model.get("type") != "BPE":
                raise TokenizerError(f"{folder / HF_TOKENIZER_FILE}: not a BPE tokenizer")
            return model["vocab"], model["merges"]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise TokenizerError(
                f"{folder / HF_TOKENIZER_FILE}: not a Hugging Face BPE tokenizer ({e!r})"
            ) from None
    raise TokenizerError(
        f"{folder}: no tokenizer files (needs {VOCAB_FILE} + {MERGES_FILE}, or {HF_TOKENIZER_FILE})"
    )


def _merge_pairs(merges: object) -> list[tuple[str, str]]:
    """merges.txt lines ("a b") or tokenizer.json's merges (strings or [a, b] pairs)."""
    if not isinstance(merges, list):
        raise TokenizerError("the merges must be a list")
    pairs = []
    for m in merges:
        parts = m.split(" ") if isinstance(m, str) else m
        if not (
            isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)
        ):
            raise TokenizerError(f"bad merge entry {m!r}: expected two tokens")
        pairs.append((parts[0], parts[1]))
    return pairs


def gpt2_ranks(vocab: object, merges: object) -> tuple[dict[bytes, int], dict[str, int]]:
    """tiktoken's mergeable ranks and special tokens from a GPT-2 style vocabulary.

    tiktoken merges the adjacent pair whose joined bytes have the lowest rank, and returns that
    rank as the id; Hugging Face applies merges in file order. They agree when every merge's result
    has an id that grows with its line in the merges file, which is checked (GPT-2's own files do,
    and tiktoken's loader asserts the same). Vocabulary entries that are neither a byte nor a
    merge's result are the special tokens ("<|endoftext|>").
    """
    if not isinstance(vocab, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in vocab.items()
    ):
        raise TokenizerError("the vocabulary must map token strings to non-negative ids")
    to_byte = {c: b for b, c in byte_to_unicode().items()}

    def as_bytes(token: str) -> bytes:
        try:
            return bytes(to_byte[c] for c in token)
        except KeyError as e:
            raise TokenizerError(
                f"token {token!r} has a character outside GPT-2's byte map: {e}"
            ) from None

    ranks: dict[bytes, int] = {}
    for b, c in byte_to_unicode().items():
        if c not in vocab:
            raise TokenizerError(f"the vocabulary lacks the single byte {bytes([b])!r} ({c!r})")
        ranks[bytes([b])] = vocab[c]
    last = -1
    for first, second in _merge_pairs(merges):
        joined = first + second
        if first not in vocab or second not in vocab or joined not in vocab:
            raise TokenizerError(
                f"merge {first!r} {second!r}: a part or the result is not in the vocabulary"
            )
        token, rank = as_bytes(joined), vocab[joined]
        if token in ranks or rank <= last:
            raise TokenizerError(
                f"merge {first!r} {second!r} -> id {rank}: ids must grow with the merge order and "
                "each merge must make a new token (tiktoken runs merges by id)"
            )
        ranks[token], last = rank, rank
    made = {c for c in byte_to_unicode().values()} | {a + b for a, b in _merge_pairs(merges)}
    specials = {k: v for k, v in vocab.items() if k not in made}
    if len(set(ranks.values()) | set(specials.values())) != len(ranks) + len(specials):
        raise TokenizerError("two vocabulary entries share one id")
    return ranks, specials


def gpt2_tokenizer_from_folder(folder: str | Path) -> GPT2Tokenizer:
    """GPT-2's tokenizer from a Hugging Face folder, offline: vocab.json + merges.txt, else
    tokenizer.json. Encodes as Hugging Face's GPT2TokenizerFast does, "<|endoftext|>" included.
    Raises TokenizerError naming the file for anything it cannot use."""
    folder = Path(folder)
    ranks, specials = gpt2_ranks(*_read_vocab_and_merges(folder))
    try:
        encoding = tiktoken.Encoding(
            name=f"gpt2-folder-{len(ranks) + len(specials)}",
            pat_str=GPT2_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=specials,
        )
    except ValueError as e:
        raise TokenizerError(f"{folder}: tiktoken rejected this vocabulary ({e})") from None
    return GPT2Tokenizer(encoding, specials_in_text=True)
