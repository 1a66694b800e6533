"""DDP on CPU: `torchrun --nproc_per_node 2 -m training.train` over gloo on loopback.

One DDP step must equal a single-process step on the union of both ranks' batches; only rank 0
writes; and a resumed DDP run must continue each rank's own batch stream.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from model.build import build_model
from model.checkpoint import load_checkpoint
from tests.test_training import tiny_run
from training.batches import random_windows, rank_generator
from training.config import RunConfig
from training.distributed import torchrun_command
from training.metrics import read_metrics
from training.optim import build_optimizer, lr_at
from training.prepare import model_config_for, prepare_data

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def torchrun(run: RunConfig, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    config = tmp_path / "run.json"
    config.write_text(json.dumps(run.to_dict()))
    command = torchrun_command(config, *flags)
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_one_ddp_step_is_the_single_process_step_on_both_ranks_batches(tmp_path):
    run = tiny_run(
        tmp_path, max_steps=1, checkpoint_interval=1, eval_interval=1, warmup_steps=1, grad_clip=0.5
    )
    done = torchrun(run, tmp_path)
    assert done.stdout.count("result:") == 1  # rank 1 prints nothing

    # the reference, in train()'s order: data, seed, model, optimizer, per-rank generators
    t = run.train
    data = prepare_data(run)
    cfg = model_config_for(run, data).model
    torch.manual_seed(t.seed)
    model = build_model(cfg)
    optimizer = build_optimizer(model, t)
    for group in optimizer.param_groups:
        group["lr"] = lr_at(0, t)
    batches = [
        random_windows(data.train, t.batch_size, cfg.n_ctx, rank_generator(t.seed, r))
        for r in (0, 1)
    ]
    assert not torch.equal(batches[0][0], batches[1][0])  # each rank draws its own
    losses = [
        F.cross_entropy(model(x).reshape(-1, cfg.vocab_size), y.reshape(-1)) for x, y in batches
    ]
    loss = (losses[0] + losses[1]) / 2  # DDP averages the ranks' gradients
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
    assert grad_norm > t.grad_clip  # so the clip is part of what is compared
    optimizer.step()

    ckpt = load_checkpoint(tmp_path / "run/checkpoint", extras=True)
    assert ckpt.meta["step"] == 1
    trained = ckpt.model.state_dict()
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(trained[key], tensor, atol=1e-6, rtol=0, msg=key)
    # Adam's first step is nearly lr * sign(gradient); its moments hold the gradient itself
    state = optimizer.state_dict()["state"]
    for index, moments in state.items():
        for name in ("exp_avg", "exp_avg_sq"):
            saved = ckpt.extras["optimizer"][f"{index}.{name}"]
            torch.testing.assert_close(saved, moments[name], atol=1e-7, rtol=1e-4)

    records = read_metrics(tmp_path / "run/metrics.jsonl")
    assert [r["step"] for r in records] == [1]  # one record: rank 1 wrote none
    assert records[0]["train_loss"] == pytest.approx(loss.item(), rel=1e-6)
    assert records[0]["grad_norm"] == pytest.approx(grad_norm.item(), rel=1e-5)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint", "metrics.jsonl"]


def test_resumed_ddp_run_continues_each_ranks_batches(tmp_path):
    # warmup beyond max_steps keeps the lr independent of max_steps, so a 1-step run resumed
    # to 2 steps must reproduce a 2-step run exactly
    common = dict(checkpoint_interval=1, eval_interval=1, warmup_steps=10)
    straight = tiny_run(tmp_path / "a", max_steps=2, **common)
    torchrun(straight, tmp_path / "a")
    first = tiny_run(tmp_path / "b", max_steps=1, **common)
    torchrun(first, tmp_path / "b")
    ckpt = load_checkpoint(tmp_path / "b/run/checkpoint", extras=True)
    assert not torch.equal(ckpt.extras["rng_rank0"]["batches"], ckpt.extras["rng_rank1"]["batches"])
    done = torchrun(first, tmp_path / "b", "--max_steps", "2", "--resume")
    assert done.stderr.count("resuming") == 1

    a = load_checkpoint(tmp_path / "a/run/checkpoint").model.state_dict()
    b = load_checkpoint(tmp_path / "b/run/checkpoint").model.state_dict()
    for key, tensor in a.items():
        assert torch.equal(b[key], tensor), key
    records = [read_metrics(tmp_path / x / "run/metrics.jsonl") for x in "ab"]
    assert [r["step"] for r in records[1]] == [1, 2]
    assert [r["train_loss"] for r in records[1]] == [r["train_loss"] for r in records[0]]
