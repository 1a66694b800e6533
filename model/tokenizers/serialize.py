"""Rebuild any tokenizer from the dict its `to_json` produced (e.g. read from a checkpoint)."""

from __future__ import annotations

from typing import Any

from model.tokenizers.base import Tokenizer, TokenizerError
from model.tokenizers.bpe import BPETokenizer
from model.tokenizers.char import CharTokenizer
from model.tokenizers.gpt2 import gpt2_tokenizer


def tokenizer_from_json(d: dict[str, Any]) -> Tokenizer:
    """Inverse of `to_json`. A "gpt2" entry reloads GPT-2's encoding (and can fail offline)."""
    if not isinstance(d, dict):
        raise TokenizerError(f"tokenizer JSON must be an object, got {type(d).__name__}")
    kind = d.get("kind")
    if kind == "char":
        return CharTokenizer.from_json(d)
    if kind == "bpe":
        return BPETokenizer.from_json(d)
    if kind == "gpt2":
        return gpt2_tokenizer()
    raise TokenizerError(f"unknown tokenizer kind {kind!r}; expected 'char', 'bpe' or 'gpt2'")
