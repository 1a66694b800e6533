"""Character-level tokenizer, id-compatible with nanoGPT's shakespeare_char."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model.tokenizers.base import TokenizerError, UnencodableTextError, as_id_list, visible


class CharTokenizer:
    """One token per character; ids index `chars`.

    `CharTokenizer.train(text)` uses sorted(set(text)) as the vocabulary, exactly as nanoGPT's
    `data/shakespeare_char/prepare.py` does, so ids (and checkpoints) are interchangeable with it:
    on Tiny Shakespeare that is 65 characters, '\\n' = 0, ' ' = 1, ..., 'z' = 64.
    """

    kind: str = "char"

    def __init__(self, chars: Sequence[str]) -> None:
        chars = list(chars)
        if not chars:
            raise TokenizerError("a character vocabulary needs at least one character")
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise TokenizerError(f"vocabulary entries must be single characters, got {c!r}")
        if len(set(chars)) != len(chars):
            raise TokenizerError("vocabulary has repeated characters")
        self.chars: list[str] = chars
        self._stoi: dict[str, int] = {c: i for i, c in enumerate(chars)}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        if not text:
            raise TokenizerError("cannot build a character vocabulary from empty text")
        return cls(sorted(set(text)))

    @property
    def n_vocab(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        stoi = self._stoi
        try:
            return [stoi[c] for c in text]
        except KeyError:
            # Only on failure do we pay for a second pass, to name every offending character.
            bad = set(text) - stoi.keys()
            raise UnencodableTextError.from_text(
                text, bad, "are not in this character vocabulary"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        chars = self.chars
        return "".join(chars[i] for i in as_id_list(ids, self.n_vocab))

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        chars = self.chars
        return [visible(chars[i]) for i in as_id_list(ids, self.n_vocab)]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": list(self.chars)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CharTokenizer:
        chars = d.get("chars")
        if not isinstance(chars, list):
            raise TokenizerError("char tokenizer JSON needs a 'chars' list")
        return cls(chars)

    def __repr__(self) -> str:
        return f"CharTokenizer(n_vocab={self.n_vocab})"
