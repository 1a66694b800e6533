"""Tokenizers: text <-> token ids, for training, the app's inputs and heatmap axis labels.

    CharTokenizer   one token per character, nanoGPT-compatible (vocabulary = sorted set of chars)
    BPETokenizer    byte-level BPE trained here (`train_bpe_ranks`), run by a tiktoken.Encoding
    GPT2Tokenizer   GPT-2's own encoding: `gpt2_tokenizer()` (tiktoken's download or cache), or
                    `gpt2_tokenizer_from_folder(dir)` offline from a Hugging Face folder's files

All satisfy the `Tokenizer` protocol, serialize with `to_json` and come back with
`tokenizer_from_json`. Every error they raise is a `TokenizerError` (a ValueError).
"""

from model.tokenizers.base import Tokenizer, TokenizerError, UnencodableTextError
from model.tokenizers.bpe import BPETokenizer
from model.tokenizers.bpe_train import train_bpe_ranks
from model.tokenizers.char import CharTokenizer
from model.tokenizers.gpt2 import GPT2Tokenizer, gpt2_tokenizer, gpt2_tokenizer_from_folder
from model.tokenizers.patterns import DEFAULT_PATTERN, GPT2_PATTERN, GPT4_PATTERN
from model.tokenizers.serialize import tokenizer_from_json

__all__ = [
    "Tokenizer",
    "TokenizerError",
    "UnencodableTextError",
    "CharTokenizer",
    "BPETokenizer",
    "GPT2Tokenizer",
    "gpt2_tokenizer",
    "gpt2_tokenizer_from_folder",
    "train_bpe_ranks",
    "tokenizer_from_json",
    "DEFAULT_PATTERN",
    "GPT2_PATTERN",
    "GPT4_PATTERN",
]
