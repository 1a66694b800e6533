"""The Kneser-Ney reference against the textbook recursion written out with dictionaries."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from training.batches import EVAL_IGNORE_INDEX, eval_windows
from training.ngram import KneserNey, loss_by_window_position, ngram_reference


def textbook_kn(train: list[int], order: int, vocab: int):
    """P(w | context) by the interpolated Kneser-Ney recursion, one dict per order."""
    grams = [Counter() for _ in range(order + 1)]  # grams[k][tuple of k ids]
    grams[order] = Counter(tuple(train[i : i + order]) for i in range(len(train) - order + 1))
    for k in range(order - 1, 0, -1):  # continuation counts: distinct left neighbours
        lefts = defaultdict(set)
        for g in grams[k + 1]:
            lefts[g[1:]].add(g[0])
        grams[k] = Counter({g: len(s) for g, s in lefts.items()})
    discount = {}
    for k in range(1, order + 1):
        n1 = sum(1 for c in grams[k].values() if c == 1)
        n2 = sum(1 for c in grams[k].values() if c == 2)
        discount[k] = n1 / (n1 + 2 * n2) if n1 else 0.5

    def prob(w: int, context: tuple[int, ...]) -> float:
        k = len(context) + 1
        lower = 1.0 / vocab if k == 1 else prob(w, context[1:])
        rows = {g: c for g, c in grams[k].items() if g[:-1] == context}
        total = sum(rows.values())
        if total == 0:
            return lower
        d = discount[k]
        return (max(rows.get(context + (w,), 0) - d, 0) + d * len(rows) * lower) / total

    return prob


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_matches_the_textbook_recursion_and_sums_to_one(order: int) -> None:
    rng = np.random.default_rng(order)
    vocab = 5
    base = rng.integers(0, vocab, 12)
    train = np.concatenate([base, rng.integers(0, vocab, 60), base, base[:5]])  # some repeats
    scored = np.concatenate([base[3:9], rng.integers(0, vocab, 25)])
    model = KneserNey(train, order, vocab)
    textbook = textbook_kn(train.tolist(), order, vocab)
    got = model.log_probs(scored)
    s = scored.tolist()
    for i in range(1, len(s)):
        context = tuple(s[max(0, i - order + 1) : i])
        assert got[i - 1] == pytest.approx(math.log(textbook(s[i], context)), rel=1e-9), i
        if i < 6:  # every context's distribution sums to one, seen or not
            total = sum(textbook(w, context) for w in range(vocab))
            assert total == pytest.approx(1.0, rel=1e-9)
    assert model.loss(scored) == pytest.approx(-got.mean())
    # the model's own distributions sum to one, after seen and unseen contexts alike
    for context in ([0], [1, 2], s[:3], [4, 4, 4]):
        probs = [np.exp(model.log_probs(np.array([*context, w]))[-1]) for w in range(vocab)]
        assert sum(probs) == pytest.approx(1.0, rel=1e-9), context


def test_more_context_helps_where_the_text_repeats_and_the_order_is_chosen_on_held_out() -> None:
    rng = np.random.default_rng(0)
    phrases = [rng.integers(0, 20, 6) for _ in range(30)]
    text = np.concatenate([phrases[i] for i in rng.integers(0, 30, 3000)])
    train, held_out, val = text[:14000], text[14000:16000], text[16000:]
    ref = ngram_reference(train, held_out, val, 20, [1, 2, 4, 6])
    val_loss = {n: v for n, (_, v) in ref.by_order.items()}
    assert val_loss[4] < val_loss[2] < val_loss[1]  # phrases of 6: context pays
    held = {n: h for n, (h, _) in ref.by_order.items()}
    assert ref.order == min(held, key=held.__getitem__)


def test_orders_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        KneserNey(np.arange(10), 0, 10)
    with pytest.raises(ValueError, match="int64 code"):
        KneserNey(np.arange(10), 8, 1024)
    with pytest.raises(ValueError, match="fewer than the order"):
        KneserNey(np.arange(3), 4, 10)


@pytest.mark.parametrize("n_targets", [48, 50, 10])  # full windows; a flush tail; one short window
def test_loss_by_window_position_follows_the_evaluation_windows(n_targets: int) -> None:
    rng = np.random.default_rng(n_targets)
    tokens = rng.integers(0, 7, n_targets + 1)
    log_probs = -rng.random(n_targets)  # stands for log P(target i+1)
    expected: dict[int, list[float]] = {}
    for x, y in eval_windows(tokens, 16, batch_size=4):  # where the model scores each target
        for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
            start = _window_start(tokens.tolist(), row_x)
            for pos, target in enumerate(row_y):
                if target != EVAL_IGNORE_INDEX:
                    expected.setdefault(pos, []).append(-log_probs[start + pos])
    got = loss_by_window_position(log_probs, 16)
    assert len(got) == len(expected)
    assert got == pytest.approx([np.mean(expected[p]) for p in range(len(got))])


def _window_start(tokens: list[int], window: list[int]) -> int:
    """Where a window of inputs starts in tokens (the random ids make it unique at this length)."""
    starts = [i for i in range(len(tokens)) if tokens[i : i + len(window)] == window]
    assert len(starts) == 1
    return starts[0]


def test_ids_outside_the_vocabulary_and_empty_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="token ids must lie in 0..4"):
        KneserNey(np.array([0, 1, 5, 2]), 2, 5)
    model = KneserNey(np.array([0, 1, 2, 3, 4]), 2, 5)
    with pytest.raises(ValueError, match="token ids must lie"):
        model.log_probs(np.array([0, 7]))
    with pytest.raises(ValueError, match="at least two tokens"):
        model.loss(np.array([3]))
