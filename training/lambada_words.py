"""LAMBADA passages as words: the context's words and how far back the target last appeared.

A passage is `context + " " + target` (`training.corpora.split_last_word`). Its words, for the
context heuristics and the copy distance, are the runs of letters, digits and apostrophes
(`said,` is the word `said`; `don't` stays one word), compared case-sensitively, as the benchmark
compares the target: `Alice` and `alice` are different predictions.

The copy distance of a passage is how many context words back the target's last occurrence sits
(1 = the word just before the target), or None when the target is not in the context: the share
of targets a model could only get right by copying, and how far it would have to look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from training.corpora import split_last_word

_WORD = re.compile(r"[\w']+")
# upper edges of the copy-distance bins, in context words; the last bin is open
DISTANCE_EDGES = (16, 32, 48)
NOT_IN_CONTEXT = "not in context"


def words(text: str) -> list[str]:
    """The words of `text` in order (letters, digits, apostrophes; punctuation dropped)."""
    return _WORD.findall(text)


@dataclass(frozen=True)
class PassageWords:
    context: list[str]  # the context's words, in order
    target: str  # the last word exactly as the benchmark scores it
    distance: int | None  # context words back to the target's last occurrence; None: absent


def passage_words(passage: str) -> PassageWords:
    context, target = split_last_word(passage)
    ctx = words(context)
    distance = None
    for back, word in enumerate(reversed(ctx), start=1):
        if word == target:
            distance = back
            break
    return PassageWords(ctx, target, distance)


def distance_bins() -> list[str]:
    """Bin labels in order: '1-16', '17-32', '33-48', '49+', then 'not in context'."""
    labels, low = [], 1
    for edge in DISTANCE_EDGES:
        labels.append(f"{low}-{edge}")
        low = edge + 1
    return [*labels, f"{low}+", NOT_IN_CONTEXT]


def distance_bin(distance: int | None) -> str:
    """The label of the bin holding `distance` (None: not in context)."""
    labels = distance_bins()
    if distance is None:
        return NOT_IN_CONTEXT
    if distance < 1:
        raise ValueError(f"a copy distance counts words back from 1, got {distance}")
    for edge, label in zip(DISTANCE_EDGES, labels, strict=False):
        if distance <= edge:
            return label
    return labels[len(DISTANCE_EDGES)]
