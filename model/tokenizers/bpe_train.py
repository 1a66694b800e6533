"""Byte-level BPE training: learn mergeable ranks in tiktoken's format from a corpus.

The textbook loop (tiktoken's `_educational.bpe_train`) recounts every pair of every word of the
corpus for each merge. Here the corpus is first collapsed into its unique words with their counts
(Tiny Shakespeare: 267k words, 14k unique), pair counts are kept up to date incrementally (a
merge only touches the words that contain the merged pair, found through an inverted index) and
the most frequent pair comes off a heap. The result is the same merges, in the same order, as the
textbook loop, including its tie-breaking.

Tie-breaking: among pairs with the highest count, the winner is the pair whose first occurrence
in the corpus (in the current segmentation) comes first, i.e. what `max` over a Counter filled
in corpus order returns. Keeping exact first occurrences up to date would cost a scan of the
inverted index on every change, so each pair carries a lower bound instead (new occurrences can
only lower it, lost ones leave it a valid bound); the heap orders by (count, bound) and a pair
at the top whose bound is not exact is corrected and pushed back. When the top pair's bound is
exact, every other pair of the same count has a true first occurrence at or after its own bound,
hence after the top pair's.
"""

from __future__ import annotations

import heapq
from collections import Counter
from itertools import pairwise

import regex

from model.tokenizers.base import TokenizerError
from model.tokenizers.patterns import DEFAULT_PATTERN

Pair = tuple[int, int]

# First-occurrence keys pack (word index, byte offset in the word) into one int, which compares
# faster than a tuple; no pre-tokenized word comes near 2**40 bytes.
_OFFSET_BITS = 40


def pretokenize(text: str, pattern: str = DEFAULT_PATTERN) -> Counter[str]:
    """Count the words `pattern` cuts `text` into; iteration order is order of first appearance."""
    compiled = regex.compile(pattern)
    # findall returns the groups instead of the whole match when the pattern has capture groups.
    if compiled.groups:
        words = [m.group() for m in compiled.finditer(text)]
    else:
        words = compiled.findall(text)
    if sum(map(len, words)) != len(text):
        raise TokenizerError(
            "the pre-tokenization pattern skips some characters of the text; it must match every "
            "character (end it with a catch-all alternative such as |\\s|. ), or tiktoken would "
            "drop them when encoding"
        )
    return Counter(words)


