"""The finer-grid estimate: a parabola in log(lr) through the chosen rung and its neighbours."""

from __future__ import annotations

import math

import pytest

from training.grid_slack import finer_grid, lr_of
from training.suite_record import GridRun


def rung(lr: float, loss: float | None, status: str = "completed") -> GridRun:
    return GridRun(f"lr={lr:g}", 0, status, loss, loss, 1.0)


def bowl(lr: float) -> float:
    """Held-out loss exactly quadratic in log(lr), lowest (1.5) at lr 5e-3."""
    return 1.5 + 0.02 * (math.log(lr) - math.log(5e-3)) ** 2


def test_an_exact_parabola_is_recovered() -> None:
    grid = [rung(lr, bowl(lr)) for lr in (1e-3, 3e-3, 1e-2, 3e-2)]
    f = finer_grid(grid, "lr=0.003")
    assert f is not None
    assert f.lr == pytest.approx(5e-3, rel=1e-9) and f.loss == pytest.approx(1.5, abs=1e-12)
    assert f.slack == pytest.approx(bowl(3e-3) - 1.5, abs=1e-12)
    # uneven spacing: the same parabola from other rungs
    g = finer_grid([rung(lr, bowl(lr)) for lr in (2e-3, 3e-3, 2e-2)], "lr=0.003")
    assert g is not None and g.lr == pytest.approx(5e-3, rel=1e-9)


def test_no_estimate_without_a_trained_rung_on_each_side() -> None:
    three = [rung(1e-3, 1.6), rung(3e-3, 1.5), rung(1e-2, 1.55)]
    assert finer_grid(three, "lr=0.003") is not None
    assert finer_grid(three[:2], "lr=0.003") is None  # the chosen rung at the end of the search
    assert finer_grid([*three[:2], rung(1e-2, None, "diverged")], "lr=0.003") is None
    # a neighbour stuck on a plateau (no better than the count bigram) is not a parabola's side
    stuck = [rung(1e-3, 1.633), rung(3e-3, 1.467), rung(1e-2, 3.288)]
    assert finer_grid(stuck, "lr=0.003", trained_below=2.483) is None
    assert finer_grid(three, "lr=0.003", trained_below=2.483) is not None


def test_the_minimum_stays_between_the_outer_rungs_and_is_never_above_the_chosen_one() -> None:
    flat = [rung(1e-3, 1.5), rung(3e-3, 1.5), rung(1e-2, 1.5)]
    f = finer_grid(flat, "lr=0.003")
    assert f is not None and f.slack == 0.0 and f.lr == pytest.approx(3e-3)
    lopsided = [rung(1e-3, 1.5001), rung(3e-3, 1.5), rung(1e-2, 2.4)]
    f = finer_grid(lopsided, "lr=0.003")
    assert f is not None and 1e-3 <= f.lr <= 1e-2 and 0 <= f.slack


def test_only_one_axis_learning_rate_points_are_read() -> None:
    assert lr_of("lr=0.003") == 0.003
    assert lr_of("fixed") is None and lr_of("lr=0.003,warmup_steps=200") is None
    assert lr_of("warmup_steps=200") is None and lr_of("lr=abc") is None


def test_the_results_table_checks_each_clear_verdict_against_the_grid() -> None:
    from tests.test_evidence import record
    from training.results_table import _grid_check

    def variant(name: str, losses: list[float], grid: list[GridRun]):
        r = record(name, losses)
        r.recipe = {"selection": "holdout_loss", "chosen": "lr=0.003", "grid": grid}
        return r

    sharp = [rung(1e-3, 1.9), rung(3e-3, 1.5), rung(1e-2, 1.9)]  # optimum at the rung: slack 0
    base = variant("baseline", [1.50, 1.51, 1.49], sharp)
    # a steep low side and a near tie above: the parabola's minimum lies 0.043 below the rung
    near = variant(
        "near", [1.54, 1.545, 1.535], [rung(1e-3, 1.9), rung(3e-3, 1.6), rung(1e-2, 1.6001)]
    )
    far = variant("far", [1.80, 1.81, 1.79], sharp)
    same = variant("same", [1.50, 1.52, 1.48], sharp)  # no clear difference: not checked
    text = _grid_check([base, near, far, same], base)
    assert text.startswith("Of the 2 clear differences from the baseline, 1 is larger")
    assert "a finer grid could plausibly undo near (|Δ| 0.040, estimates 0.044)" in text
    unknown = variant("unknown", [1.80, 1.81, 1.79], sharp[:2])  # no rung above the chosen one
    assert "no estimate for unknown" in _grid_check([base, far, unknown], base)
