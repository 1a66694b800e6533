"""Question 1's copying part: sentences follow the records' numbers, charts come from records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from analysis.induction import InductionFinding
from training.verdict import Spread
from views.curriculum_q1_copying import copying_part, induction_note, scale_limit

ROOT = Path(__file__).resolve().parents[1] / "checkpoints"


def finding(best: float, gain: float, found: bool) -> InductionFinding:
    return InductionFinding(
        name="induction_attn2",
        description="",
        n_params=1,
        layers=2,
        attention=True,
        mlp=False,
        lr="lr=0.001",
        best_induction=Spread(best, 0.01, 3),
        copy_gain=Spread(gain, 0.1, 3),
        second_copy_loss=Spread(1.0, 0.1, 3),
        val_loss=Spread(4.0, 0.1, 3),
        second_copy_by_distance={},
        phases={s: {"found": found} for s in range(3)},
        rows={},
    )


def test_the_induction_sentence_says_whether_a_head_formed():
    none = finding(0.004, 0.04, False)
    assert "no induction head formed" in induction_note([none])
    assert "phase change found in 0 of 3 seeds" in induction_note([none])
    head = finding(0.62, 2.1, True)
    assert "an induction head formed" in induction_note([head])
    assert "phase change found in 3 of 3 seeds" in induction_note([head])


def test_the_scale_limit_is_said_only_when_nothing_copied():
    assert "cannot compare" in scale_limit([finding(0.004, 0.04, False)], None)
    assert scale_limit([finding(0.62, 2.1, True)], None) == ""
    assert scale_limit([], None) == ""
    lstm = replace(finding(0.0, 0.0, False), attention=False)
    assert "cannot compare" in scale_limit([lstm], None)


@pytest.mark.skipif(
    not (ROOT / "lambada_transformer" / "record.json").exists(), reason="no LAMBADA record shipped"
)
def test_the_shipped_records_give_the_lambada_graph_and_its_comparisons():
    part = copying_part(ROOT)
    assert any("LAMBADA" in n and "vs ngram" in n for n in part.notes)
    assert len(part.charts) >= 1
