"""What LAMBADA's held-out passages give without a neural model: count models and context rules.

    python -m training.lambada_baselines [--suite configs/lambada.toml] [--limit N]

Every baseline is scored on the same held-out passages as the models, by the same rule: a passage
counts when the baseline's single prediction is exactly the target word.

- unigram: always the most frequent word of the training passages; its word loss is the summed
  loss of the target's tokens under the token unigram (add-one counts over the training tokens);
- n-gram: interpolated Kneser-Ney on the training tokens (`training.ngram`, order chosen on the
  held-out slice of the training passages), read like a model: the target counts when each of its
  tokens is the n-gram's most likely next token given the passage so far (greedy continuation);
  its word loss is the target's summed token loss;
- context rules, after Paperno et al. (2016), who observed that most targets occur earlier in the
  passage: the prediction is a word of the context. Candidates are the context's words outside the
  100 most frequent words of the training passages (counted, not a hand-made stop list: "the" or
  "said" would otherwise win every passage); among them, the most frequent one (ties: the more
  recent), the most recent one, or the one the n-gram scores highest as the continuation ("fits").

Accuracy carries a 95% Wilson interval (`training.lambada.wilson_interval`).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from model.tokenizers import Tokenizer
from training.corpora import split_last_word
from training.lambada import wilson_interval
from training.lambada_words import PassageWords, distance_bin, distance_bins, passage_words, words
from training.ngram import KneserNey, _lookup

COMMON_WORDS = 100  # the training passages' most frequent words are never context-rule candidates


@dataclass
class BaselineResult:
    name: str
    description: str
    accuracy: float
    accuracy_low: float  # 95% Wilson interval
    accuracy_high: float
    n: int  # held-out passages scored
    loss: float | None  # mean summed word loss, nats (None: the rule gives no probabilities)
    by_distance: dict[str, list[int]] = field(default_factory=dict)  # bin -> [n, correct]


def result_of(
    name: str,
    description: str,
    correct: Sequence[bool],
    held_out: Sequence[PassageWords],
    loss: float | None = None,
) -> BaselineResult:
    n, k = len(correct), sum(correct)
    low, high = wilson_interval(k, n)
    bins = {label: [0, 0] for label in distance_bins()}
    for ok, pw in zip(correct, held_out, strict=True):
        cell = bins[distance_bin(pw.distance)]
        cell[0] += 1
        cell[1] += int(ok)
    return BaselineResult(name, description, k / n if n else 0.0, low, high, n, loss, bins)


# --- count models ------------------------------------------------------------------------------


def next_token_probs(model: KneserNey, history: Sequence[int]) -> np.ndarray:
    """P(next token = v | history) for every v: [vocab], by the same interpolation as
    `KneserNey.log_probs` (which scores only the token that came)."""
    vocab = model.vocab
    p = np.full(vocab, 1.0 / vocab)
    candidates = np.arange(vocab, dtype=np.int64)
    for k, o in enumerate(model.orders, start=1):
        if len(history) < k - 1:
            break
        ctx = 0  # the code of the last k-1 tokens (0 for the empty context of order 1)
        for t in history[len(history) - (k - 1) :]:
            ctx = ctx * vocab + int(t)
        total = _lookup(o.contexts, o.totals, np.array([ctx]))[0]
        if total <= 0:  # context never seen: this order passes the lower one through
            continue
        follow = _lookup(o.contexts, o.followers, np.array([ctx]))[0]
        count = _lookup(o.codes, o.counts, ctx * vocab + candidates)
        p = (np.maximum(count - o.discount, 0.0) + o.discount * follow * p) / total
    return p


def ngram_word(model: KneserNey, context: Sequence[int], word: Sequence[int]) -> tuple[bool, float]:
    """(every token of `word` is the greedy next token, summed loss of `word`) after `context`."""
    history, correct, loss = list(context), True, 0.0
    for t in word:
        p = next_token_probs(model, history[-(model.order - 1) :] if model.order > 1 else [])
        correct = correct and int(np.argmax(p)) == int(t)
        loss -= math.log(p[int(t)])
        history.append(int(t))
    return correct, loss


def word_log_prob(model: KneserNey, context: Sequence[int], word: Sequence[int]) -> float:
    """log P(word's tokens | context) under the n-gram."""
    keep = list(context[-(model.order - 1) :]) if model.order > 1 else list(context[-1:])
    seq = np.array([*keep, *word], dtype=np.int64)
    return float(model.log_probs(seq)[len(keep) - 1 :].sum())


# --- context rules -----------------------------------------------------------------------------


def candidates(pw: PassageWords, common: frozenset[str]) -> list[str]:
    """The context's words that may be a rule's prediction, in passage order."""
    return [w for w in pw.context if w not in common]


def most_frequent_context_word(pw: PassageWords, common: frozenset[str]) -> str | None:
    words_ = candidates(pw, common)
    if not words_:
        return None
    counts = Counter(words_)
    last = {w: i for i, w in enumerate(words_)}
    return max(counts, key=lambda w: (counts[w], last[w]))


def most_recent_context_word(pw: PassageWords, common: frozenset[str]) -> str | None:
    words_ = candidates(pw, common)
    return words_[-1] if words_ else None


def fitting_context_word(
    pw: PassageWords, common: frozenset[str], score: Callable[[str], float]
) -> str | None:
    """The candidate `score` (a log-probability as the continuation) ranks highest; ties: the
    more recent."""
    words_ = list(dict.fromkeys(reversed(candidates(pw, common))))  # most recent first
    return max(words_, key=score) if words_ else None


def common_words(train_passages: Sequence[str], top: int = COMMON_WORDS) -> frozenset[str]:
    counts = Counter(w for p in train_passages for w in words(p))
    return frozenset(w for w, _ in counts.most_common(top))


# --- all of them -------------------------------------------------------------------------------


def lambada_baselines(
    train_passages: Sequence[str],
    held_out: Sequence[str],
    tokenizer: Tokenizer,
    train_ids: np.ndarray,
    ngram: KneserNey,
    common_top: int = COMMON_WORDS,
) -> list[BaselineResult]:
    """Every baseline on `held_out`; the counts come from `train_passages` (words) and
    `train_ids` (their tokens, as the models trained on them). The context rules never predict
    one of the `common_top` most frequent training words."""
    pws = [passage_words(p) for p in held_out]
    splits = [split_last_word(p) for p in held_out]
    ctx_ids = [tokenizer.encode(c) for c, _ in splits]
    word_ids = [tokenizer.encode(" " + w) for _, w in splits]
    vocab = ngram.vocab
    out = []

    train_words = Counter(w for p in train_passages for w in words(p))
    top_word = train_words.most_common(1)[0][0]
    counts = np.bincount(train_ids.astype(np.int64), minlength=vocab).astype(np.float64) + 1.0
    uni = np.log(counts / counts.sum())
    uni_loss = float(np.mean([-uni[ids].sum() for ids in word_ids]))
    out.append(
        result_of(
            "unigram",
            f"always {top_word!r}, the most frequent training word; loss from the token unigram",
            [pw.target == top_word for pw in pws],
            pws,
            uni_loss,
        )
    )

    scored = [ngram_word(ngram, c, w) for c, w in zip(ctx_ids, word_ids, strict=True)]
    out.append(
        result_of(
            "ngram",
            f"Kneser-Ney {ngram.order}-gram on the training tokens, greedy continuation",
            [ok for ok, _ in scored],
            pws,
            float(np.mean([loss for _, loss in scored])),
        )
    )

    common = common_words(train_passages, common_top)
    rules: list[tuple[str, str, Callable[[int, PassageWords], str | None]]] = [
        (
            "context_most_frequent",
            "the context's most frequent candidate word",
            lambda _, pw: most_frequent_context_word(pw, common),
        ),
        (
            "context_most_recent",
            "the context's most recent candidate word",
            lambda _, pw: most_recent_context_word(pw, common),
        ),
        (
            "context_fits",
            "the candidate word the n-gram scores highest as the continuation",
            lambda i, pw: fitting_context_word(
                pw, common, lambda w: word_log_prob(ngram, ctx_ids[i], tokenizer.encode(" " + w))
            ),
        ),
    ]
    for name, what, rule in rules:
        picks = [rule(i, pw) for i, pw in enumerate(pws)]
        desc = f"{what} (candidates: context words outside the {common_top} most frequent)"
        hits = [p == pw.target for p, pw in zip(picks, pws, strict=True)]
        out.append(result_of(name, desc, hits, pws))
    in_context = [pw.target in candidates(pw, common) for pw in pws]
    out.append(
        result_of(
            "context_ceiling",
            "share of targets among the candidate words: what any context rule can reach",
            in_context,
            pws,
        )
    )
    return out


def fit_ngram(train_ids: np.ndarray, holdout_ids: np.ndarray, vocab: int) -> KneserNey:
    """Kneser-Ney at the order with the lowest loss on the held-out slice of the training text."""
    from training.ngram import fitting_orders

    best: tuple[float, KneserNey] | None = None
    for order in fitting_orders(vocab):
        model = KneserNey(train_ids, order, vocab)
        loss = model.loss(holdout_ids)
        if best is None or loss < best[0]:
            best = (loss, model)
    assert best is not None
    return best[1]


def baselines_for_suite(suite_path: str, limit: int | None = None) -> list[BaselineResult]:
    """The baselines for the first variant of a LAMBADA suite (its tokenizer and held-out slice)."""
    from training.corpora import load_corpus
    from training.prepare import prepare_data
    from training.suite import read_suite

    suite = read_suite(suite_path)
    run = suite.variants[0].run
    if run.train.corpus != "lambada":
        raise ValueError(f"{suite_path}: its models do not train on LAMBADA's passages")
    data = prepare_data(run)
    corpus = load_corpus("lambada", run.train.data_dir)
    assert corpus.train_passages is not None and corpus.val_passages is not None
    assert data.train is not None and data.holdout is not None
    ngram = fit_ngram(data.train, data.holdout, data.tokenizer.n_vocab)
    return lambada_baselines(
        corpus.train_passages, corpus.val_passages[:limit], data.tokenizer, data.train, ngram
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="configs/lambada.toml")
    parser.add_argument("--limit", type=int, default=None, help="only the first N held-out")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        results = baselines_for_suite(args.suite, args.limit)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        import json

        print(json.dumps([asdict(r) for r in results], indent=1))
        return 0
    print("baseline | accuracy [95% Wilson] | word loss (nats) | n")
    for r in results:
        loss = f"{r.loss:.2f}" if r.loss is not None else "-"
        print(
            f"{r.name} | {r.accuracy:.3f} [{r.accuracy_low:.3f}, {r.accuracy_high:.3f}] | "
            f"{loss} | {r.n}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
