"""The sweep CLI: its grid, its checks before any run, and a real (tiny) sweep end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_training import write_corpus
from training.sweep import RunResult, format_table, parse_axis, plan, summarise


def test_an_axis_is_a_list_of_points_and_linked_fields_move_together():
    assert parse_axis("lr=1e-3,2e-3") == [(("lr", "1e-3"),), (("lr", "2e-3"),)]
    assert parse_axis("lr+min_lr=1e-3:1e-4, 2e-3:0") == [
        (("lr", "1e-3"), ("min_lr", "1e-4")),
        (("lr", "2e-3"), ("min_lr", "0")),
    ]
    for bad in ("lr", "lr=", "=1", "lr+min_lr=1e-3", "lr+=1:2"):
        with pytest.raises(ValueError):
            parse_axis(bad)


def test_plan_is_the_product_of_axes_times_seeds_and_checks_every_run(tmp_path):
    runs = plan(None, ["lr=1e-3,2e-3", "decay=cosine,linear"], ["max_steps=5"], [1, 2], tmp_path)
    assert len(runs) == 2 * 2 * 2
    assert len({r.out_dir for r in runs}) == len(runs)  # no two runs share a folder
    first = runs[0].flags
    assert first[:2] == ["--max_steps", "5"] and "--seed" in first and "--out_dir" in first
    with pytest.raises(ValueError, match="not a valid"):
        plan(None, ["lrr=1"], [], [1], tmp_path)  # no such field
    with pytest.raises(ValueError, match="not a valid"):
        plan(None, ["decay=cosine,steps"], [], [1], tmp_path)  # not one of its choices
    with pytest.raises(ValueError, match="one value"):
        plan(None, [], ["lr=1e-3,2e-3"], [1], tmp_path)
    # what would silently collapse two runs into one, or let the last flag win
    with pytest.raises(ValueError, match="more than once"):
        plan(None, ["lr=1e-3,2e-3", "lr+min_lr=1e-3:0"], [], [1], tmp_path)
    with pytest.raises(ValueError, match="more than once"):
        plan(None, ["lr=1e-3,2e-3"], ["lr=1e-3"], [1], tmp_path)
    with pytest.raises(ValueError, match="set by the sweep"):
        plan(None, ["seed=1,2"], [], [1], tmp_path)
    with pytest.raises(ValueError, match="repeat"):
        plan(None, ["lr=1e-3"], [], [1, 1], tmp_path)
    with pytest.raises(ValueError, match="one folder"):
        plan(None, ["corpus=a b,a_b"], [], [1], tmp_path)


def result(lr: str, status: str, loss: float | None, seconds: float = 1.0) -> RunResult:
    return RunResult({"lr": lr}, 0, status, loss, 10, seconds, f"runs/{lr}")  # type: ignore[arg-type]


def test_summary_ranks_by_mean_loss_and_never_ranks_a_partly_failed_combination_first():
    rows = summarise(
        [
            result("1", "completed", 2.0, 3.0),
            result("1", "completed", 2.2, 5.0),
            result("9", "diverged", None),
            result("2", "completed", 1.6),
            result("2", "completed", 1.6),
            result("3", "completed", 1.5),  # best mean, but its other seed diverged
            result("3", "diverged", None),
        ]
    )
    assert [r.combo["lr"] for r in rows] == ["2", "1", "3", "9"]
    assert rows[1].mean == pytest.approx(2.1) and rows[1].seconds == 4.0
    assert rows[2].failed == 1 and rows[2].mean == 1.5
    assert rows[3].failed == 1 and rows[3].seconds is None
    assert "lr=9" in format_table(rows)


@pytest.mark.slow
def test_a_tiny_sweep_trains_every_run_and_writes_its_results(tmp_path, monkeypatch, capsys):
    corpus = write_corpus(tmp_path)
    config = tmp_path / "tiny.toml"
    config.write_text(
        "[model]\nn_ctx = 16\nd_model = 32\nn_layers = 1\nn_heads = 2\nd_head = 16\nd_mlp = 64\n"
        f'[train]\ncorpus = "{corpus}"\ncache_dir = "{tmp_path / "cache"}"\nbatch_size = 4\n'
        "max_steps = 6\nwarmup_steps = 1\neval_interval = 3\neval_batch_size = 8\n"
    )
    from training import sweep

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    out = tmp_path / "sweep"
    argv = ["--config", str(config), "--grid", "lr=1e-3,1e6", "--set", "grad_clip=0"]
    code = sweep.main([*argv, "--jobs", "2", "--threads", "1", "--out", str(out)])
    assert code == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_lr = {r["combo"]["lr"]: r for r in rows}
    assert by_lr["1e-3"]["status"] == "completed" and by_lr["1e-3"]["val_loss"] > 0
    assert by_lr["1e6"]["status"] == "diverged"  # an absurd lr is a row of the table, not a crash
    assert (Path(by_lr["1e-3"]["out_dir"]) / "checkpoint" / "model.safetensors").is_file()
    table = capsys.readouterr().out
    assert table.index("lr=1e-3") < table.index("lr=1e6")
