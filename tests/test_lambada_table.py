"""LAMBADA findings, figure and docs/lambada.md table, read from records (hand-made here, shipped ones
where the checkout has them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import lambada_table
from training.lambada_findings import lambada_figure_from_records, lambada_findings
from training.lambada_words import distance_bins

REPO = Path(__file__).resolve().parents[1]


def _final(acc: float, n: int = 100) -> dict:
    bins = {b: [20, round(20 * acc)] for b in distance_bins()}
    return {
        "step": 400, "accuracy": acc, "accuracy_low": acc - 0.05, "accuracy_high": acc + 0.05,
        "loss": 8.0, "n": n, "by_distance": bins,
    }  # fmt: skip


def _record(name: str, accs: list[float], baseline_acc: float = 0.02) -> dict:
    seeds = [
        {
            "seed": i,
            "curve": [
                {"step": 200, "accuracy": 0.0, "accuracy_low": 0.0, "accuracy_high": 0.04, "loss": 12.0},
                {"step": 400, "accuracy": a, "accuracy_low": a - 0.05, "accuracy_high": a + 0.05, "loss": 8.0},
            ],
            "final": _final(a),
            "copying": {"copy_gain": 1.5, "best_induction": 0.5},
        }
        for i, a in enumerate(accs)
    ]  # fmt: skip
    baselines = [
        {
            "name": n, "description": f"{n} rule", "accuracy": baseline_acc,
            "accuracy_low": 0.0, "accuracy_high": baseline_acc + 0.03, "n": 100,
            "loss": 11.0 if n == "ngram" else None,
            "by_distance": {b: [20, 1] for b in distance_bins()},
        }
        for n in ("unigram", "ngram", "context_fits", "context_ceiling")
    ]  # fmt: skip
    seed_run = {"status": "completed", "steps": 400, "train_seconds": 60.0, "device": "cpu:x",
                "precision": "bfloat16"}  # fmt: skip
    return {
        "schema_version": 2, "name": name, "description": "", "question": "", "changes": {},
        "suite": "lambada-bpe", "config": {}, "model_config": {}, "status": "completed",
        "message": "", "steps": 400, "n_params": 1000, "train_seconds": 60.0, "tokens_per_s": 1.0,
        "corpus": "x", "tokenizer": "bpe", "device": "cpu:x", "precision": "bfloat16",
        "recipe": {"selection": "holdout_loss", "chosen": "lr=0.001", "grid": [
            {"point": "lr=0.001", "seed": 0, "status": "completed", "holdout_loss": 4.1,
             "val_loss": 4.2, "seconds": 50.0},
            {"point": "lr=0.003", "seed": 0, "status": "diverged", "holdout_loss": None,
             "val_loss": None, "seconds": 10.0},
        ]},
        "seeds": [{"seed": i, **seed_run} for i in range(len(accs))], "shipped_seed": 0,
        "spread": {}, "references": {}, "mask_flip": {}, "curve": [], "final": {},
        "lambada": {"benchmark": {"split": "by passage", "n_held_out": 100, "per_seed": seeds,
                                  "baselines": baselines}},
    }  # fmt: skip


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, accs in (("lambada_transformer", [0.2, 0.22, 0.24]), ("lambada_lstm", [0.1, 0.1])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "record.json").write_text(json.dumps(_record(name, accs)))
    return tmp_path


def test_findings_read_every_seed_and_compare_with_the_baselines(root: Path) -> None:
    f = lambada_findings(root)
    assert f is not None
    tr, lstm = f.models
    assert (tr.label, lstm.label) == ("transformer", "LSTM")
    assert tr.mean_accuracy == pytest.approx(0.22) and tr.half_width == pytest.approx(0.05)
    assert tr.ladder == [("lr=0.001", 4.1), ("lr=0.003", None)] and tr.ladder_seconds == 60.0
    by = {(c.model, c.baseline): c for c in f.comparisons}
    assert by[("transformer", "ngram")].verdict == "above by more than its 95% interval"
    assert by[("LSTM", "ngram")].margin == pytest.approx(0.08)
    assert ("transformer", "context_ceiling") not in by  # a ceiling, not a predictor
    assert any("transformer vs ngram: +20.0% (above" in s for s in f.sentences)
    assert tr.copy_gain == [1.5] * 3 and tr.best_induction == [0.5] * 3
    assert (
        "transformer copies: copy gain +1.50, +1.50, +1.50 nats/token by seed, "
        "best induction score 0.500, 0.500, 0.500." in f.sentences
    )


def test_an_edited_record_changes_the_verdict(root: Path) -> None:
    path = root / "lambada_transformer" / "record.json"
    path.write_text(json.dumps(_record("lambada_transformer", [0.05, 0.05, 0.05], 0.03)))
    f = lambada_findings(root)
    assert f is not None
    c = next(c for c in f.comparisons if c.model == "transformer" and c.baseline == "ngram")
    assert c.verdict == "within its 95% interval"
    assert any("transformer vs ngram: +2.0% (within" in s for s in f.sentences)


def test_no_records_no_findings(tmp_path: Path) -> None:
    assert lambada_findings(tmp_path) is None
    assert lambada_figure_from_records(tmp_path) is None


def test_figure_and_table_from_records(root: Path) -> None:
    fig = lambada_figure_from_records(root)
    assert {t.name for t in fig.data if t.name} >= {"transformer (3 seeds)", "LSTM (2 seeds)"}
    f = lambada_findings(root)
    assert f is not None
    table = lambada_table.render(f)
    assert (
        "| transformer (1,000 params) | lr=0.001 | 22.0 ± 2.0 | 15.0–29.0 | 8.00 ± 0.00 "
        "| 1.50 ± 0.00 | 0.500 ± 0.000 | 3 |" in table
    )
    assert "- transformer: lr=0.001 4.1000, lr=0.003 failed; chosen lr=0.001." in table
    # each ladder 60 s, plus the seeds it did not train: 2 x 60 s and 1 x 60 s
    assert "Cost: 0.08 run-hours of training (transformer 0.05, LSTM 0.03;" in table
    assert table == lambada_table.render(lambada_findings(root))  # type: ignore[arg-type]


def test_lambada_page_table_is_generated_from_the_shipped_records() -> None:
    readme = (REPO / "docs" / "lambada.md").read_text()
    assert lambada_table.START in readme and lambada_table.END in readme
    f = lambada_findings(REPO / "checkpoints")
    if f is None:
        pytest.skip("no shipped LAMBADA records in this checkout")
    shown = readme.split(lambada_table.START, 1)[1].split(lambada_table.END, 1)[0]
    assert shown == f"\n{lambada_table.render(f)}\n"
