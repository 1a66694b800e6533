"""Make the tokenizer a run asks for, training BPE once per (corpus, vocabulary size)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from model.safe_read import MiB, read_json
from model.tokenizers import (
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    gpt2_tokenizer,
    tokenizer_from_json,
)
from training.config import TokenizerKind


def build_tokenizer(
    kind: TokenizerKind, train_text: str, bpe_vocab_size: int, cache_dir: str | Path
) -> Tokenizer:
    if kind == "char":
        return CharTokenizer.train(train_text)
    if kind == "gpt2":
        return gpt2_tokenizer()
    digest = hashlib.sha256(train_text.encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"bpe-{bpe_vocab_size}-{digest}.json"
    if path.is_file():
        return tokenizer_from_json(read_json(path, 64 * MiB))
    tokenizer = BPETokenizer.train(train_text, bpe_vocab_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(tokenizer.to_json(), f)
    os.replace(tmp, path)
    return tokenizer
