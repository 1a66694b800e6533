"""The token walk: every number is the model's own (its logits at the position, the stream its
hooks saw), its probabilities are softmax(logits / T) at the temperature chosen, attention-only
models say they have no MLP, and the LSTM is told the view does not apply."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures.app_checkpoints import TEXT, TINY
from interp.token_walk import probabilities, token_walk
from model.build import build_model
from model.config import ModelConfig
from model.switches import Switches
from model.tokenizers import CharTokenizer
from views import token_walk as view
from views.explore import Focus
from views.interp_lab import InterpChoice, InterpLab
from views.registry import views_for
from views.view_input import ViewInput


def _model(**changes):
    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    return build_model(ModelConfig(vocab_size=tok.n_vocab, **{**TINY, **changes})).eval(), tok


@pytest.mark.parametrize("changes", [{}, {"mlp": False}, {"pos_encoding": "none"}])
def test_the_walk_reads_the_models_own_numbers(changes):
    model, tok = _model(**changes)
    ids = torch.tensor(tok.encode("the cat sat on the mat"))
    walk = token_walk(model, ids, 7)
    with torch.no_grad():
        logits = model(ids[None])[0, 7]
    torch.testing.assert_close(walk.logits, logits)
    assert walk.token == int(ids[7]) and walk.position == 7
    assert (walk.mlp_out is None) == (changes.get("mlp") is False)
    assert (walk.pos_embed is None) == (changes.get("pos_encoding") == "none")
    # each block's output is its input plus what its sublayers wrote (pre-LN, residual)
    first = walk.embed + (walk.pos_embed if walk.pos_embed is not None else 0)
    added = walk.attn_out[0] + (walk.mlp_out[0] if walk.mlp_out is not None else 0)
    torch.testing.assert_close(walk.resid_post[0], first + added, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_probabilities_are_the_softmax_of_the_logits_over_the_temperature(temperature):
    logits = torch.randn(50)
    torch.testing.assert_close(
        probabilities(logits, temperature), torch.softmax(logits / temperature, -1)
    )
    greedy = probabilities(logits, 0.0)
    assert greedy.sum() == 1 and greedy[logits.argmax()] == 1


def _build(model, tok, temperature: float, **changes):
    ids = tuple(tok.encode("the cat sat on the mat"))
    from analysis.capture import capture

    cap = capture(model, tok, ids, Switches())
    lab = InterpLab(model, tok, ids, Switches())
    inp = ViewInput(focus=Focus(1, 1, 0, 0), lab=lab, interp=InterpChoice(position=9,
                    temperature=temperature))  # fmt: skip
    return view.build(cap, inp), model(torch.tensor([ids]))[0, 9].detach()


@pytest.mark.parametrize("temperature", [0.5, 1.7])
def test_the_views_probabilities_are_the_models_at_the_chosen_temperature(temperature):
    model, tok = _model()
    items, logits = _build(model, tok, temperature)
    (bars,) = [i.figure for i in items if getattr(i, "key", "") == "walk_probs_fig"]
    expected = torch.softmax(logits / temperature, -1).numpy()
    top = np.argsort(-logits.numpy(), kind="stable")[: len(bars.data[0].y)]
    np.testing.assert_allclose(bars.data[0].y, expected[top], rtol=1e-5)
    np.testing.assert_allclose(bars.data[0].customdata, logits.numpy()[top], rtol=1e-5)


def test_an_attention_only_model_says_it_has_no_mlp():
    model, tok = _model(mlp=False)
    items, _ = _build(model, tok, 1.0)
    assert "no MLP" in items[0].text
    assert not any("MLP" in y for y in items[1].figure.data[0].y)


def test_the_lstm_is_not_offered_the_walk():
    assert "walk" in [v.key for v in views_for(True)]
    assert "walk" not in [v.key for v in views_for(False)]
