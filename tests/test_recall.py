"""Question 1's recall task: sequences are what the docstring says, and the experiment runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from training.recall import IGNORE, RecallTask, recall_batch


@pytest.mark.parametrize("fused", [False, True])
def test_every_scored_target_is_the_value_of_the_queried_pair(fused: bool) -> None:
    task = RecallTask(n_pairs=5, n_keys=8, n_values=6, n_filler=3, max_gap=7, fused=fused)
    x, y, dist = recall_batch(task, 64, torch.Generator().manual_seed(0))
    assert x.shape == (64, task.n_ctx) and int(x.max()) < task.vocab
    for b in range(64):
        scored = (y[b] != IGNORE).nonzero().flatten().tolist()
        assert len(scored) == task.n_pairs
        for q in scored:
            key, answer_at = int(x[b, q]), q - int(dist[b, q])
            assert key < task.n_keys and dist[b, q] > 0
            held = int(x[b, answer_at])
            if fused:  # the pair token encodes (key, value)
                pair = held - task.n_keys - task.n_values
                assert pair // task.n_values == key
                assert int(y[b, q]) == task.n_keys + pair % task.n_values
            else:
                assert int(x[b, answer_at - 1]) == key and int(y[b, q]) == held
    # distances span the whole window over enough sequences
    assert int(dist.max()) > task.length // 2


@pytest.mark.slow
def test_recall_experiment_writes_its_record(tmp_path: Path) -> None:
    from training.recall_experiment import Spec, run

    task = RecallTask(n_pairs=4, n_keys=8, n_values=4, n_filler=2, max_gap=8, fused=True)
    spec = Spec(
        task=task,
        steps=4,
        batch=4,
        warmup=1,
        lrs=(1e-3, 3e-3),
        start=(1e-3, 3e-3),
        seeds=(0, 1),
        eval_sequences=16,
    )
    record = run(tmp_path, spec)
    saved = json.loads((tmp_path / "record.json").read_text())
    assert (
        saved["models"].keys()
        == record["models"].keys()
        == {"transformer_2l", "transformer_1l", "lstm"}
    )
    lstm, tf = saved["models"]["lstm"], saved["models"]["transformer_2l"]
    assert abs(lstm["n_params"] - tf["n_params"]) / tf["n_params"] < 0.02  # equal parameters
    assert len(tf["accuracy_by_distance"]) == len(task.bins()) and len(tf["seeds"]) == 2
    assert (tmp_path / "transformer_2l" / "model.safetensors").is_file()
    assert len(tf["head_roles"]["retrieval"]) == 2
    # resumable: a second call trains nothing new
    before = (tmp_path / "runs.json").read_text()
    run(tmp_path, spec)
    assert (tmp_path / "runs.json").read_text() == before


def test_each_model_searches_the_ladder_until_its_best_rate_is_inside() -> None:
    """The suite's rule: a winner at an end widens the search; a model at chance everywhere gets
    the whole ladder tried, so 'it did not learn' is said of every rate, not of two."""
    from training.recall_experiment import Spec, search

    spec = Spec(lrs=(1e-4, 1e-3, 1e-2, 1e-1), start=(1e-3, 1e-2))

    def model(accuracy_at: dict[float, float]):
        tried: list[float] = []

        def run_at(lr: float) -> dict:
            tried.append(lr)
            acc = accuracy_at[lr]
            return {"lr": lr, "status": "completed", "select": {"accuracy": acc, "loss": 1 - acc}}

        return tried, run_at

    tried, run_at = model({1e-4: 0.2, 1e-3: 0.9, 1e-2: 0.5, 1e-1: 0.1})
    assert [r["lr"] for r in search(spec, run_at)] == [1e-4, 1e-3, 1e-2]
    tried, run_at = model(dict.fromkeys(spec.lrs, 0.0625))  # chance at every rate
    assert [r["lr"] for r in search(spec, run_at)] == list(spec.lrs)
