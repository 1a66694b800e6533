"""LAMBADA scoring, copy distance, the baselines and the record section, on hand-made passages."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from model.tokenizers import CharTokenizer
from training.lambada import lambada_eval, wilson_interval
from training.lambada_baselines import (
    common_words,
    fitting_context_word,
    lambada_baselines,
    most_frequent_context_word,
    most_recent_context_word,
    next_token_probs,
    ngram_word,
    word_log_prob,
)
from training.lambada_record import seed_curve, seed_final, spread
from training.lambada_words import NOT_IN_CONTEXT, distance_bin, distance_bins, passage_words
from training.ngram import KneserNey

# --- words and copy distance -------------------------------------------------------------------


def test_copy_distance_counts_context_words_back_to_the_last_occurrence() -> None:
    pw = passage_words('Alice met Bob. "Later," Alice said, "Bob saw you." Then Bob')
    assert pw.target == "Bob"
    assert pw.context == [
        "Alice",
        "met",
        "Bob",
        "Later",
        "Alice",
        "said",
        "Bob",
        "saw",
        "you",
        "Then",
    ]
    assert pw.distance == 4  # Bob, saw, you, Then


def test_copy_distance_is_case_sensitive_and_none_when_absent() -> None:
    assert passage_words("the rose was red. Rose").distance is None
    assert passage_words("it was his don't and don't").distance == 2


def test_distance_bins() -> None:
    assert distance_bins() == ["1-16", "17-32", "33-48", "49+", NOT_IN_CONTEXT]
    assert [distance_bin(d) for d in (1, 16, 17, 48, 49, 500, None)] == [
        "1-16", "1-16", "17-32", "33-48", "49+", "49+", NOT_IN_CONTEXT,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="from 1"):
        distance_bin(0)


# --- accuracy and its interval -----------------------------------------------------------------


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(3.8415 / 13.8415, abs=1e-4))
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


class _Successor(nn.Module):
    """Predicts the id after the input id (mod vocab), with logit 10 against 0."""

    def __init__(self, vocab: int, n_ctx: int = 32) -> None:
        super().__init__()
        self.cfg = SimpleNamespace(n_ctx=n_ctx)
        self.vocab = vocab
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return 10.0 * nn.functional.one_hot((x + 1) % self.vocab, self.vocab).float()


def test_whole_word_greedy_accuracy_and_summed_word_loss() -> None:
    tok = CharTokenizer.train(" abcd")  # ' '=0, a=1, b=2, c=3, d=4
    model = _Successor(tok.n_vocab)
    # "abcd a": after d comes ' ' and after ' ' comes a: both tokens of " a" are the argmax
    # "abcd b": ' ' is right, b is not: the whole word is wrong
    result = lambada_eval(model, tok, ["abcd a", "abcd b", "d"])
    assert (result.n_scored, result.n_skipped) == (2, 1)  # "d" has no final space
    assert result.accuracy == 0.5
    # per token: right -> log(1 + 4 e^-10); wrong -> 10 + log(1 + 4 e^-10)
    small = math.log(1 + 4 * math.exp(-10))
    assert result.loss == pytest.approx((2 * small + (2 * small + 10)) / 2, abs=1e-5)
    assert (result.accuracy_low, result.accuracy_high) == pytest.approx(wilson_interval(1, 2))
    assert result.by_distance[NOT_IN_CONTEXT] == [2, 1]


# --- baselines ---------------------------------------------------------------------------------

TRAIN = [
    "the cat saw the dog and the dog saw the cat",
    "the man met Tom and then the man saw Tom",
    "a dog saw a cat and the cat saw a dog",
]
HELD_OUT = ["the man met Tom and then the man saw Tom", "the cat saw the dog and Ann saw the cat"]


def _char_ngram(order: int = 3) -> tuple[CharTokenizer, np.ndarray, KneserNey]:
    text = "\n\n".join(TRAIN)
    tok = CharTokenizer.train(text + "".join(HELD_OUT))
    ids = np.array(tok.encode(text))
    return tok, ids, KneserNey(ids, order, tok.n_vocab)


def test_next_token_probs_is_the_distribution_log_probs_scores() -> None:
    tok, _, model = _char_ngram()
    seq = np.array(tok.encode("the cat saw Ann"))
    lp = model.log_probs(seq)
    for i in range(1, len(seq)):
        p = next_token_probs(model, seq[max(0, i - 2) : i].tolist())
        assert p.sum() == pytest.approx(1.0)
        assert math.log(p[seq[i]]) == pytest.approx(lp[i - 1])


def test_ngram_word_is_greedy_and_sums_the_word_loss() -> None:
    tok, _, model = _char_ngram()
    ctx, word = tok.encode("the dog saw the"), tok.encode(" cat")
    correct, loss = ngram_word(model, ctx, word)
    assert loss == pytest.approx(-word_log_prob(model, ctx, word))
    greedy, history = [], list(ctx)
    for _ in word:
        greedy.append(int(np.argmax(next_token_probs(model, history[-2:]))))
        history.append(word[len(greedy) - 1])
    assert correct == (greedy == word)


def test_context_rules_pick_by_count_recency_and_fit() -> None:
    pw = passage_words("Tom saw Ann and Ann saw Tom and the Bob and Jim")
    common = frozenset({"the", "and", "saw"})
    assert most_frequent_context_word(pw, common) == "Tom"  # Tom and Ann twice: Tom more recent
    assert most_recent_context_word(pw, common) == "Bob"
    assert fitting_context_word(pw, common, lambda w: -len(w)) == "Bob"  # ties: more recent
    assert fitting_context_word(pw, common, lambda w: 1.0 if w == "Ann" else 0.0) == "Ann"
    assert most_recent_context_word(passage_words("the and the"), common) is None


def test_common_words_are_counted_from_the_training_passages() -> None:
    assert common_words(TRAIN, top=2) == {"the", "saw"}


def test_baselines_on_hand_made_passages() -> None:
    tok, ids, model = _char_ngram()
    found = lambada_baselines(TRAIN, HELD_OUT, tok, ids, model, common_top=2)
    results = {r.name: r for r in found}
    assert set(results) == {
        "unigram", "ngram", "context_most_frequent", "context_most_recent", "context_fits",
        "context_ceiling",
    }  # fmt: skip
    assert all(r.n == 2 for r in results.values())
    assert results["unigram"].accuracy == 0.0  # "the" is never a target here
    assert "'the'" in results["unigram"].description
    # "the" and "saw" are never candidates; both targets are, in their contexts
    assert results["context_ceiling"].accuracy == 1.0
    assert results["context_most_frequent"].accuracy == 0.0  # "man" (twice), then "Ann"
    assert results["context_most_recent"].accuracy == 0.0  # "man", then "Ann"
    assert results["context_most_frequent"].by_distance["1-16"][0] == 2
    for r in results.values():
        assert r.accuracy_low <= r.accuracy <= r.accuracy_high
    assert results["ngram"].loss is not None and results["ngram"].loss > 0
    assert results["context_fits"].loss is None


# --- the record section ------------------------------------------------------------------------


def _metrics(acc: float) -> list[dict]:
    row = {
        "lambada_accuracy": acc,
        "lambada_accuracy_low": acc / 2,
        "lambada_accuracy_high": acc * 2,
        "lambada_loss": 9.0,
        "lambada_n": 515,
        "lambada_by_distance": {"1-16": [1, 1]},
    }
    return [{"step": 200, **row, "lambada_accuracy": 0.0}, {"event": "x"}, {"step": 400, **row}]


def test_record_section_reads_curves_and_finals_from_metrics() -> None:
    m = _metrics(0.1)
    assert [p["step"] for p in seed_curve(m)] == [200, 400]
    assert seed_curve(m)[1] == {
        "step": 400, "accuracy": 0.1, "accuracy_low": 0.05, "accuracy_high": 0.2, "loss": 9.0,
    }  # fmt: skip
    final = seed_final(m)
    assert final is not None and final["step"] == 400 and final["by_distance"] == {"1-16": [1, 1]}
    assert seed_final([{"step": 1, "val_loss": 3.0}]) is None
    s = spread([0.1, 0.2, None])
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.15)
    assert s["std"] == pytest.approx(0.0707107, abs=1e-6)


# --- copying measures of a trained model -------------------------------------------------------


@pytest.mark.parametrize("architecture", ["transformer", "lstm"])
def test_copying_reads_copy_gain_and_induction_from_a_checkpoint(tmp_path, architecture) -> None:
    from model.build import build_model
    from model.checkpoint import save_checkpoint
    from model.config import ModelConfig
    from training.lambada_record import copying

    cfg = ModelConfig(
        vocab_size=8, n_ctx=48, d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32,
        architecture=architecture,
    )  # fmt: skip
    torch.manual_seed(0)
    save_checkpoint(tmp_path, build_model(cfg), CharTokenizer.train("abcdefgh"))
    val = np.random.default_rng(0).integers(0, 8, size=2000)
    out = copying(tmp_path, val)
    assert out["copy_gain"] == pytest.approx(out["first_copy_loss"] - out["second_copy_loss"])
    assert ("best_induction" in out) == (architecture == "transformer")
