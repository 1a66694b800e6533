"""Our own byte-level BPE: ranks learnt by `train_bpe_ranks`, run by a `tiktoken.Encoding`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import tiktoken

from model.tokenizers.base import TokenizerError
from model.tokenizers.bpe_train import train_bpe_ranks
from model.tokenizers.patterns import DEFAULT_PATTERN
from model.tokenizers.tiktoken_backed import TiktokenTokenizer


def ranks_to_lines(ranks: dict[bytes, int]) -> list[str]:
    """tiktoken's .tiktoken format, one "base64(token) rank" entry per token, in rank order."""
    return [
        f"{base64.b64encode(token).decode('ascii')} {rank}"
        for token, rank in sorted(ranks.items(), key=lambda item: item[1])
    ]


def ranks_from_lines(lines: list[str]) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in lines:
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error, AttributeError) as e:
            raise TokenizerError(f"bad mergeable-rank entry {line!r}: {e}") from None
    return ranks


def _check_ranks(ranks: dict[bytes, int]) -> None:
    # tiktoken does not check these itself: a missing single byte makes encoding panic (an
    # uncatchable-by-`except Exception` BaseException) on text that needs it, and repeated
    # ranks fail deep inside its constructor.
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise TokenizerError(
            f"mergeable ranks lack {len(missing)} single byte(s), e.g. {bytes(missing[:5])!r}; "
            "every byte needs a token so that any text can be encoded"
        )
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise TokenizerError("mergeable ranks must be exactly 0..n-1, each used once")


class BPETokenizer(TiktokenTokenizer):
    """Byte-level BPE with our ranks; `encoding` is the tiktoken runtime doing the work."""

    kind: str = "bpe"

    def __init__(
        self,
        mergeable_ranks: dict[bytes, int],
        pattern: str = DEFAULT_PATTERN,
        name: str | None = None,
    ) -> None:
        _check_ranks(mergeable_ranks)
        self.mergeable_ranks = dict(mergeable_ranks)
        self.pattern = pattern
        self.name = name or f"attention-lab-bpe-{len(mergeable_ranks)}"
        try:
            encoding = tiktoken.Encoding(
                name=self.name,
                pat_str=pattern,
                mergeable_ranks=self.mergeable_ranks,
                special_tokens={},
            )
        except ValueError as e:  # the pattern does not compile in tiktoken's regex engine
            raise TokenizerError(f"tiktoken rejected the BPE tokenizer: {e}") from e
        super().__init__(encoding)

    @classmethod
    def train(
        cls, text: str, vocab_size: int, pattern: str = DEFAULT_PATTERN, name: str | None = None
    ) -> BPETokenizer:
        """Learn a vocabulary of `vocab_size` tokens from `text` (fewer if the text runs out of
        pairs to merge: check `n_vocab`)."""
        return cls(train_bpe_ranks(text, vocab_size, pattern), pattern, name)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "pattern": self.pattern,
            "mergeable_ranks": ranks_to_lines(self.mergeable_ranks),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BPETokenizer:
        lines, pattern, name = d.get("mergeable_ranks"), d.get("pattern"), d.get("name")
        if not isinstance(lines, list) or not isinstance(pattern, str):
            raise TokenizerError(
                "BPE tokenizer JSON needs a 'mergeable_ranks' list and a 'pattern'"
            )
        if name is not None and not isinstance(name, str):
            raise TokenizerError("BPE tokenizer JSON 'name' must be a string")
        return cls(ranks_from_lines(lines), pattern, name)

    def __repr__(self) -> str:
        return f"BPETokenizer(name={self.name!r}, n_vocab={self.n_vocab})"
