"""Repeat windows, log-spaced measurement steps, measurement rows across a resume, the phase rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from interp.phase import MIN_FALL, phase_change
from training.config import TrainConfig
from training.measurements import copy_probe, distance_bins, log_spaced_steps
from training.repeats import draw_repeat, plant_repeats, repeated_windows

# --- repeat windows -----------------------------------------------------------------------------


def test_planted_copy_recurs_and_y_stays_shifted() -> None:
    gen = torch.Generator().manual_seed(0)
    full = torch.arange(1000, 1000 + 4 * 65).reshape(4, 65)
    x, y = plant_repeats(full[:, :-1], full[:, 1:], 1.0, 4, 20, gen)
    joined = torch.cat([x, y[:, -1:]], dim=1)
    assert torch.equal(joined[:, 1:], y) and torch.equal(x[:, 1:], y[:, :-1])
    for row in joined:
        # tokens were distinct; after planting, a stretch of at least 4 appears twice
        values, counts = row.unique(return_counts=True)
        assert (counts == 2).sum() >= 4 and counts.max() == 2


def test_share_zero_leaves_batch_untouched_and_draws_nothing() -> None:
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    x, y = torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long)
    assert plant_repeats(x, y, 0.0, 2, 4, gen) == (x, y)
    assert torch.equal(gen.get_state(), state)


def test_share_is_respected_on_average() -> None:
    gen = torch.Generator().manual_seed(1)
    full = torch.arange(400 * 129).reshape(400, 129)
    x, _ = plant_repeats(full[:, :-1], full[:, 1:], 0.5, 8, 64, gen)
    changed = (x != full[:, :-1]).any(1).float().mean().item()
    assert 0.4 < changed < 0.6


def test_draws_are_deterministic_from_the_generator_and_spread() -> None:
    draws = [draw_repeat(257, 8, 128, torch.Generator().manual_seed(s)) for s in range(300)]
    again = [draw_repeat(257, 8, 128, torch.Generator().manual_seed(s)) for s in range(300)]
    assert draws == again
    assert all(r.second >= r.first + r.length and r.second + r.length <= 257 for r in draws)
    assert min(r.length for r in draws) < 20 and max(r.length for r in draws) > 110
    assert min(r.distance for r in draws) < 30 and max(r.distance for r in draws) > 200


def test_copy_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="fits twice"):
        draw_repeat(10, 6, 8, torch.Generator())


def test_config_bounds_and_order() -> None:
    with pytest.raises(ValueError):
        TrainConfig(repeat_share=1.5)
    with pytest.raises(ValueError, match="exceeds"):
        TrainConfig(repeat_min_len=50, repeat_max_len=10)
    with pytest.raises(ValueError):
        TrainConfig(measure_steps=-1)


def test_repeated_windows_are_fixed() -> None:
    tokens = np.arange(5000)
    a = repeated_windows(tokens, 64, 0.5, 4, 32)
    b = repeated_windows(tokens, 64, 0.5, 4, 32)
    assert torch.equal(a[0], b[0]) and a[0].shape == (78, 64)


# --- log-spaced steps ----------------------------------------------------------------------------


@pytest.mark.parametrize("max_steps,count", [(1000, 30), (2000, 40), (50, 30), (31, 30), (10, 30)])
def test_log_spaced_steps(max_steps: int, count: int) -> None:
    steps = log_spaced_steps(max_steps, count)
    assert len(steps) == min(count, max_steps)
    assert steps == sorted(set(steps)) and steps[0] == 1 and steps[-1] == max_steps
    if count < max_steps // 4:
        ratios = np.diff(np.log(steps))[len(steps) // 2 :]
        assert ratios.max() < 3 * ratios.min()  # even in log(step) where no rounding intrudes


def test_log_spaced_steps_edges() -> None:
    assert log_spaced_steps(100, 0) == []
    assert log_spaced_steps(100, 1) == [100]
    with pytest.raises(ValueError):
        log_spaced_steps(0, 3)


# --- the copy probe ------------------------------------------------------------------------------


def test_distance_bins_cover_every_distance_that_fits() -> None:
    bins = distance_bins(256, 16)
    assert bins[0][0] == 16 and bins[-1][1] == 256 + 1 - 16 + 1
    assert all(a[1] == b[0] for a, b in zip(bins, bins[1:], strict=False))


def test_copy_probe_plants_one_copy_per_window_in_its_bin() -> None:
    val = np.random.default_rng(0).integers(0, 50_000, 20_000)
    seqs, repeats, bins = copy_probe(val, 128, copy_len=8, per_bin=5)
    assert seqs.shape == (5 * len(bins), 129)
    for i, (seq, r) in enumerate(zip(seqs, repeats, strict=True)):
        low, high = bins[i // 5]
        assert low <= r.distance < high
        assert torch.equal(seq[r.first : r.first + 8], seq[r.second : r.second + 8])


# --- the phase rule ------------------------------------------------------------------------------

STEPS = log_spaced_steps(2000, 30)


def test_phase_rule_finds_a_step() -> None:
    curve = [0.0 if s < 600 else -3.0 for s in STEPS]
    score = [0.02 if s < 600 else 0.8 for s in STEPS]
    p = phase_change(STEPS, curve, score)
    assert p.found and p.start < 600 <= p.end
    assert p.fall == pytest.approx(3.0) and p.score_rises


def test_phase_rule_calls_a_linear_ramp_gradual() -> None:
    curve = [-3.0 * s / 2000 for s in STEPS]
    p = phase_change(STEPS, curve)
    assert not p.found and "ramp" in p.reason


def test_phase_rule_finds_nothing_on_a_flat_line() -> None:
    p = phase_change(STEPS, [0.01] * len(STEPS), [0.0] * len(STEPS))
    assert not p.found and p.start is None and p.fall < MIN_FALL


def test_phase_rule_reports_a_fall_without_a_head() -> None:
    curve = [0.0 if s < 300 else -1.0 for s in STEPS]
    p = phase_change(STEPS, curve, [0.01] * len(STEPS))
    assert p.found and p.score_rises is False
    json.dumps(p.to_json())


def test_phase_rule_rejects_mismatched_input() -> None:
    with pytest.raises(ValueError):
        phase_change([1, 2], [0.0])
    with pytest.raises(ValueError):
        phase_change([2, 1], [0.0, 1.0])


# --- measurement rows across an interrupted run ---------------------------------------------------


class _Interrupt(Exception):
    pass


@pytest.mark.slow
def test_resumed_run_neither_duplicates_nor_loses_rows(tmp_path) -> None:
    from safetensors.torch import load_file

    from model.config import ModelConfig
    from training.config import RunConfig
    from training.measurements import ROWS, SNAPSHOTS
    from training.metrics import read_metrics
    from training.train import train

    corpus = tmp_path / "text.txt"
    corpus.write_text(
        "".join(f"line {i % 97} of the little corpus, said twice.\n" for i in range(600))
    )
    model = ModelConfig(
        n_ctx=32, d_model=16, n_layers=2, n_heads=2, d_head=8, mlp=False, pos_encoding="learned"
    )

    def run(out: str) -> RunConfig:
        t = TrainConfig(
            corpus=str(corpus),
            cache_dir=str(tmp_path / "cache"),
            batch_size=4,
            max_steps=40,
            warmup_steps=2,
            eval_interval=10,
            eval_max_tokens=256,
            checkpoint_interval=20,
            measure_steps=12,
            repeat_share=0.5,
            repeat_min_len=4,
            repeat_max_len=16,
            progress=False,
            out_dir=out,
        )
        return RunConfig(model, t)

    whole = tmp_path / "whole"
    train(run(str(whole)))

    def stop_at_30(step: int, _model) -> dict:
        if step == 30:
            raise _Interrupt
        return {}

    cut = tmp_path / "cut"
    with pytest.raises(_Interrupt):
        train(run(str(cut)), on_eval=stop_at_30)
    assert max(r["step"] for r in read_metrics(cut / ROWS)) > 20  # rows past the checkpoint
    train(run(str(cut)), resume=True)

    a, b = read_metrics(whole / ROWS), read_metrics(cut / ROWS)
    assert [r["step"] for r in a] == [r["step"] for r in b] == log_spaced_steps(40, 12)
    for x, y in zip(a, b, strict=True):
        assert x["second_copy_loss"] == pytest.approx(y["second_copy_loss"], abs=1e-4)
        flat = [v for row in x["induction"] for v in row]
        assert flat == pytest.approx([v for row in y["induction"] for v in row], abs=1e-3)
    snaps = load_file(cut / SNAPSHOTS)
    assert snaps["steps"].tolist() == log_spaced_steps(40, 12)
    assert snaps["patterns"].dtype == torch.float16 and snaps["patterns"].shape[:3] == (12, 2, 2)
