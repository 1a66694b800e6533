r"""Pre-tokenization patterns: the regex that cuts text into "words" before BPE runs.

BPE never merges across a word boundary, so the pattern decides which tokens can exist at all
(GPT-2's keeps " the" as one word, so " the" can become one token, but "e t" never can). The
trainer (`train_bpe_ranks`, run with the `regex` module) and the runtime (tiktoken, Rust
fancy-regex) must cut text the same way, so the same string is used for both.

A pattern must match every character of any text, otherwise the runtime silently drops the
unmatched characters; both patterns below end in a catch-all `\s` alternative and cover letters,
numbers, other symbols and whitespace, so they do.

GPT2_PATTERN, alternatives tried left to right at each position:
    '(?:[sdmt]|ll|ve|re)     English contractions, split off: "don't" -> "don", "'t"
    ' ?\p{L}++'              a run of letters with at most one leading space: " Romeo"
    ' ?\p{N}++'              a run of digits with at most one leading space: " 1597"
    ' ?[^\s\p{L}\p{N}]++'    a run of punctuation/symbols with one optional space: " --", "!'"
    '\s++$'                  trailing whitespace at the very end of the text
    '\s+(?!\S)'              whitespace, leaving the last space to start the next word
    '\s'                     any single whitespace character left over
This is tiktoken's r50k/gpt2 `pat_str`, equivalent to the original GPT-2 release's pattern; the
possessive quantifiers (`++`) only make it faster.

GPT4_PATTERN is tiktoken's cl100k_base pattern: contractions case-insensitively, digits in
groups of at most three, one leading non-letter may attach to a word ("(Romeo" is one word),
and punctuation keeps the line breaks that follow it (":\n\n").

Why GPT-2's is the default: Attention Lab shows our own small BPE side by side with GPT-2's
tokenizer; with the same pattern any difference in token boundaries comes from the vocabulary
(corpus and size) alone, not from different pre-tokenization rules. On Tiny Shakespeare, plain
English with hardly any numbers, GPT-4's refinements (digit grouping, case-insensitive
contractions) have almost nothing to act on.
"""

from __future__ import annotations

GPT2_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)

GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

DEFAULT_PATTERN = GPT2_PATTERN
