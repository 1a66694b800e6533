"""The training loop on a tiny model and corpus: exact resume, kills, divergence, schedule,
weight-decay groups, evaluation and the reversal check of the causal mask."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import training.evaluate
import training.train
from model.build import build_model
from model.checkpoint import load_checkpoint
from model.config import ModelConfig
from tests.variants import TINY, VARIANTS
from training.config import RunConfig, TrainConfig
from training.evaluate import evaluate, loss_by_position_over_offsets, window_offsets
from training.metrics import read_metrics
from training.optim import build_optimizer, lr_at
from training.references import far_reading
from training.train import train

REPO = Path(__file__).resolve().parents[1]
MODEL = ModelConfig(n_ctx=16, d_model=32, n_layers=2, n_heads=2, d_head=16, d_mlp=64)
# volatile fields of a metrics record: everything else must repeat exactly
TIMING = ("elapsed_s", "tokens_per_s")


def write_corpus(folder: Path) -> Path:
    """About 5 KB of text with some structure to learn."""
    path = folder / "corpus.txt"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{i} the {'cat dog fox'.split()[i % 3]} sat on mat {i * 7 % 13}.\n" for i in range(150)
        ]
        path.write_text("".join(lines))
    return path


def tiny_run(
    tmp_path: Path, out: str = "run", model: ModelConfig = MODEL, **train_fields
) -> RunConfig:
    fields = dict(
        corpus=str(write_corpus(tmp_path)),
        cache_dir=str(tmp_path / "cache"),
        out_dir=str(tmp_path / out),
        progress=False,
        device="cpu",
        batch_size=4,
        max_steps=12,
        warmup_steps=2,
        eval_interval=2,
        eval_batch_size=32,
        checkpoint_interval=6,
        threads=1,  # several threads on a shared 2-core machine run tiny models 3x slower
    )
    return RunConfig(model, TrainConfig(**(fields | train_fields)))


def without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


class Interrupted(Exception):
    pass


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """train() sets torch's global thread count; other tests keep theirs."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


# --- resuming ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", ["random", "sequential"])
def test_resume_gives_the_uninterrupted_result(sampling, tmp_path):
    # dropout makes the global torch RNG matter, not just the batch generator
    model = MODEL.replace(dropout=0.1)
    straight = train(tiny_run(tmp_path, "straight", model, sampling=sampling))

    def crash_at_step_10(step: int, _model) -> dict:
        if step == 10:  # after the checkpoint at 6 and the records for 8
            raise Interrupted
        return {}

    run = tiny_run(tmp_path, "resumed", model, sampling=sampling)
    with pytest.raises(Interrupted):
        train(run, on_eval=crash_at_step_10)
    assert load_checkpoint(tmp_path / "resumed/checkpoint").meta["step"] == 6
    assert [r["step"] for r in read_metrics(tmp_path / "resumed/metrics.jsonl")] == [2, 4, 6, 8]
    before = load_checkpoint(tmp_path / "resumed/checkpoint").meta["elapsed_s"]
    resumed = train(run, resume=True)

    assert (resumed.status, resumed.step) == ("completed", 12)
    # its time in all counts what was trained before the resume, exactly as the checkpoint
    # recorded it (wall times themselves vary with the machine's load, so they are not compared)
    assert before > 0 and resumed.seconds_before == before
    assert resumed.total_seconds == resumed.seconds_before + resumed.seconds
    saved = load_checkpoint(tmp_path / "resumed/checkpoint").meta["elapsed_s"]
    assert saved > before
    assert (resumed.train_loss, resumed.val_loss) == (straight.train_loss, straight.val_loss)
    a = load_checkpoint(tmp_path / "straight/checkpoint", extras=True)
    b = load_checkpoint(tmp_path / "resumed/checkpoint", extras=True)
    for key, tensor in a.model.state_dict().items():
        assert torch.equal(b.model.state_dict()[key], tensor), key
    for group in ("optimizer", "rng"):
        for key, tensor in a.extras[group].items():
            assert torch.equal(b.extras[group][key], tensor), (group, key)
    records = [read_metrics(tmp_path / out / "metrics.jsonl") for out in ("straight", "resumed")]
    assert [r["step"] for r in records[1]] == [2, 4, 6, 8, 10, 12]
    assert without_timing(records[1]) == without_timing(records[0])


