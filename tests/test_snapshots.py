"""Training snapshots: the writer's files, the reader (new format, the suite's, hostile input), the
capture a view draws from, which views can be drawn, and the phase-change reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.capture import capture
from analysis.dynamics import loss_curve, phase_reading
from analysis.snapshot_capture import NEEDS, capture_from, why_not
from fixtures.app_checkpoints import TEXT, TINY
from model.build import build_model
from model.config import ModelConfig
from model.switches import Switches
from model.tokenizers import CharTokenizer
from training.snapshot_format import (
    INDEX,
    SNAPSHOT_DIR,
    SnapshotError,
    nearest_at_or_before,
    read_series,
    step_file,
)
from training.snapshots import SnapshotWriter
from views.registry import VIEWS, ViewInput

REPO = Path(__file__).resolve().parents[1]
PROMPT = "the cat sat on the mat. the cat sat"


@pytest.fixture(scope="module")
def tok() -> CharTokenizer:
    return CharTokenizer.train(TEXT)


def tiny_model(tok: CharTokenizer, **changes) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(vocab_size=tok.n_vocab, **{**TINY, **changes}))


def write_series(folder: Path, tok: CharTokenizer, steps=(1, 3, 10), **changes) -> SnapshotWriter:
    model = tiny_model(tok, **changes)
    writer = SnapshotWriter(folder, tok, PROMPT, model.cfg.n_ctx)
    for step in steps:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1.5)  # a different model at every step
        writer(step, model)
    return writer


def test_writer_and_reader_round_trip(tmp_path, tok):
    write_series(tmp_path, tok)
    series = read_series(tmp_path)
    assert series is not None and series.steps == (1, 3, 10)
    assert series.index.tokens == tuple(tok.token_strings(tok.encode(PROMPT)))
    assert set(series.index.fields) >= {"patterns", "resid_norms", "losses", "detectors"}
    arrays = series.arrays(3)
    n = len(series.index.ids)
    assert arrays["patterns"].shape == (2, 2, n, n)
    assert arrays["detectors"].shape == (len(series.index.detectors), 2, 2)
    stored = (tmp_path / SNAPSHOT_DIR / step_file(3)).stat().st_size
    assert stored < 2 * 2 * n * n * 2 + 8 * 1024  # fp16 patterns, everything else small


def test_a_snapshot_is_what_the_app_captures_at_that_step(tmp_path, tok):
    """Drawn from a snapshot, a view shows what it would show of the weights (to fp16)."""
    model = tiny_model(tok)
    SnapshotWriter(tmp_path, tok, PROMPT, model.cfg.n_ctx)(5, model)
    series = read_series(tmp_path)
    snap = capture_from(series.arrays(5), series.index, tok)
    live = capture(model, tok, tuple(tok.encode(PROMPT)), Switches())
    np.testing.assert_allclose(snap.patterns, live.patterns, atol=2e-3)
    np.testing.assert_allclose(snap.resid_norms, live.resid_norms, rtol=2e-3)
    np.testing.assert_allclose(snap.losses[1:], live.losses[1:], rtol=2e-3)
    np.testing.assert_allclose(snap.entropy, live.entropy, atol=1e-2)
    assert snap.top_tokens == live.top_tokens


def test_resume_drops_the_steps_after_the_checkpoint(tmp_path, tok):
    write_series(tmp_path, tok)
    model = tiny_model(tok)
    writer = SnapshotWriter(tmp_path, tok, PROMPT, model.cfg.n_ctx)
    writer.resume_at(3)
    writer(7, model)
    assert read_series(tmp_path).steps == (1, 3, 7)


def test_every_view_is_either_drawn_from_a_snapshot_or_says_why(tmp_path, tok):
    assert {v.key for v in VIEWS} <= set(NEEDS), "a new view needs a decision in NEEDS"
    write_series(tmp_path, tok, steps=(2,))
    series = read_series(tmp_path)
    cap = capture_from(series.arrays(2), series.index, tok)
    for view in VIEWS:
        why = why_not(view.key, series.index.fields)
        if why is None:
            assert view.build(cap, ViewInput()), view.key
        else:
            assert len(why) > 20, view.key


def test_lstm_snapshots_keep_what_an_lstm_has(tmp_path, tok):
    write_series(tmp_path, tok, steps=(1,), architecture="lstm")
    series = read_series(tmp_path)
    assert "patterns" not in series.index.fields and "resid_norms" in series.index.fields
    assert why_not("grid", series.index.fields) is not None
    assert why_not("stream", series.index.fields) is None


@pytest.mark.parametrize(
    "index",
    [
        "not json",
        "[]",
        json.dumps({"schema_version": 99}),
        json.dumps({"schema_version": 1, "prompt": "a"}),
        json.dumps(
            {
                "schema_version": 1,
                "prompt": "a",
                "ids": [1, 2],
                "tokens": ["a"],
                "steps": [1],
                "fields": ["patterns"],
            }
        ),
        json.dumps(
            {
                "schema_version": 1,
                "prompt": "a",
                "ids": [1],
                "tokens": ["a"],
                "steps": [3, 1],
                "fields": ["patterns"],
            }
        ),
        json.dumps(
            {
                "schema_version": 1,
                "prompt": "a",
                "ids": [1],
                "tokens": ["a"],
                "steps": [1],
                "fields": ["../../etc"],
            }
        ),
    ],
)
def test_a_hostile_index_is_a_snapshot_error(tmp_path, index):
    (tmp_path / SNAPSHOT_DIR).mkdir()
    (tmp_path / SNAPSHOT_DIR / INDEX).write_text(index)
    with pytest.raises(SnapshotError):
        read_series(tmp_path)


def test_arrays_that_do_not_fit_the_index_are_refused(tmp_path, tok):
    write_series(tmp_path, tok, steps=(1,))
    index = json.loads((tmp_path / SNAPSHOT_DIR / INDEX).read_text())
    index["ids"], index["tokens"] = index["ids"][:3], index["tokens"][:3]
    (tmp_path / SNAPSHOT_DIR / INDEX).write_text(json.dumps(index))
    with pytest.raises(SnapshotError, match="do not fit"):
        read_series(tmp_path).arrays(1)


def test_the_suites_snapshots_are_read_as_patterns():
    folder = REPO / "checkpoints" / "baseline"
    if not (folder / "attention_snapshots.safetensors").is_file():
        pytest.skip("the shipped baseline has no suite snapshots in this checkout")
    series = read_series(folder)
    assert series.steps == (250, 1250, 2250, 3000, 4000)
    assert series.index.fields == ("patterns",)
    cap = capture_from(series.arrays(1250), series.index)
    assert cap.patterns.shape[-1] == len(cap.tokens) == 96
    assert why_not("grid", series.index.fields) is None
    assert "only patterns" in why_not("loss", series.index.fields)
    assert loss_curve(folder), "the record's curve"


def test_nearest_step_for_the_shared_axis():
    assert nearest_at_or_before((10, 100, 1000), 500) == 100
    assert nearest_at_or_before((10, 100), 5) is None
    assert nearest_at_or_before((10, 100), 100) == 100


def rows(gaps: list[float], scores: list[float]) -> str:
    out = []
    for i, (gap, score) in enumerate(zip(gaps, scores, strict=True)):
        step = 2**i
        out.append(
            {
                "step": step,
                "first_copy_loss": 3.0,
                "second_copy_loss": 3.0 + gap,
                "best_induction": score,
            }
        )
    return "\n".join(json.dumps(r) for r in out) + "\n"


def test_phase_reading_marks_the_rules_step_range(tmp_path):
    pytest.importorskip("interp.phase")
    (tmp_path / "measurements.jsonl").write_text(
        rows([0.0, 0.0, -0.05, -2.0, -2.1], [0.0, 0.01, 0.02, 0.6, 0.7])
    )
    reading = phase_reading(tmp_path)
    assert (reading.start, reading.end) == (4, 8)


def test_phase_reading_says_why_there_is_none(tmp_path):
    pytest.importorskip("interp.phase")
    assert phase_reading(tmp_path).start is None
    (tmp_path / "measurements.jsonl").write_text(rows([0.0, -0.01, -0.02], [0.0, 0.0, 0.0]))
    reading = phase_reading(tmp_path)
    assert reading.start is None and "fall" in reading.reason


@pytest.mark.slow
def test_a_cli_run_with_measurement_steps_keeps_snapshots(tmp_path):
    from tests.test_training import MODEL, tiny_run
    from training.measurements import log_spaced_steps
    from training.snapshots import run_snapshots
    from training.train import train

    run = tiny_run(tmp_path, "cli", MODEL.replace(n_ctx=40), measure_steps=3)  # copies need 32
    train(run, on_measure=run_snapshots(run, PROMPT))
    series = read_series(tmp_path / "cli")
    assert list(series.steps) == log_spaced_steps(12, 3)
    assert series.index.prompt == PROMPT
    assert loss_curve(tmp_path / "cli"), "metrics.jsonl beside it"


def test_a_shipped_measurement_record_is_scrubbed_with_its_lines_and_phase(tmp_path, tok):
    """The mechanisms experiment ships measurements.safetensors and its rows in record.json."""
    from safetensors.torch import save_file

    from analysis.dynamics import measured_detector_lines

    pytest.importorskip("interp.phase")
    ids = tok.encode(PROMPT)
    n, steps = len(ids), [1, 4, 16, 64]
    patterns = torch.softmax(torch.randn(len(steps), 2, 2, n, n), -1).tril().half()
    save_file(
        {"steps": torch.tensor(steps), "patterns": patterns, "tokens": torch.tensor(ids)},
        tmp_path / "measurements.safetensors",
    )
    gaps, best = [0.0, -0.05, -2.0, -2.1], [0.0, 0.02, 0.6, 0.7]
    rows = [
        {
            "step": s,
            "first_copy_loss": 3.0,
            "second_copy_loss": 3.0 + g,
            "best_induction": b,
            "induction": [[0.0, b], [0.01, 0.0]],
            "previous_token": [[0.5, 0.1], [0.2, 0.3]],
        }
        for s, g, b in zip(steps, gaps, best, strict=True)
    ]
    record = {
        "shipped_seed": 0,
        "measurements": {
            "rows": {"0": rows, "1": []},
            "snapshots": {
                "file": "measurements.safetensors",
                "prompt": PROMPT,
                "tokens": tok.token_strings(ids),
            },
        },
    }
    (tmp_path / "record.json").write_text(json.dumps(record))
    series = read_series(tmp_path)
    assert series.steps == tuple(steps) and series.index.ids == tuple(ids)
    cap = capture_from(series.arrays(16), series.index, tok)
    np.testing.assert_allclose(cap.patterns, patterns[2].float().numpy())
    at, lines = measured_detector_lines(tmp_path)
    assert at == steps and lines["induction"].shape == (4, 2, 2)
    assert (phase_reading(tmp_path).start, phase_reading(tmp_path).end) == (4, 16)
