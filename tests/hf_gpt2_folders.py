"""Hugging Face GPT-2 folders for the tests and the benchmark, built here at random init with
`transformers` (a dev dependency) and saved with `save_pretrained` (safetensors) beside a GPT-2
format tokenizer (vocab.json + merges.txt). Nothing is downloaded.

The tokenizer's merges are learnt from TEXT by our own BPE trainer, then padded with made-up
merges up to the vocabulary size the model asks for (50,257 for the GPT-2-small shape).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from model.tokenizers.bpe_train import train_bpe_ranks
from model.tokenizers.gpt2 import byte_to_unicode

EOT = "<|endoftext|>"
TEXT = (
    "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is "
    "the sun. When Mary and John went to the store, John gave a drink to Mary. "
    "The cat sat on the mat; the dog didn't. They'll say we've won, and I'm sure you're right.\n"
    "1234 5678 90, naïve café — 東京 🙂 \t tabs   and   spaces\n\n"
)
TINY = dict(n_embd=32, n_layer=2, n_head=4, n_positions=64)
SMALL = dict(n_embd=768, n_layer=12, n_head=12, n_positions=1024)  # GPT-2 small's shape


def _merge_of(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The two parts BPE joined to make `token`: BPE of its bytes with only earlier ranks."""
    limit = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best = min(
            range(len(parts) - 1),
            key=lambda i: ranks.get(parts[i] + parts[i + 1], limit),
        )
        joined = parts[best] + parts[best + 1]
        if ranks.get(joined, limit) >= limit:
            break
        parts[best : best + 2] = [joined]
    assert len(parts) == 2, token
    return parts[0], parts[1]


def gpt2_vocab(n_vocab: int, text: str = TEXT) -> tuple[dict[str, int], list[str]]:
    """(vocab.json, merges.txt lines) of exactly n_vocab tokens, the last being <|endoftext|>."""
    learnt = min(n_vocab - 1, 256 + 400)
    ranks = train_bpe_ranks(text, learnt)
    to_char = byte_to_unicode()

    def spell(token: bytes) -> str:
        return "".join(to_char[b] for b in token)

    vocab: dict[str, int] = {}
    merges: list[str] = []
    for token in sorted(ranks, key=ranks.__getitem__):
        if len(token) > 1:
            a, b = _merge_of(token, ranks)
            merges.append(f"{spell(a)} {spell(b)}")
        vocab[spell(token)] = len(vocab)
    # made-up merges (existing token + one letter) up to the size asked for
    letters = [to_char[b] for b in b"etaoinshrdlucmfwypvbgkqjxz"]
    tokens = list(vocab)
    i = 0
    while len(vocab) < n_vocab - 1:
        for letter in letters:
            if len(vocab) >= n_vocab - 1:
                break
            joined = tokens[i] + letter
            if joined not in vocab:
                vocab[joined] = len(vocab)
                merges.append(f"{tokens[i]} {letter}")
                tokens.append(joined)
        i += 1
    vocab[EOT] = len(vocab)
    return vocab, merges


def write_tokenizer(folder: Path, n_vocab: int) -> None:
    vocab, merges = gpt2_vocab(n_vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def hf_config(n_vocab: int, **sizes: object) -> object:
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=n_vocab,
        bos_token_id=n_vocab - 1,
        eos_token_id=n_vocab - 1,
        attn_implementation="eager",  # output_attentions needs the eager kernel
        **sizes,
    )


def build_gpt2_folder(folder: Path, n_vocab: int, seed: int = 0, **sizes: object) -> object:
    """A random-init GPT2LMHeadModel saved to `folder` with a tokenizer; returns the model."""
    from transformers import GPT2LMHeadModel

    sizes = {**TINY, **sizes} if not sizes.get("n_embd") else sizes
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(hf_config(n_vocab, **sizes)).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    write_tokenizer(folder, n_vocab)
    return model
