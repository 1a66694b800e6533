"""The induction records: the measurements table a record carries, its round trip through
VariantRecord, the findings read from it, the generated table and the figure."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from analysis.induction import figure_inputs, findings
from model.tokenizers import CharTokenizer
from tests.test_evidence import record
from training.induction_record import measurement_record
from training.induction_table import render
from training.measurements import ROWS, SNAPSHOTS, log_spaced_steps
from training.suite import RunKey, read_suite
from training.suite_record import GridRun, VariantRecord

SPEC = Path("configs/induction.toml")
STEPS = log_spaced_steps(1000, 30)


def rows(head_at: int | None, seed: int) -> list[dict]:
    """Synthetic measurement rows: a copy gain and head that switch on at `head_at`."""
    out = []
    for s in STEPS:
        on = head_at is not None and s >= head_at
        first = 5.0 - s / 1000
        out.append(
            {
                "step": s,
                "val_loss": first,
                "first_copy_loss": first,
                "second_copy_loss": first - (2.0 + 0.1 * seed if on else 0.01),
                "copy_gain": 2.0 + 0.1 * seed if on else 0.01,
                "second_copy_loss_by_distance": {"16-31": 1.0, "32-63": 1.5 + seed},
                "best_induction": 0.8 if on else 0.01,
            }
        )
    return out


def make_root(tmp_path: Path, head_at: dict[str, int | None]) -> Path:
    suite = dataclasses.replace(read_suite(SPEC), work_dir=tmp_path / "work")
    root = tmp_path / "checkpoints"
    for name, at in head_at.items():
        keys = [RunKey(name, "lr=0.001", s) for s in suite.seeds]
        for k in keys:
            folder = suite.run_dir(k)
            folder.mkdir(parents=True)
            (folder / ROWS).write_text("".join(json.dumps(r) + "\n" for r in rows(at, k.seed)))
        shipped = suite.run_dir(keys[1])
        save_file(
            {
                "steps": torch.tensor(STEPS),
                "patterns": torch.rand(len(STEPS), 2, 1, 2, 2).half(),
                "tokens": torch.tensor([0, 1]),
            },
            shipped / SNAPSHOTS,
        )
        dest = root / name
        dest.mkdir(parents=True)
        m = measurement_record(suite, keys, keys[1], dest, CharTokenizer.train("ab"))
        r = record(name, [4.0, 4.1, 4.2], measurements=m)
        layers = 1 if name.endswith("1") else 2
        r.model_config.update(n_layers=layers, architecture="transformer", mlp=False)
        r.n_params = 295_000
        r.recipe["chosen"] = "lr=0.001"
        r.recipe["grid"] = [GridRun("lr=0.001", 0, "completed", 4.0, 4.1, 60.0)]
        (dest / "record.json").write_text(json.dumps(r.to_json()))
    return root


def test_record_carries_rows_phase_and_spread_for_every_seed(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"induction_attn2": 300})
    r = VariantRecord.read(root / "induction_attn2")
    m = r.measurements
    assert m is not None and sorted(m["rows"]) == ["0", "1", "2"]
    for seed in "012":
        p = m["phase"][seed]
        assert p["found"] and p["start"] < 300 <= p["end"] and p["score_rises"]
    assert m["spread"]["copy_gain"]["mean"] == pytest.approx(2.1)
    assert m["spread"]["copy_gain"]["n"] == 3
    # the shipped seed's snapshots sit beside the weights, their probe spelled out
    assert m["snapshots"] == {"file": SNAPSHOTS, "prompt": "ab", "tokens": ["a", "b"]}
    assert load_file(root / "induction_attn2" / SNAPSHOTS)["steps"].tolist() == STEPS


def test_findings_and_figure_inputs(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"induction_attn2": 300, "induction_attn1": None})
    found = {f.name: f for f in findings(root)}
    two, one = found["induction_attn2"], found["induction_attn1"]
    assert two.phase_found_in == 3 and one.phase_found_in == 0
    assert two.best_induction.mean == pytest.approx(0.8)
    assert one.copy_gain.mean == pytest.approx(0.01)
    assert two.second_copy_by_distance["32-63"].mean == pytest.approx(2.5)
    runs, phases = figure_inputs([two, one])
    assert len(runs["induction_attn2"]) == len(STEPS) and phases["induction_attn2"]["found"]

    from viz.induction import induction_over_training

    fig = induction_over_training(runs, phases)
    assert len(fig.layout.shapes) == 2  # the phase band on both panels, none for the 1-layer model


def test_table_is_generated_from_records_and_regenerable(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"induction_attn2": 300, "induction_attn1": None})
    text = render(root, SPEC)
    assert text == render(root, SPEC)
    assert "| induction_attn2 | 295,000 | lr=0.001 | 0.800 ± 0.000 | 2.100 ± 0.100 |" in text
    assert "- met: induction_attn2: best head 0.800" in text
    assert "phase change found in 3 of 3 seeds" in text
    assert "beside it, induction_attn1: best head 0.010" in text
    assert "Not trained yet: induction_mlp2, induction_lstm2." in text


def test_table_says_when_a_bar_is_not_met(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"induction_attn2": None})
    text = render(root, SPEC)
    assert "- NOT met: induction_attn2: best head 0.010" in text
    assert "phase change found in 0 of 3 seeds" in text


def test_induction_page_block_is_the_generated_table() -> None:
    """docs/induction.md's INDUCTION block is `python -m training.induction_table`'s output, byte
    for byte."""
    from training.induction_table import END, START

    readme = (Path(__file__).resolve().parents[1] / "docs" / "induction.md").read_text()
    block = readme.split(START, 1)[1].split(END, 1)[0]
    root = Path(__file__).resolve().parents[1] / "checkpoints"
    assert block == "\n" + render(root, SPEC)
