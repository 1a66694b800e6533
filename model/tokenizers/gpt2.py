"""GPT-2's own tokenizer, through tiktoken, failing fast and clearly when it cannot be fetched."""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

import tiktoken

from model.tokenizers.base import TokenizerError
from model.tokenizers.tiktoken_backed import TiktokenTokenizer

# The two files tiktoken's "gpt2" encoding reads (tiktoken_ext/openai_public.py); tiktoken caches
# each under the sha1 of its URL. Only used to tell whether a download is needed at all.
_GPT2_URLS = (
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
)
_HOST = "openaipublic.blob.core.windows.net"
# tiktoken downloads with `requests.get` and no timeout: on a network that drops packets instead
# of refusing them it would hang, so reachability is probed first with a bound.
_PROBE_TIMEOUT_S = 5.0


class GPT2Tokenizer(TiktokenTokenizer):
    """GPT-2's 50,257-token byte-level BPE (its pattern: `patterns.GPT2_PATTERN`)."""

    kind: str = "gpt2"

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
