"""Shared runtime of the byte-level tokenizers: encode, decode and label through tiktoken."""

from __future__ import annotations

from collections.abc import Sequence

import tiktoken

from model.tokenizers.base import as_id_list, check_utf8_encodable, visible_bytes


class TiktokenTokenizer:
    """A `tiktoken.Encoding` behind the Tokenizer interface. Special tokens are never produced:
    text such as "<|endoftext|>" is encoded as ordinary text, so decode(encode(t)) == t."""

    kind: str

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding

    @property
    def n_vocab(self) -> int:
        return self.encoding.n_vocab

    def encode(self, text: str) -> list[int]:
        check_utf8_encodable(text)
        return self.encoding.encode_ordinary(text)

    def decode(self, ids: Sequence[int]) -> str:
        # Ids that end mid-character decode to U+FFFD, as tiktoken does; token_strings shows them.
        return self.encoding.decode(as_id_list(ids, self.n_vocab))

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        token_bytes = self.encoding.decode_single_token_bytes
        return [visible_bytes(token_bytes(i)) for i in as_id_list(ids, self.n_vocab)]