def _merge_word(word: list[int], a: int, b: int, new: int) -> list[int]:
    """Replace each (a, b) in `word`, scanning left to right, by `new` ("aaa" -> "aa" "a")."""
    out: list[int] = []
    i = 0
    last = len(word) - 1
    while i < last:
        if word[i] == a and word[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    if i == last:
        out.append(word[last])
    return out


class _PairStats:
    """Pair counts, the words holding each pair, and first-occurrence bounds, over unique words."""

    def __init__(self, words: list[list[int]], freqs: list[int]) -> None:
        self.words = words
        self.freqs = freqs
        self.token_len: list[int] = [1] * 256  # byte length of each token id
        self.counts: dict[Pair, int] = {}  # occurrences in the corpus, repeated words included
        self.where: dict[Pair, set[int]] = {}  # indices of the unique words that hold the pair
        self.first: dict[Pair, int] = {}  # lower bound on the key of the first occurrence
        counts, where, first = self.counts, self.where, self.first
        for wi, (word, freq) in enumerate(zip(words, freqs, strict=True)):
            base = wi << _OFFSET_BITS
            for pos, pair in enumerate(pairwise(word)):
                if pair in counts:
                    counts[pair] += freq
                    where[pair].add(wi)
                else:  # words are visited in corpus order, so this is the exact first occurrence
                    counts[pair] = freq
                    where[pair] = {wi}
                    first[pair] = base + pos  # every token is one byte yet: position == offset
        self.heap: list[tuple[int, int, Pair]] = [(-c, first[p], p) for p, c in counts.items()]
        heapq.heapify(self.heap)

    def exact_first(self, pair: Pair) -> int:
        wi = min(self.where[pair])
        word, token_len = self.words[wi], self.token_len
        a, b = pair
        offset = 0
        for i in range(len(word) - 1):
            if word[i] == a and word[i + 1] == b:
                return (wi << _OFFSET_BITS) + offset
            offset += token_len[word[i]]
        raise AssertionError(f"pair {pair} indexed in word {wi} but not found there")

    def pop_best(self) -> Pair | None:
        """The most frequent pair, earliest first occurrence on ties; None when none is left."""
        heap, counts, first = self.heap, self.counts, self.first
        while heap:
            neg_count, bound, pair = heap[0]
            if counts.get(pair) != -neg_count or first[pair] != bound:
                heapq.heappop(heap)  # stale: a newer entry for this pair is in the heap
                continue
            exact = self.exact_first(pair)
            if exact != bound:
                first[pair] = exact
                heapq.heapreplace(heap, (neg_count, exact, pair))
                continue
            heapq.heappop(heap)
            return pair
        return None

    def merge(self, pair: Pair, new: int) -> None:
        """Apply the merge `pair` -> `new` to every word holding it and update the statistics."""
        a, b = pair
        words, freqs, token_len = self.words, self.freqs, self.token_len
        counts, where, first = self.counts, self.where, self.first
        delta: dict[Pair, int] = {}
        lowered: set[Pair] = set()
        for wi in sorted(where[pair]):
            old = words[wi]
            freq = freqs[wi]
            word = _merge_word(old, a, b, new)
            words[wi] = word
            old_pairs = set(pairwise(old))
            new_pairs = set(pairwise(word))
            for p in pairwise(old):
                delta[p] = delta.get(p, 0) - freq
            for p in pairwise(word):
                delta[p] = delta.get(p, 0) + freq
            for p in old_pairs - new_pairs:
                where[p].discard(wi)
            for p in new_pairs - old_pairs:
                where.setdefault(p, set()).add(wi)
            # Every occurrence this merge creates involves `new`; all others kept their byte
            # offsets, so lowering the bounds with these is enough to keep them lower bounds.
            offset = wi << _OFFSET_BITS
            for i in range(len(word) - 1):
                left, right = word[i], word[i + 1]
                if left == new or right == new:
                    p = (left, right)
                    if offset < first.get(p, offset + 1):
                        first[p] = offset
                        lowered.add(p)
                offset += token_len[left]
        for p in lowered.union(p for p, d in delta.items() if d):
            count = counts.get(p, 0) + delta.get(p, 0)
            if count:
                counts[p] = count
                heapq.heappush(self.heap, (-count, first[p], p))
            else:
                counts.pop(p, None)
                first.pop(p, None)
                where.pop(p, None)


def train_bpe_ranks(text: str, vocab_size: int, pattern: str = DEFAULT_PATTERN) -> dict[bytes, int]:
    """Learn byte-level BPE mergeable ranks from `text`, in the format `tiktoken.Encoding` takes.

    Ranks 0..255 are the single bytes in byte order (so any text encodes); rank 256 onwards are
    merges in the order they were learnt. Returns fewer than `vocab_size` ranks when the text
    runs out of pairs to merge. Same result as tiktoken's `_educational.bpe_train`, tie-breaking
    included. Should a merge ever rebuild bytes that are already a token (no test corpus has
    produced one), the existing token is reused and no rank is spent, where the textbook loop
    would give two tokens one rank, which tiktoken cannot load.
    """
    if vocab_size < 256:
        raise TokenizerError(
            f"vocab_size must be at least 256 (one token per byte), got {vocab_size}"
        )
    word_counts = pretokenize(text, pattern)
    words = [list(w.encode("utf-8")) for w in word_counts]
    stats = _PairStats(words, list(word_counts.values()))

    vocab: list[bytes] = [bytes([i]) for i in range(256)]
    ranks: dict[bytes, int] = {token: i for i, token in enumerate(vocab)}
    while len(vocab) < vocab_size:
        pair = stats.pop_best()
        if pair is None:
            break
        token = vocab[pair[0]] + vocab[pair[1]]
        new = ranks.get(token)
        if new is None:
            new = len(vocab)
            vocab.append(token)
            ranks[token] = new
            stats.token_len.append(len(token))
        stats.merge(pair, new)
    return ranks
