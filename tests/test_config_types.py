"""Strict types and ranges for every config field (model/field_types.py), model and training alike."""

from __future__ import annotations

import dataclasses
import math

import pytest

from model.config import ModelConfig
from model.field_types import Bounds, check_bounds, check_types
from training.config import RunConfig, TrainConfig


@pytest.mark.parametrize(
    "field, value",
    [
        ("n_layers", 2.0),  # a float is not a whole number, even a round one
        ("n_layers", True),  # True == 1, but it is not a size
        ("d_model", "128"),
        ("vocab_size", None),
        ("causal_mask", "false"),  # a truthy string would train a causal model
        ("causal_mask", 0),
        ("ln_eps", None),
        ("ln_eps", "1e-5"),
        ("ln_eps", math.nan),
        ("dropout", math.inf),
        ("norm", "sideways"),
        ("norm", 1),
        ("architecture", ["transformer"]),
    ],
)
def test_model_config_refuses_wrong_types(field, value):
    with pytest.raises(ValueError, match=rf"ModelConfig\.{field}=.*expected"):
        ModelConfig.from_dict({field: value})


@pytest.mark.parametrize(
    "field, value, complaint",
    [
        ("n_layers", 100_000, "at most 1024"),
        ("vocab_size", 2**23, "at most 1048576"),
        ("n_ctx", 10**9, "at most 65536"),
        ("d_model", 0, "positive"),
        ("ln_eps", -1e-5, "positive"),
        ("ln_eps", 0.0, "positive"),
        ("dropout", 1.0, "below 1"),
        ("pos_scale", 0.0, "positive"),
    ],
)
def test_model_config_refuses_out_of_range_values(field, value, complaint):
    with pytest.raises(ValueError, match=rf"ModelConfig\.{field} must be {complaint}"):
        ModelConfig.from_dict({field: value})


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_steps", 20.0),
        ("lr", "1e-3"),
        ("progress", "yes"),
        ("threads", 1.5),
        ("eval_max_tokens", "none"),
        ("tokenizer", "words"),
        ("data_dir", 3),
        ("seed", False),
    ],
)
def test_train_config_refuses_wrong_types(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}=.*expected"):
        RunConfig.from_dict({"train": {field: value}})


@pytest.mark.parametrize(
    "field, value",
    [
        ("beta1", 2.0),
        ("beta2", 1.0),
        ("lr", -1e-3),
        ("lr", 0.0),
        ("threads", -1),
        ("threads", 0),
        ("eval_max_tokens", 0),
        ("warmup_steps", -1),
        ("batch_size", 0),
        ("bpe_vocab_size", 100),
        ("seed", -1),
    ],
)
def test_train_config_refuses_out_of_range_values(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field} must be"):
        RunConfig.from_dict({"train": {field: value}})


def test_direct_construction_is_checked_too():
    """Not only files: code that builds a config by hand gets the same checks."""
    with pytest.raises(ValueError, match=r"TrainConfig\.lr="):
        TrainConfig(lr="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"TrainConfig\.out_dir is empty"):
        TrainConfig(out_dir=" ")


def test_ints_are_floats_and_optional_fields_take_none():
    run = RunConfig.from_dict({"train": {"lr": 1, "threads": None, "eval_max_tokens": None}})
    assert run.train.lr == 1 and run.train.threads is None


@pytest.mark.parametrize("data", [[], "model", None, {"train": [1, 2]}, {"model": "big"}])
def test_configs_that_are_not_tables_are_refused(data):
    with pytest.raises(ValueError, match="table"):
        RunConfig.from_dict(data)


def test_defaults_pass_their_own_checks():
    """The checker reads every field's annotation: an annotation it has no rule for fails here."""
    for cls in (ModelConfig, TrainConfig):
        instance = cls()
        check_types(cls, {f.name: getattr(instance, f.name) for f in dataclasses.fields(cls)})


def test_bounds_name_the_side_that_failed():
    @dataclasses.dataclass
    class Sizes:
        n: int = 5

    check_bounds(Sizes(5), {"n": Bounds(low=1, high=5)})
    with pytest.raises(ValueError, match=r"Sizes\.n must be at most 5, got 6"):
        check_bounds(Sizes(6), {"n": Bounds(low=1, high=5)})
    with pytest.raises(ValueError, match=r"Sizes\.n must be at least 2, got 1"):
        check_bounds(Sizes(1), {"n": Bounds(low=2)})
