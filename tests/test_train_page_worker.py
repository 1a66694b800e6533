"""The Train page's worker: the training loop's stop check, the stopped checkpoint, exact resume,
and the worker process's ways to stop (the Stop file, a stale heartbeat, a dead parent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_checkpoint
from model.config import ModelConfig
from tests.test_training import tiny_run, write_corpus
from training.config import RunConfig, TrainConfig
from training.evaluate import evaluate
from training.live_worker import HEARTBEAT, STATE, STOP, LiveSpec
from training.metrics import read_metrics
from training.prepare import prepare_data
from training.train import train

REPO = Path(__file__).resolve().parents[1]
MODEL = ModelConfig(n_ctx=16, d_model=32, n_layers=2, n_heads=2, d_head=16, d_mlp=64)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def stop_after(n_calls: int):
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > n_calls

    return should_stop


@pytest.mark.slow
def test_stop_keeps_a_checkpoint_that_reproduces_its_recorded_loss(tmp_path):
    run = tiny_run(tmp_path, "stopped", MODEL, checkpoint_interval=100, eval_max_tokens=256)
    result = train(run, should_stop=stop_after(7))
    assert (result.status, result.step) == ("stopped", 7)
    ckpt = load_checkpoint(tmp_path / "stopped/checkpoint")
    assert ckpt.meta["step"] == 7 and ckpt.meta["stopped"] is True
    record = read_metrics(tmp_path / "stopped/metrics.jsonl")[-1]
    assert record["event"] == "stopped" and record["step"] == 7
    assert ckpt.meta["val_loss"] == record["val_loss"]
    # the loaded weights give the recorded loss on the same capped validation slice
    data = prepare_data(run)
    again = evaluate(ckpt.model, data.val, MODEL.n_ctx, 32, 256, torch.device("cpu"))
    assert again.loss == pytest.approx(record["val_loss"], abs=1e-6)


def test_stop_then_resume_is_bit_exact(tmp_path):
    model = MODEL.replace(dropout=0.1)  # the global torch RNG matters too
    straight = train(tiny_run(tmp_path, "straight", model))
    stopped = tiny_run(tmp_path, "stopped", model, checkpoint_interval=100)
    assert train(stopped, should_stop=stop_after(5)).step == 5
    resumed = train(stopped, resume=True)
    assert (resumed.status, resumed.step) == ("completed", 12)
    a = load_checkpoint(tmp_path / "straight/checkpoint").model.state_dict()
    b = load_checkpoint(tmp_path / "stopped/checkpoint").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.train_loss == straight.train_loss and resumed.val_loss == straight.val_loss


def test_a_stop_at_a_checkpoint_step_writes_nothing_more(tmp_path):
    run = tiny_run(tmp_path, "r", MODEL, checkpoint_interval=4)
    assert train(run, should_stop=stop_after(4)).step == 4
    assert all(r.get("event") != "stopped" for r in read_metrics(tmp_path / "r/metrics.jsonl"))


# --- the worker process ---------------------------------------------------------------------------


def write_spec(tmp_path: Path, max_steps: int, timeout_s: float = 60.0) -> Path:
    run_dir = tmp_path / "live"
    run_dir.mkdir()
    run = RunConfig(
        MODEL,
        TrainConfig(
            corpus=str(write_corpus(tmp_path)),
            cache_dir=str(tmp_path / "cache"),
            out_dir=str(run_dir),
            progress=False,
            device="cpu",
            batch_size=4,
            max_steps=max_steps,
            eval_interval=5,
            eval_max_tokens=256,
            checkpoint_interval=10_000,
            threads=1,
        ),
    )
    spec = LiveSpec(run, "the cat sat on the mat", heartbeat_timeout_s=timeout_s)
    (run_dir / "live.json").write_text(json.dumps(spec.to_json()))
    (run_dir / HEARTBEAT).touch()
    return run_dir


def start_worker(run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "training.live_worker", str(run_dir)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_step(run_dir: Path, step: int, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = json.loads((run_dir / STATE).read_text()) if (run_dir / STATE).exists() else {}
        if state.get("step", 0) >= step:
            return
        (run_dir / HEARTBEAT).touch()  # a page is looking, until the test says otherwise
        time.sleep(0.1)
    raise AssertionError(f"the worker never reached step {step}")


def finished_state(proc: subprocess.Popen, run_dir: Path) -> dict:
    proc.wait(timeout=120)
    return json.loads((run_dir / STATE).read_text())


@pytest.mark.slow
def test_worker_stops_on_the_stop_file_with_a_loadable_checkpoint(tmp_path):
    run_dir = write_spec(tmp_path, max_steps=100_000)
    proc = start_worker(run_dir)
    wait_for_step(run_dir, 5)
    (run_dir / STOP).touch()
    state = finished_state(proc, run_dir)
    assert state["state"] == "stopped" and state["why_stopped"] == "stop button"
    assert load_checkpoint(run_dir / "checkpoint").meta["step"] == state["step"] >= 5
    assert (run_dir / "live.safetensors").is_file()


@pytest.mark.slow
def test_worker_stops_when_no_page_renews_the_heartbeat(tmp_path):
    run_dir = write_spec(tmp_path, max_steps=100_000, timeout_s=2.0)
    proc = start_worker(run_dir)
    wait_for_step(run_dir, 5)
    os.utime(run_dir / HEARTBEAT, (time.time() - 10, time.time() - 10))
    state = finished_state(proc, run_dir)
    assert state["state"] == "stopped" and "no page has looked" in state["why_stopped"]
    load_checkpoint(run_dir / "checkpoint")


@pytest.mark.slow
def test_worker_stops_on_sigterm(tmp_path):
    run_dir = write_spec(tmp_path, max_steps=100_000)
    proc = start_worker(run_dir)
    wait_for_step(run_dir, 5)
    proc.send_signal(signal.SIGTERM)
    state = finished_state(proc, run_dir)
    assert state["state"] == "stopped" and state["why_stopped"] == f"signal {signal.SIGTERM}"
    load_checkpoint(run_dir / "checkpoint")
