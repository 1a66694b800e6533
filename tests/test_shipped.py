"""Every shipped checkpoint loads, matches its record, and reproduces its recorded loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_checkpoint
from model.config import ModelConfig
from training.probes import batch_loss

ROOT = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = sorted(p.parent for p in ROOT.glob("*/record.json"))


def test_the_suite_ships_its_variants() -> None:
    if not SHIPPED:
        pytest.skip("no shipped checkpoints in this checkout")
    names = {p.name for p in SHIPPED}
    assert {"baseline", "no_residual", "no_causal_mask"} <= names
    size = sum(f.stat().st_size for f in ROOT.rglob("*") if f.is_file())
    assert size < 50 * 2**20, f"shipped weights and records take {size / 2**20:.1f} MB"


def test_every_shipped_record_is_a_result_of_the_shipped_spec() -> None:
    """configs/suite.toml and checkpoints/ change together: a record of another budget or recipe
    would be compared with the others as if it were one of them."""
    from training.suite import read_suite
    from training.suite_record import VariantRecord, spec_changes

    if not SHIPPED:
        pytest.skip("no shipped checkpoints in this checkout")
    suite = read_suite(ROOT.parent / "configs" / "suite.toml")
    names = {v.name for v in suite.variants}
    for folder in SHIPPED:
        if folder.name in names:
            assert spec_changes(suite, VariantRecord.read(folder)) == [], folder.name


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_checkpoint_reproduces_its_record(folder: Path) -> None:
    record = json.loads((folder / "record.json").read_text())
    assert record["complete"]
    if not (folder / "model.safetensors").exists():
        # a record-only variant (the d_head sweep): its numbers, never a stale model beside them
        assert not record["fixed_batch"] and not (folder / "config.json").exists()
        return
    ckpt = load_checkpoint(folder)
    # a record written before a field existed reads as that field's default, as checkpoints do
    assert ckpt.config == ModelConfig.from_dict(record["model_config"])
    tokens = torch.tensor(record["fixed_batch"]["tokens"])
    assert abs(batch_loss(ckpt.model, tokens) - record["fixed_batch"]["loss"]) < 1e-4


def test_results_page_is_generated_from_the_shipped_records() -> None:
    """docs/results.md's tables are `python -m training.results_table`'s output, byte for byte."""
    from training import results_table

    page = (ROOT.parent / "docs" / "results.md").read_text()
    assert results_table.START in page and results_table.END in page
    body = results_table.render(ROOT, ROOT.parent / "configs" / "suite.toml")
    shown = page.split(results_table.START, 1)[1].split(results_table.END, 1)[0]
    assert shown == f"\n{body}\n"