def test_resume_without_a_checkpoint_starts_fresh(tmp_path):
    result = train(tiny_run(tmp_path, max_steps=2), resume=True)
    assert (result.status, result.step) == ("completed", 2)


def test_resume_refuses_another_model_config(tmp_path):
    train(tiny_run(tmp_path, max_steps=2))
    with pytest.raises(ValueError, match="different model config"):
        train(tiny_run(tmp_path, model=MODEL.replace(d_mlp=32), max_steps=4), resume=True)


@pytest.mark.slow
def test_sigkill_mid_run_leaves_a_checkpoint_to_resume_from(tmp_path):
    run = tiny_run(tmp_path, max_steps=60, checkpoint_interval=5, eval_interval=5)
    config = tmp_path / "run.json"
    config.write_text(json.dumps(run.to_dict()))
    command = [sys.executable, "-m", "training.train", "--config", str(config)]
    env = os.environ | {"PYTHONPATH": str(REPO)}
    weights = tmp_path / "run/checkpoint/model.safetensors"

    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not weights.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed: raise max_steps"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    killed_at = load_checkpoint(tmp_path / "run/checkpoint", extras=True).meta["step"]
    assert killed_at % 5 == 0 and 0 < killed_at < 60
    done = subprocess.run(
        [*command, "--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"resuming {tmp_path / 'run/checkpoint'} at step {killed_at}" in done.stderr
    assert "result: 60 steps" in done.stdout
    assert load_checkpoint(tmp_path / "run/checkpoint").meta["step"] == 60
    lines = (tmp_path / "run/metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]  # every line valid JSON
    assert steps == list(range(5, 61, 5))  # each evaluation once, none lost, none repeated


# --- divergence --------------------------------------------------------------------------------


def test_nan_loss_ends_the_run_as_diverged_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    calls = 0

    def cross_entropy(*args, **kwargs):
        nonlocal calls
        calls += 1
        loss = F.cross_entropy(*args, **kwargs)
        return loss * float("nan") if calls > 6 else loss  # steps 0..5 are fine

    monkeypatch.setattr(training.train, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    saved_at_4: dict[str, bytes] = {}

    def keep_snapshot(step: int, _model) -> dict:
        if step == 5:  # after the checkpoint at step 4
            saved_at_4.update(snapshot(tmp_path / "run/checkpoint"))
        return {}

    run = tiny_run(tmp_path, checkpoint_interval=4, eval_interval=5)
    result = train(run, on_eval=keep_snapshot)

    assert (result.status, result.step) == ("diverged", 6)
    assert "diverged at step 6: loss nan" in result.message
    assert f"last good checkpoint ({tmp_path / 'run/checkpoint'}, step 4) is kept" in result.message
    last = read_metrics(tmp_path / "run/metrics.jsonl")[-1]
    assert last["event"] == "diverged" and last["step"] == 6 and last["train_loss"] == "nan"
    assert snapshot(tmp_path / "run/checkpoint") == saved_at_4
    assert load_checkpoint(tmp_path / "run/checkpoint").meta["step"] == 4


def test_absurd_lr_diverges_before_any_checkpoint(tmp_path):
    result = train(
        tiny_run(
            tmp_path, lr=1e6, grad_clip=0.0, warmup_steps=0, eval_interval=1, checkpoint_interval=1
        )
    )
    assert result.status == "diverged"
    assert "No checkpoint was written" in result.message
    assert not (tmp_path / "run/checkpoint").exists()  # no checkpoint of NaN-producing weights
    assert read_metrics(tmp_path / "run/metrics.jsonl")[-1]["event"] == "diverged"


def test_cli_reports_divergence_and_exits_0(tmp_path, capsys):
    run = tiny_run(tmp_path, max_steps=4, checkpoint_interval=1, eval_interval=1)
    config = tmp_path / "run.json"
    config.write_text(json.dumps(run.to_dict()))
    assert training.train.main(["--config", str(config)]) == 0
    good = snapshot(tmp_path / "run/checkpoint")

    absurd = ["--max_steps", "12", "--lr", "1e6", "--grad_clip", "0", "--resume"]
    assert training.train.main(["--config", str(config), *absurd]) == 0
    out, err = capsys.readouterr()
    assert "result: diverged at step" in out
    assert "training diverged at step" in err and "step 4) is kept" in err
    assert read_metrics(tmp_path / "run/metrics.jsonl")[-1]["event"] == "diverged"
    assert snapshot(tmp_path / "run/checkpoint") == good
    assert load_checkpoint(tmp_path / "run/checkpoint").meta["step"] == 4


# --- schedule and optimizer --------------------------------------------------------------------


def test_lr_warms_up_linearly_then_follows_a_cosine_to_min_lr():
    cfg = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_steps=10, max_steps=110)
    for step in range(10):
        assert lr_at(step, cfg) == pytest.approx(1e-3 * (step + 1) / 10)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx((1e-3 + 1e-4) / 2)  # halfway down the cosine
    assert lr_at(35, cfg) == pytest.approx(1e-4 + 0.9e-3 * (1 + math.cos(math.pi / 4)) / 2)
    assert lr_at(110, cfg) == pytest.approx(1e-4) and lr_at(500, cfg) == pytest.approx(1e-4)
    decay = [lr_at(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))


def test_linear_decay_falls_in_equal_steps_to_min_lr():
    cfg = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_steps=10, max_steps=110, decay="linear")
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(35, cfg) == pytest.approx(1e-4 + 0.75 * 0.9e-3)
    assert lr_at(60, cfg) == pytest.approx((1e-3 + 1e-4) / 2)
    assert lr_at(109, cfg) == pytest.approx(1e-4 + 0.9e-3 / 100)
    assert lr_at(110, cfg) == pytest.approx(1e-4)
    to_zero = TrainConfig(lr=1e-3, min_lr=0.0, warmup_steps=10, max_steps=110, decay="linear")
    assert lr_at(60, to_zero) == pytest.approx(0.5e-3)
    with pytest.raises(ValueError, match="decay"):
        TrainConfig(decay="step")


@pytest.mark.parametrize("name", [*VARIANTS, "lstm"])
def test_weight_decay_reaches_matrices_only_and_each_parameter_once(name):
    cfg = TINY.replace(architecture="lstm") if name == "lstm" else VARIANTS[name]
    model = build_model(cfg)
    decay, no_decay = build_optimizer(model, TrainConfig(weight_decay=0.1)).param_groups
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.1, 0.0)
    names = {id(p): n for n, p in model.named_parameters()}  # shared tensors once
    decayed = [names[id(p)] for p in decay["params"]]
    kept = [names[id(p)] for p in no_decay["params"]]
    assert sorted(decayed + kept) == sorted(names.values())  # every parameter, exactly once
    for n in decayed:
        assert n.rsplit(".", 1)[-1].startswith(("W_", "weight_", "w_score")), n
    for n in kept:
        leaf = n.rsplit(".", 1)[-1]
        assert leaf in ("w", "b", "log_tau") or leaf.startswith(("b_", "bias")), n
    assert "embed.W_E" in decayed
    if cfg.bias and name != "lstm":  # per-head biases are 2-D: dimension alone does not tell
        mlp = {"blocks.0.mlp.b_in"} if cfg.mlp else set()  # attention-only: no MLP
        assert {"blocks.0.attn.b_Q"} | mlp <= set(kept)
    if cfg.norm != "none" and name != "lstm":
        assert "blocks.0.ln1.w" in kept
    if cfg.share_layers:
        assert not [n for n in decayed + kept if n.startswith("blocks.1.")]


# --- evaluation --------------------------------------------------------------------------------


def cross_entropy_by_hand(model, tokens: np.ndarray, starts: list[int], n_ctx: int):
    """Per-target losses {target index: loss} from windows at `starts`; a later window's loss
    for an already scored target is ignored (the first one counts)."""
    losses: dict[int, float] = {}
    ids = torch.from_numpy(tokens.astype(np.int64))
    for s in starts:
        with torch.no_grad():
            logp = model(ids[s : s + n_ctx][None]).log_softmax(-1)[0]
        for i in range(n_ctx):
            losses.setdefault(s + i + 1, -logp[i, ids[s + i + 1]].item())
    return losses


@pytest.mark.parametrize("n_targets", [48, 50])  # 3 full windows of 16; and 2 targets more
def test_evaluate_is_the_mean_cross_entropy_over_every_target(n_targets):
    torch.manual_seed(0)
    model = build_model(TINY)
    model.train()
    tokens = np.random.default_rng(0).integers(0, TINY.vocab_size, n_targets + 1).astype(np.uint16)
    starts = [0, 16, 32] + ([n_targets - 16] if n_targets % 16 else [])
    by_hand = cross_entropy_by_hand(model.eval(), tokens, starts, 16)
    model.train()
    assert sorted(by_hand) == list(range(1, n_targets + 1))

    result = evaluate(model, tokens, n_ctx=16, batch_size=2, detail=True)
    assert model.training  # mode restored
    assert result.n_tokens == n_targets
    assert result.loss == pytest.approx(sum(by_hand.values()) / n_targets, rel=1e-6)
    assert result.bits_per_char(100) == pytest.approx(result.loss * n_targets / 100 / math.log(2))

    assert len(result.per_position) == 16
    if n_targets == 48:  # every window full: position i averages the three windows' losses
        for i in range(16):
            expected = np.mean([by_hand[s + i + 1] for s in starts])
            assert result.per_position[i] == pytest.approx(expected, rel=1e-6)
    # each full window's own gain (a partial last window scores only its new targets: left out)
    gains = [
        by_hand[s + 3] - np.mean([by_hand[s + i + 1] for i in range(8, 16)]) for s in starts[:3]
    ]
    assert result.window_gains == pytest.approx(gains, rel=1e-6)
    assert result.context_gain_se() == pytest.approx(np.std(gains, ddof=1) / math.sqrt(3), rel=1e-6)
    per_token: dict[int, list[float]] = {}
    for index, loss in by_hand.items():
        per_token.setdefault(int(tokens[index]), []).append(loss)
    assert result.per_token.keys() == per_token.keys()
    for token, losses in per_token.items():
        assert result.per_token[token] == pytest.approx(np.mean(losses), rel=1e-6)
        assert result.per_token_count[token] == len(losses)

    capped = evaluate(model, tokens, n_ctx=16, max_tokens=32)
    assert capped.n_tokens == 32
    assert capped.loss == pytest.approx(np.mean([by_hand[i] for i in range(1, 33)]), rel=1e-6)
    # 32 of the split's n_targets targets are credited their share of its 100 characters
    share = round(100 * 32 / n_targets)
    expected_bpc = capped.loss * 32 / share / math.log(2)
    assert capped.bits_per_char_of_split(100, n_targets) == pytest.approx(expected_bpc)
    assert result.bits_per_char_of_split(100, n_targets) == result.bits_per_char(100)
    assert evaluate(model, tokens, n_ctx=16).per_position == []  # detail is opt-in


def test_a_window_too_short_for_a_gain_has_no_gain_or_error():
    torch.manual_seed(0)
    model = build_model(TINY)
    tokens = np.arange(8, dtype=np.uint16) % TINY.vocab_size  # 7 targets: one window, no gain
    result = evaluate(model, tokens, n_ctx=16, detail=True)
    assert result.window_gains == [] and result.context_gain_se() is None
    one = evaluate(model, np.arange(17, dtype=np.uint16) % TINY.vocab_size, n_ctx=16, detail=True)
    assert len(one.window_gains) == 1 and one.context_gain_se() is None  # one window: no spread


def test_the_last_record_and_the_evaluate_cli_report_loss_per_position_and_token(tmp_path, capsys):
    run = tiny_run(tmp_path, max_steps=6, eval_interval=3, checkpoint_interval=6)
    train(run)
    records = read_metrics(tmp_path / "run/metrics.jsonl")
    assert "val_loss_per_position" not in records[0]  # only the final, uncapped evaluation
    last = records[-1]
    assert len(last["val_loss_per_position"]) == MODEL.n_ctx
    assert all(math.isfinite(v) for v in last["val_loss_per_token"].values())

    report = tmp_path / "report.json"
    argv = ["--checkpoint", str(tmp_path / "run/checkpoint"), "--cache_dir", str(tmp_path / "c")]
    assert training.evaluate.main([*argv, "--top", "3", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    out = json.loads(report.read_text())
    assert out["loss"] == pytest.approx(last["val_loss"], rel=1e-6)  # the same split, same model
    assert out["bits_per_char"] == pytest.approx(last["val_bpc"], rel=1e-6)
    assert out["loss_per_position"] == pytest.approx(last["val_loss_per_position"], rel=1e-6)
    curve = out["loss_per_position"]
    half = curve[len(curve) // 2 :]
    assert out["context_gain"] == pytest.approx(curve[2] - sum(half) / len(half))
    assert f"context gain {out['context_gain']:.3f}" in printed
    rows = out["loss_per_token"].values()
    weighted = sum(r["loss"] * r["count"] for r in rows) / sum(r["count"] for r in rows)
    assert weighted == pytest.approx(out["loss"], rel=1e-6)  # the per-token means add back up
    hardest = [r["loss"] for r in out["hardest_tokens"]]
    assert len(hardest) == 3 and hardest == sorted(hardest, reverse=True)
    assert f"loss {out['loss']:.4f}" in printed and "hardest tokens" in printed
    assert training.evaluate.main(["--checkpoint", str(tmp_path / "missing")]) == 2


def test_loss_by_position_over_offsets_averages_windows_cut_at_each_phase():
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    tokens = np.random.default_rng(1).integers(0, TINY.vocab_size, 16 * 6 + 1).astype(np.uint16)
    assert window_offsets(16, 4) == [0, 4, 8, 12] and window_offsets(16, 1) == [0]
    assert window_offsets(128, 8) == list(range(0, 128, 16))
    for bad in (0, 3, 16):  # only divisors of a quarter of the window
        with pytest.raises(ValueError, match="offsets must divide a quarter of the context"):
            window_offsets(16, bad)
    reading = loss_by_position_over_offsets(model, tokens, 16, 4, batch_size=3)
    curve = reading.per_position
    # by hand: position i of phase o averages the windows cut at o, o + 16, ... over tokens[o:]
    # (a phase's partial last window scores only its new targets, as evaluate does)
    phases = []
    for o in (0, 4, 8, 12):
        t = tokens[o:]
        n = len(t) - 1
        starts = list(range(0, n - 15, 16)) + ([n - 16] if n % 16 else [])
        by_hand = cross_entropy_by_hand(model, t, starts, 16)
        per_pos: list[list[float]] = [[] for _ in range(16)]
        scored: set[int] = set()
        for start in starts:  # each target counts once, at the position of its first window
            for i in range(16):
                if start + i + 1 not in scored:
                    scored.add(start + i + 1)
                    per_pos[i].append(by_hand[start + i + 1])
        phases.append([float(np.mean(p)) for p in per_pos])
    assert curve == pytest.approx(np.mean(phases, axis=0).tolist(), rel=1e-5)
    plain = evaluate(model, tokens, 16, detail=True)
    reused = loss_by_position_over_offsets(model, tokens, 16, 4, phase_zero=plain)
    assert reused == reading  # the caller's own pass over the windows at 0 stands for phase 0
    one = loss_by_position_over_offsets(model, tokens, 16, 1)
    assert one.per_position == pytest.approx(plain.per_position)
    assert one.gain_se == pytest.approx(plain.context_gain_se())  # one phase: the plain error
    # four phases: the j-th full window of each phase forms one group of shared text
    phase_gains = [evaluate(model, tokens[o:], 16, detail=True).window_gains for o in (0, 4, 8, 12)]
    groups = [np.mean([g[j] for g in phase_gains if j < len(g)]) for j in range(6)]
    assert reading.n_groups == 6
    assert reading.gain_se == pytest.approx(np.std(groups, ddof=1) / math.sqrt(6))


def test_far_reading_separates_a_trend_from_the_text_at_each_position():
    assert far_reading([1.0] * 63) is None  # under 8 blocks of 8: no reading
    wiggle = [0.02 * (-1) ** (i // 8) for i in range(128)]
    flat = far_reading([1.5 + w for w in wiggle])
    assert flat is not None and (flat.quarter, flat.half) == (32, 64)
    assert flat.change == pytest.approx(0.0, abs=1e-12) and not flat.still_falls
    assert 0.02 < flat.wobble < 0.04  # steps of ±0.04 between neighbouring blocks
    falling = far_reading([2.0 - 0.004 * i + w for i, w in enumerate(wiggle)])
    assert falling is not None and falling.change == pytest.approx(
        -0.004 * 48
    )  # centres 47.5 and 95.5
    assert falling.still_falls
    # the same fall, drowned in wider ups and downs, is not called a fall
    noisy = far_reading([2.0 - 0.0005 * i + 5 * w for i, w in enumerate(wiggle)])
    assert noisy is not None and not noisy.still_falls
    # ...unless those ups and downs repeat every 16 positions (a curve over 8 offsets of a 128
    # window) and are read in blocks of 16: then they cancel in the blocks as in the comparison
    wide = far_reading([2.0 - 0.0005 * i + 5 * w for i, w in enumerate(wiggle)], block=16)
    assert wide is not None and wide.block == 16 and wide.still_falls
    assert wide.change == pytest.approx(noisy.change)
    assert far_reading([1.0] * 128, block=32) is None  # three blocks past the quarter: too few


def test_the_evaluate_cli_reads_the_curve_over_window_offsets(tmp_path, capsys):
    run = tiny_run(tmp_path, max_steps=2, eval_interval=2, checkpoint_interval=2)
    train(run)
    report = tmp_path / "report.json"
    argv = ["--checkpoint", str(tmp_path / "run/checkpoint"), "--cache_dir", str(tmp_path / "c")]
    assert (
        training.evaluate.main([*argv, "--top", "0", "--offsets", "4", "--json", str(report)]) == 0
    )
    out = json.loads(report.read_text())
    assert out["offsets"] == 4 and len(out["loss_per_position_over_offsets"]) == MODEL.n_ctx
    curve = out["loss_per_position_over_offsets"]
    half = curve[len(curve) // 2 :]
    assert out["context_gain_over_offsets"] == pytest.approx(curve[2] - sum(half) / len(half))
    assert "context gain over windows cut at 4 offsets" in capsys.readouterr().out
    assert training.evaluate.main([*argv, "--offsets", "3"]) == 2
    assert "--offsets must divide a quarter of the context" in capsys.readouterr().err


# --- the reversal task -------------------------------------------------------------------------


def test_reversal_shows_what_the_causal_mask_hides(tmp_path):
    """Masked: the random first half stays at chance (1/8), the mirrored second half is copied.
    Unmasked: each position sees the token it must predict, so the first half is solved too."""
    model = ModelConfig(
        n_ctx=8, d_model=64, n_layers=2, n_heads=2, d_head=32, d_mlp=256, pos_encoding="learned"
    )
    fields = dict(
        task="reversal",
        reversal_len=4,
        reversal_vocab=8,
        batch_size=64,
        max_steps=200,
        lr=1e-2,
        min_lr=1e-3,
        warmup_steps=20,
        eval_interval=200,
        checkpoint_interval=200,
    )
    accuracy = {}
    for causal in (True, False):
        run = tiny_run(tmp_path, f"causal_{causal}", model.replace(causal_mask=causal), **fields)
        assert train(run).status == "completed"
        accuracy[causal] = read_metrics(tmp_path / f"causal_{causal}/metrics.jsonl")[-1]
    masked, unmasked = accuracy[True], accuracy[False]
    assert masked["second_half_accuracy"] > 0.95
    assert masked["first_half_accuracy"] < 0.2  # chance is 0.125
    assert unmasked["first_half_accuracy"] > 0.9
    assert unmasked["second_half_accuracy"] > 0.9


def test_the_held_out_slice_comes_from_either_end_of_the_train_split(tmp_path: Path) -> None:
    from training.prepare import prepare_data

    full = prepare_data(tiny_run(tmp_path))
    end = prepare_data(tiny_run(tmp_path, holdout_tokens=100))
    start = prepare_data(tiny_run(tmp_path, holdout_tokens=100, holdout_at="start"))
    assert full.holdout is None and len(full.train) > 200
    np.testing.assert_array_equal(end.holdout, full.train[-100:])
    np.testing.assert_array_equal(end.train, full.train[:-100])
    np.testing.assert_array_equal(start.holdout, full.train[:100])
    np.testing.assert_array_equal(start.train, full.train[100:])
    np.testing.assert_array_equal(start.val, full.val)  # validation never moves
