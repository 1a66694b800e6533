"""Side-by-side step timing: every model timed, in the suite's own training step."""

from __future__ import annotations

import time

import pytest
import torch

import training.step_timing as st
from model.config import ModelConfig
from training.config import TrainConfig
from training.step_timing import time_steps_side_by_side

SMALL = dict(vocab_size=17, n_ctx=16, d_model=32, n_heads=2, d_head=16, d_mlp=64)


def test_a_bigger_model_takes_longer_per_step() -> None:
    train = TrainConfig(batch_size=4, precision="float32")
    small = ModelConfig(n_layers=1, **SMALL)
    big = ModelConfig(n_layers=1, **{**SMALL, "d_model": 256, "d_mlp": 1024})
    lstm = ModelConfig(architecture="lstm", n_layers=1, **SMALL)
    t = time_steps_side_by_side(
        {"small": (small, train), "big": (big, train), "lstm": (lstm, train)},
        rounds=3,
        steps_per_round=2,
    )
    assert set(t.seconds) == {"small", "big", "lstm"} and all(v > 0 for v in t.seconds.values())
    assert t.ratio("big", "small") > 1.0  # ~30x the parameters
    assert (t.rounds, t.steps_per_round, t.threads, t.clock) == (3, 2, 1, "cpu")


def test_one_thread_counts_cpu_time_not_time_the_core_was_taken(monkeypatch) -> None:
    """A step that loses the core (here: sleeps) costs wall time but no CPU time."""
    real_step = torch.optim.AdamW.step

    def slow_step(self, *args, **kwargs):
        time.sleep(0.02)
        return real_step(self, *args, **kwargs)

    small = ModelConfig(n_layers=1, **SMALL)
    train = TrainConfig(batch_size=2, precision="float32")
    monkeypatch.setattr(torch.optim.AdamW, "step", slow_step)
    one = st.time_steps_side_by_side({"m": (small, train)}, rounds=2, steps_per_round=2)
    two = st.time_steps_side_by_side({"m": (small, train)}, rounds=2, steps_per_round=2, threads=2)
    assert one.clock == "cpu" and two.clock == "wall"
    assert two.seconds["m"] >= 0.02 > one.seconds["m"]


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        time_steps_side_by_side({}, rounds=0)
