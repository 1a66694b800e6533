"""What the model API accepts: token ids in the vocabulary, generation settings that mean something.
Each refusal is a ValueError that says what is allowed, not a RuntimeError from inside torch."""

from __future__ import annotations

import pytest
import torch

from model.build import build_model
from model.field_types import check_types
from model.generate import GenerationSettings, generate, sample_next
from tests.variants import TINY

MODELS = {"transformer": TINY, "lstm": TINY.replace(architecture="lstm")}


@pytest.fixture(params=list(MODELS))
def model(request):
    torch.manual_seed(0)
    return build_model(MODELS[request.param]).eval()


@pytest.mark.parametrize("bad_id", [-1, TINY.vocab_size, 10**6])
def test_out_of_vocabulary_ids_are_refused_by_the_forward_pass(model, bad_id):
    tokens = torch.tensor([[1, 2, bad_id, 3]])
    with pytest.raises(ValueError, match=rf"token ids must be in \[0, {TINY.vocab_size}\)"):
        model(tokens)


def test_out_of_vocabulary_prompt_is_refused_by_generate(model):
    prompt = torch.tensor([[1, TINY.vocab_size + 5]])
    with pytest.raises(ValueError, match=rf"got ids from 1 to {TINY.vocab_size + 5}"):
        generate(model, prompt, GenerationSettings(max_new_tokens=2, temperature=0.0))


def test_ids_at_both_ends_of_the_vocabulary_are_fine(model):
    tokens = torch.tensor([[0, TINY.vocab_size - 1]])
    assert model(tokens).shape == (1, 2, TINY.vocab_size)


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"top_p": 0.0}, "top_p must be positive"),
        ({"top_p": 1.5}, "top_p must be at most 1"),
        ({"top_k": 0}, "top_k must be positive"),
        ({"top_k": -3}, "top_k must be positive"),
        ({"max_new_tokens": 0}, "max_new_tokens must be positive"),
        ({"temperature": 1e-40}, "temperature must be 0 (greedy) or at least 0.001"),
        ({"temperature": -1.0}, "temperature must be at least 0"),
        ({"temperature": float("nan")}, "temperature=nan: expected a finite number"),
        ({"top_k": True}, "top_k=True"),
    ],
)
def test_meaningless_generation_settings_are_refused(settings, words):
    with pytest.raises(ValueError) as error:
        GenerationSettings(**settings)
    assert words in str(error.value)


def test_generation_settings_have_strict_types():
    """The tests type-check model/ with beartype, which refuses 5.0 for an int before
    __post_init__ runs; this is the check that refuses it everywhere else."""
    with pytest.raises(ValueError, match=r"max_new_tokens=5.0: expected a whole number"):
        check_types(GenerationSettings, {"max_new_tokens": 5.0})


def test_the_smallest_temperature_samples_the_argmax_even_from_huge_logits():
    """logits / T overflowed to inf (and softmax to NaN) before the max was subtracted."""
    logits = torch.tensor([[3e4, 2.99e4, -1e4]])
    g = torch.Generator().manual_seed(0)
    settings = GenerationSettings(temperature=1e-3)
    assert {sample_next(logits, settings, g).item() for _ in range(20)} == {0}


def test_valid_settings_still_sample(model):
    prompt = torch.tensor([[1, 2, 3]])
    settings = GenerationSettings(max_new_tokens=4, temperature=0.7, top_k=5, top_p=0.9, seed=1)
    out = generate(model, prompt, settings)
    assert out.shape == (1, 4) and int(out.max()) < TINY.vocab_size
