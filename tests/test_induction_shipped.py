"""The shipped induction models: their weights reproduce the recorded head scores and copy gain,
and the Head types view finds the induction head the record claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_checkpoint
from training.induction_table import COPY_GAIN_BAR, INDUCTION_BAR

ROOT = Path(__file__).resolve().parents[1] / "checkpoints"
TWO_LAYER = ROOT / "induction_attn2"


def shipped(folder: Path) -> dict:
    if not (folder / "record.json").exists() or not (folder / "model.safetensors").exists():
        pytest.skip(
            f"{folder.name} is not shipped in this checkout (configs/induction.toml makes it)"
        )
    return json.loads((folder / "record.json").read_text())


def final_row(record: dict) -> dict:
    return record["measurements"]["final"][str(record["shipped_seed"])]


@pytest.mark.parametrize("name", ["induction_attn2", "induction_attn1", "induction_mlp2"])
def test_shipped_weights_reproduce_the_recorded_head_scores(name: str) -> None:
    from training.measurements import head_scores

    record = shipped(ROOT / name)
    model = load_checkpoint(ROOT / name).model.eval()
    with torch.no_grad():
        scores = head_scores(model)
    # the record measured fp32 weights while training; these are the shipped fp16 copy
    assert scores["best_induction"] == pytest.approx(final_row(record)["best_induction"], abs=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["induction_attn2", "induction_attn1"])
def test_shipped_weights_reproduce_the_recorded_copy_gain(name: str) -> None:
    from training.corpora import CorpusNotFoundError, load_corpus
    from training.measurements import copy_losses, copy_probe

    record = shipped(ROOT / name)
    ckpt = load_checkpoint(ROOT / name)
    try:
        corpus = load_corpus("shakespeare", None)
    except CorpusNotFoundError as e:
        pytest.skip(f"no Shakespeare corpus here ({e})")
    val = torch.tensor(ckpt.tokenizer.encode(corpus.val)).numpy()
    seqs, repeats, bins = copy_probe(val, ckpt.config.n_ctx)
    with torch.no_grad():
        got = copy_losses(ckpt.model.eval(), seqs, repeats, bins)
    assert got["copy_gain"] == pytest.approx(final_row(record)["copy_gain"], abs=0.05)


NO_HEAD = pytest.mark.xfail(
    strict=True,
    reason="the shipped 800-step runs formed no induction head (docs/induction.md); "
    "strict, so a model that meets the bar makes this fail until the mark is removed",
)


@NO_HEAD
def test_two_layer_model_meets_the_bars() -> None:
    """A shipped 2-layer model has a head scoring >= 0.3 on repeated random tokens, and its
    held-out second copy is >= 0.5 nats/token below the first, mean over 3 seeds."""
    record = shipped(TWO_LAYER)
    m = record["measurements"]
    assert final_row(record)["best_induction"] >= INDUCTION_BAR
    assert m["spread"]["copy_gain"]["n"] == 3
    assert m["spread"]["copy_gain"]["mean"] >= COPY_GAIN_BAR
    assert all(p["found"] for p in m["phase"].values())


@NO_HEAD
def test_head_types_view_finds_the_induction_head() -> None:
    from interp.detectors import detect_heads

    shipped(TWO_LAYER)
    model = load_checkpoint(TWO_LAYER).model.eval()
    types = detect_heads(model).types
    assert "induction" in types[1], types
