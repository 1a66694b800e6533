"""What every tokenizer offers, the errors they raise, and the token labels shown on heatmap axes."""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable


class TokenizerError(ValueError):
    """Base of every error a tokenizer raises (a ValueError, so callers may catch either)."""


class UnencodableTextError(TokenizerError):
    """The text holds characters the tokenizer cannot represent.

    `chars` lists each offending character once, in order of first appearance;
    `positions` maps each to the index of its first appearance in the text.
    """

    # Enough to see what is wrong without a message the length of a novel.
    _MAX_NAMED = 10

    def __init__(self, chars: Sequence[str], positions: dict[str, int], reason: str) -> None:
        self.chars: list[str] = list(chars)
        self.positions: dict[str, int] = dict(positions)
        named = ", ".join(f"{c!r} (first at {positions[c]})" for c in self.chars[: self._MAX_NAMED])
        more = len(self.chars) - self._MAX_NAMED
        if more > 0:
            named += f" and {more} more"
        self.reason = reason
        super().__init__(f"{len(self.chars)} character(s) {reason}: {named}")

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would call __init__ with the message alone (pickling, multiprocessing).
        return (type(self), (self.chars, self.positions, self.reason))

    @classmethod
    def from_text(cls, text: str, bad: Iterable[str], reason: str) -> UnencodableTextError:
        """Build the error with first positions found in `text` (only runs on the failure path)."""
        bad_set = set(bad)
        positions: dict[str, int] = {}
        for i, c in enumerate(text):
            if c in bad_set and c not in positions:
                positions[c] = i
                if len(positions) == len(bad_set):
                    break
        return cls(list(positions), positions, reason)


@runtime_checkable
class Tokenizer(Protocol):
    """Text <-> token ids. Implemented by CharTokenizer, BPETokenizer and GPT2Tokenizer."""

    kind: str  # "char" | "bpe" | "gpt2"; the key `to_json` stores and `tokenizer_from_json` reads

    @property
    def n_vocab(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """One printable label per id, for the axes of attention heatmaps."""
        ...

    def to_json(self) -> dict[str, Any]: ...


# Lone surrogates have no UTF-8 form; byte-level tokenizers reject them instead of letting
# tiktoken silently swap them for U+FFFD, which would break decode(encode(text)) == text.
_SURROGATES = re.compile("[\ud800-\udfff]")


def check_utf8_encodable(text: str) -> None:
    """Raise UnencodableTextError naming the surrogate code points in `text`, if any."""
    if _SURROGATES.search(text) is None:
        return
    bad = _SURROGATES.findall(text)
    raise UnencodableTextError.from_text(
        text, bad, "are surrogate code points, which have no UTF-8 encoding"
    )


def as_id_list(ids: Sequence[int], n_vocab: int) -> list[int]:
    """Plain Python ints in [0, n_vocab), from a list, tuple, numpy array or torch tensor."""
    # tolist() turns numpy/torch elements into Python ints in C; iterating a tensor would be slow.
    tolist = getattr(ids, "tolist", None)
    items = tolist() if callable(tolist) else ids
    try:
        # operator.index, unlike int(), refuses floats instead of truncating them.
        out = [operator.index(i) for i in items]
    except TypeError:
        raise TokenizerError("token ids must be a 1-D sequence of integers") from None
    if out and (min(out) < 0 or max(out) >= n_vocab):
        bad = sorted({i for i in out if not 0 <= i < n_vocab})
        raise TokenizerError(f"token ids out of range [0, {n_vocab}): {bad[:10]}")
    return out


# Whitespace made visible so a heatmap axis shows where spaces and line breaks are.
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def visible(text: str) -> str:
    """A printable label for a token's text.

    Spaces, newlines, tabs and carriage returns become ␣ ↵ ⇥ ␍; other unprintable characters
    become escapes such as '\\x00'. Bytes that were decoded with errors="surrogateescape"
    (U+DC80..U+DCFF, the halves of a multi-byte character split across tokens) are shown as the
    byte itself, e.g. '\\xe2'.
    """
    parts: list[str] = []
    for c in text:
        if c in _VISIBLE:
            parts.append(_VISIBLE[c])
        elif "\udc80" <= c <= "\udcff":
            parts.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c.isprintable():
            parts.append(c)
        else:
            parts.append(repr(c)[1:-1])
    return "".join(parts)


def visible_bytes(token: bytes) -> str:
    """Label of a byte-level token: its UTF-8 text, with partial characters as '\\xNN'."""
    return visible(token.decode("utf-8", errors="surrogateescape"))
