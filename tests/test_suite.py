"""The ablation suite: its plan (grid search on held-out training text, then seeds), its references,
its records and tables, and its execution locally and on a Ray cluster."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from model.build import build_model
from model.checkpoint import load_checkpoint
from model.config import ModelConfig
from model.switches import Switches
from tests.test_training import tiny_run, write_corpus
from training import experiments, results_table
from training.config import RunConfig, TrainConfig, task_context
from training.references import context_gain, count_references, with_causal_mask
from training.suite import (
    RUN_SPEC,
    RUN_SUMMARY,
    SAVED_RUN,
    RunKey,
    RunSummary,
    best_point,
    config_changes,
    pending_runs,
    read_suite,
    stale_reason,
    summary_of,
    variant_done,
)
from training.suite_job import LOCK, StaleRun, run_job
from training.suite_record import VariantRecord, spec_changes
from training.train import train

REPO = Path(__file__).resolve().parents[1]


def tiny_suite(
    tmp_path: Path, seeds: str = "[0, 1]", extra: str = "", mask_extra: str = ""
) -> Path:
    corpus = write_corpus(tmp_path)
    spec = f"""
[suite]
name = "tiny"
out_dir = "{tmp_path / "ship"}"
work_dir = "{tmp_path / "work"}"
seeds = {seeds}
probe_prompt = "the cat sat"
sample_prompts = ["the "]
sample_tokens = 8
snapshot_variants = ["baseline"]

[suite.grid]
lr = [1e-3, 1e-2]

[base.model]
n_ctx = 16
d_model = 32
n_layers = 2
n_heads = 2
d_head = 16
d_mlp = 64
pos_encoding = "learned"
tied_embeddings = true

[base.train]
corpus = "{corpus}"
cache_dir = "{tmp_path / "cache"}"
tokenizer = "char"
holdout_tokens = 600
batch_size = 4
max_steps = 8
warmup_steps = 2
eval_interval = 4
eval_batch_size = 32
checkpoint_interval = 4
progress = false
device = "cpu"

[[variant]]
name = "baseline"
question = "reference"

[[variant]]
name = "no_causal_mask"
question = "mask"
model = {{ causal_mask = false }}
{mask_extra}
{extra}
"""
    path = tmp_path / "suite.toml"
    path.write_text(spec)
    return path


def fake_summary(suite, key: RunKey, holdout: float | None, status: str = "completed") -> None:
    folder = suite.run_dir(key)
    folder.mkdir(parents=True, exist_ok=True)
    s = RunSummary(status, 8, holdout, holdout, 1.0, "cpu:test", "float32", 1)
    (folder / RUN_SUMMARY).write_text(json.dumps(dataclasses.asdict(s)))


def test_shipped_suite_spec_is_valid() -> None:
    suite = read_suite(REPO / "configs" / "suite.toml")
    base = suite.variant("baseline")
    assert len(suite.seeds) >= 3 and len(suite.grid["lr"]) >= 3
    assert base.run.model.pos_encoding == "learned" and base.run.train.holdout_tokens > 0
    for v in suite.variants:
        # a variant changes only what it declares
        model_changed = {
            k for k, val in v.run.model.to_dict().items() if base.run.model.to_dict()[k] != val
        }
        assert model_changed <= set(v.changes), v.name
        build_model(v.run.model.replace(vocab_size=65, n_ctx=16))  # every variant builds
    # question 2 varies d_head with the head count fixed and with heads x d_head fixed
    shapes = {(v.run.model.n_heads, v.run.model.d_head) for v in suite.variants if v.grid}
    assert len({d for h, d in shapes if h == 4}) >= 4
    assert len({(h, d) for h, d in shapes if h * d == 128}) >= 4


def test_the_short_spec_is_the_shipped_suite_with_only_its_budget_and_folders_changed() -> None:
    shipped = read_suite(REPO / "configs" / "suite.toml")
    short = read_suite(REPO / "configs" / "suite_short.toml")
    assert short.work_dir != shipped.work_dir and short.out_dir != shipped.out_dir
    assert [v.name for v in short.variants] == [v.name for v in shipped.variants]
    assert (short.seeds, short.grid, short.grid_start) == (
        shipped.seeds,
        shipped.grid,
        shipped.grid_start,
    )
    for a, b in zip(shipped.variants, short.variants, strict=True):
        assert a.run.model == b.run.model, a.name
        if a.run.train.task == "lm":
            assert 2 * b.run.train.max_steps == a.run.train.max_steps, a.name
            assert dataclasses.replace(b.run.train, max_steps=a.run.train.max_steps) == a.run.train
        else:  # the reversal task sets its own budget per variant, which the base does not touch
            assert b.run.train == a.run.train, a.name


def test_extends_merges_tables_replaces_the_rest_and_refuses_a_loop(tmp_path: Path) -> None:
    base = tiny_suite(tmp_path)
    child = tmp_path / "child" / "longer.toml"
    child.parent.mkdir()
    child.write_text(
        'extends = "../suite.toml"\n[suite]\nseeds = [5]\n[base.train]\nmax_steps = 99\n'
    )
    parent, longer = read_suite(base), read_suite(child)
    assert longer.seeds == (5,) and parent.seeds != (5,)  # a list is replaced, not appended to
    assert longer.name == parent.name and longer.grid == parent.grid  # untouched keys inherited
    v, p = longer.variant("baseline"), parent.variant("baseline")
    assert v.run.train.max_steps == 99 and v.run.train.lr == p.run.train.lr
    assert v.run.model == p.run.model
    base.write_text('extends = "child/longer.toml"\n' + base.read_text())  # top level: first
    with pytest.raises(ValueError, match="loops back"):
        read_suite(child)
    child.write_text("extends = 3\n")
    with pytest.raises(ValueError, match="must be a file name"):
        read_suite(child)
    child.write_text('[suite]\nextends = "../suite.toml"\n')  # inside a table: a mistake
    with pytest.raises(ValueError, match="top of the file"):
        read_suite(child)


def test_selection_is_never_on_validation(tmp_path: Path) -> None:
    path = tiny_suite(tmp_path)
    text = path.read_text().replace(
        "sample_tokens = 8", 'sample_tokens = 8\nselection = "val_loss"'
    )
    path.write_text(text)
    with pytest.raises(ValueError, match="never a validation"):
        read_suite(path)
    path.write_text(
        tiny_suite(tmp_path).read_text().replace("holdout_tokens = 600", "holdout_tokens = 0")
    )
    with pytest.raises(ValueError, match="holdout_tokens"):
        read_suite(path)
    path.write_text(
        tiny_suite(tmp_path).read_text().replace("[suite.grid]", "[suite.grid]\nseed = [1]")
    )
    with pytest.raises(ValueError, match="grid axis"):
        read_suite(path)


def test_plan_searches_first_then_seeds_the_winner(tmp_path: Path) -> None:
    suite = read_suite(tiny_suite(tmp_path, seeds="[0, 1, 2]"))
    base = suite.variant("baseline")
    first = pending_runs(suite, [base])
    assert [str(k) for k in first] == ["baseline/lr=0.001/seed0", "baseline/lr=0.01/seed0"]
    fake_summary(suite, first[0], 2.0)
    assert best_point(suite, base) is None  # the search is not finished
    assert pending_runs(suite, [base]) == first[1:]
    fake_summary(suite, first[1], 1.5)
    assert best_point(suite, base) == "lr=0.01"
    assert [str(k) for k in pending_runs(suite, [base])] == [
        "baseline/lr=0.01/seed1",
        "baseline/lr=0.01/seed2",
    ]
    assert not variant_done(suite, base)
    for s in (1, 2):
        fake_summary(suite, RunKey("baseline", "lr=0.01", s), 1.6)
    assert variant_done(suite, base) and pending_runs(suite, [base]) == []


def ladder_suite(tmp_path: Path):
    text = tiny_suite(tmp_path, seeds="[0, 1]").read_text()
    text = text.replace(
        "[suite.grid]\nlr = [1e-3, 1e-2]",
        "[suite.grid]\nlr = [1e-4, 1e-3, 1e-2, 1e-1]\n\n[suite.grid_start]\nlr = [1e-3, 1e-2]",
    )
    (tmp_path / "suite.toml").write_text(text)
    return read_suite(tmp_path / "suite.toml")


def test_a_winner_at_the_edge_widens_the_search_one_rung(tmp_path: Path) -> None:
    suite = ladder_suite(tmp_path)
    v = suite.variant("baseline")
    labels = lambda: [k.point for k in suite.search_runs(v)]  # noqa: E731
    assert labels() == ["lr=0.001", "lr=0.01"]
    fake_summary(suite, RunKey("baseline", "lr=0.001", 0), 2.0)
    fake_summary(suite, RunKey("baseline", "lr=0.01", 0), 1.5)  # the top end wins
    assert labels() == ["lr=0.001", "lr=0.01", "lr=0.1"] and best_point(suite, v) is None
    assert [str(k) for k in pending_runs(suite, [v])] == ["baseline/lr=0.1/seed0"]
    fake_summary(suite, RunKey("baseline", "lr=0.1", 0), None, status="diverged")
    assert best_point(suite, v) == "lr=0.01"  # inside now: seeds follow
    assert [str(k) for k in pending_runs(suite, [v])] == ["baseline/lr=0.01/seed1"]
    # the bottom end winning widens downwards, up to the ladder's end
    w = suite.variant("no_causal_mask")
    fake_summary(suite, RunKey("no_causal_mask", "lr=0.001", 0), 1.0)
    fake_summary(suite, RunKey("no_causal_mask", "lr=0.01", 0), 1.2)
    assert [k.point for k in suite.search_runs(w)][0] == "lr=0.0001"
    fake_summary(suite, RunKey("no_causal_mask", "lr=0.0001", 0), 0.9)
    assert best_point(suite, w) == "lr=0.0001"  # the ladder ends here: the search stops


def test_a_search_that_only_failed_tries_smaller_rates_and_ties_widen_both_ends(
    tmp_path: Path,
) -> None:
    suite = ladder_suite(tmp_path)
    v = suite.variant("baseline")
    for point in ("lr=0.001", "lr=0.01"):
        fake_summary(suite, RunKey("baseline", point, 0), None, status="diverged")
    assert [k.point for k in suite.search_runs(v)] == ["lr=0.0001", "lr=0.001", "lr=0.01"]
    w = suite.variant("no_causal_mask")
    for point in ("lr=0.001", "lr=0.01"):
        fake_summary(suite, RunKey("no_causal_mask", point, 0), 1.5)  # a tie between the ends
    assert [k.point for k in suite.search_runs(w)] == [
        "lr=0.0001",
        "lr=0.001",
        "lr=0.01",
        "lr=0.1",
    ]


def test_a_record_missing_a_point_tried_is_not_current(tmp_path: Path) -> None:
    """Widening the search after a record was written (here: a new top rung that lost) must make
    the scheduler write the record again, so that it lists every point tried."""
    from tests.test_evidence import record
    from training.suite_record import GridRun

    suite = ladder_suite(tmp_path)
    v = suite.variant("baseline")
    for point, loss in (("lr=0.001", 2.0), ("lr=0.01", 1.5)):
        fake_summary(suite, RunKey("baseline", point, 0), loss)
    fake_summary(suite, RunKey("baseline", "lr=0.1", 0), None, status="diverged")
    rec = record("baseline", [1.5, 1.6])
    rec.config = suite.run_config(RunKey("baseline", "lr=0.01", rec.shipped_seed)).to_dict()
    rec.recipe = {"selection": "holdout_loss", "chosen": "lr=0.01", "grid": []}
    for points in (["lr=0.001", "lr=0.01"], ["lr=0.001", "lr=0.01", "lr=0.1"]):
        rec.recipe["grid"] = [GridRun(p, 0, "completed", 1.0, 1.0, 1.0) for p in points]
        folder = suite.out_dir / "baseline"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "record.json").write_text(json.dumps(rec.to_json()))
        assert experiments.record_is_current(suite, v) == (len(points) == 3)
    # the same record, written from runs at another budget, is not current either
    rec.config["train"]["max_steps"] = 4
    (folder / "record.json").write_text(json.dumps(rec.to_json()))
    assert not experiments.record_is_current(suite, v)


def save_run(suite, key: RunKey, **train_changes) -> None:
    """A run folder as a finished job leaves it: run.json, and the run config in its checkpoint's
    meta.json (here the spec's own, with `train_changes`)."""
    fake_summary(suite, key, 1.5)
    run = suite.run_config(key)
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, **train_changes))
    meta = suite.run_dir(key) / "checkpoint" / "meta.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"step": run.train.max_steps, "run": run.to_dict()}))


def test_the_saved_run_config_is_where_training_saves_it(tmp_path: Path) -> None:
    from model.checkpoint import META
    from training.train import CHECKPOINT

    assert SAVED_RUN == Path(CHECKPOINT) / META
    run = tiny_run(tmp_path, max_steps=1)
    train(run)
    saved = json.loads((Path(run.train.out_dir) / SAVED_RUN).read_text())["run"]
    assert config_changes(saved, run) == []
    longer = dataclasses.replace(run, train=dataclasses.replace(run.train, max_steps=2))
    assert config_changes(saved, longer) == ["max_steps 1 -> 2"]


def test_runs_of_another_spec_are_neither_results_nor_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spec changed in place (here: a longer budget) with its old work_dir: the old runs must not
    count as this spec's results, nor be continued to the new budget."""
    suite = read_suite(tiny_suite(tmp_path))
    base = suite.variant("baseline")
    same, moved = RunKey("baseline", "lr=0.001", 0), RunKey("baseline", "lr=0.01", 0)
    # where it lives, reads data and how this machine runs it: the same experiment
    save_run(
        suite,
        same,
        out_dir="/moved",
        data_dir="/elsewhere",
        cache_dir="/c",
        progress=True,
        threads=3,
        device="cuda",
        compile=True,
        checkpoint_interval=1,
        eval_batch_size=3,
    )
    assert stale_reason(suite, same) is None and summary_of(suite, same) is not None
    save_run(suite, moved, max_steps=4)  # the folder holds a 4-step run; the spec asks for 8
    assert stale_reason(suite, moved) == "max_steps 4 -> 8"
    assert summary_of(suite, moved) is None and best_point(suite, base) is None
    assert moved in pending_runs(suite, [base])
    # the scheduler refuses it with the reason, and never starts it
    executor = LockingExecutor(suite, slots=2)
    failed = experiments.run_suite(suite, ["baseline"], executor)
    assert str(moved) in failed and "max_steps 4 -> 8" in capsys.readouterr().out
    assert moved not in executor.started
    # a job started by hand refuses too, before touching the folder
    path = tmp_path / "suite.toml"
    before = sorted(p.name for p in suite.run_dir(moved).iterdir())
    assert experiments.main(["--suite", str(path), "--job", str(moved)]) == 2
    assert "another spec (max_steps 4 -> 8)" in capsys.readouterr().err
    assert sorted(p.name for p in suite.run_dir(moved).iterdir()) == before
    with pytest.raises(StaleRun, match="new work_dir"):
        run_job(suite, moved)
    assert experiments.main(["--suite", str(path), "--status"]) == 0
    assert "1 folder of another spec's runs (e.g. baseline/lr=0.01/seed0: max_steps 4 -> 8)" in (
        capsys.readouterr().out
    )


def test_what_a_run_folder_holds_is_read_again_when_it_changes(tmp_path: Path) -> None:
    suite = read_suite(tiny_suite(tmp_path))
    key = RunKey("baseline", "lr=0.001", 0)
    folder = suite.run_dir(key)
    save_run(suite, key)
    assert stale_reason(suite, key) is None
    save_run(suite, key, warmup_steps=5)  # the same file rewritten: the cache must not keep it
    assert stale_reason(suite, key) == "warmup_steps 5 -> 2"
    meta = folder / SAVED_RUN
    meta.write_text(json.dumps({"run": {"train": {"a_field_from_elsewhere": 1}}}))
    assert "unreadable saved config" in (stale_reason(suite, key) or "")
    # a run that diverged before its first checkpoint: the config its job was started for
    meta.unlink()
    assert stale_reason(suite, key) is None and summary_of(suite, key) is not None
    other = suite.run_config(key)
    other = dataclasses.replace(other, train=dataclasses.replace(other.train, batch_size=2))
    (folder / RUN_SPEC).write_text(json.dumps(other.to_dict()))
    assert stale_reason(suite, key) == "batch_size 2 -> 4" and summary_of(suite, key) is None


def test_a_checkpoint_holds_the_context_its_task_needed() -> None:
    """The reversal task widens the context to a whole sequence (prepare.model_config_for): a
    spec asking for less is still the run that was trained, not another spec's."""
    run = RunConfig(
        ModelConfig(n_ctx=8, d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32),
        TrainConfig(task="reversal", reversal_len=8),
    )
    built = RunConfig(run.model.replace(n_ctx=task_context(run), vocab_size=17), run.train)
    assert built.model.n_ctx == 16
    assert config_changes(built.to_dict(), run) == [] and config_changes(run.to_dict(), run) == []
    wider = RunConfig(run.model.replace(n_ctx=32), run.train)
    assert config_changes(built.to_dict(), wider) == ["n_ctx 16 -> 32"]


def test_loss_by_position_is_read_in_ranges_and_the_far_context_is_said_plainly() -> None:
    from tests.test_evidence import record
    from training.references import position_ranges, range_means

    assert position_ranges(128)[-3:] == [(32, 63), (64, 95), (96, 127)]
    assert [b - a + 1 for a, b in position_ranges(128)] == [1, 1, 1, 5, 8, 16, 32, 32, 32]
    flat_then_up = [3.0, 2.5, 2.0] + [1.5] * 61 + [1.6] * 64  # 128 positions
    means = range_means(flat_then_up)
    assert means[:3] == [3.0, 2.5, 2.0] and means[6] == 1.5 and means[-1] == pytest.approx(1.6)
    base = record("baseline", [1.5, 1.5])
    wiggle = [0.02 * (-1) ** (i // 8) for i in range(128)]  # the text's ups and downs, 8 wide
    for seed in base.seeds:
        seed.loss_by_position = [x + w for x, w in zip(flat_then_up, wiggle, strict=True)]
    text = results_table.far_context(base)
    assert text is not None and "past position 32 the baseline's loss no longer falls" in text
    assert "(+0.100); 8-position blocks from 32 on vary by ±0.042" in text
    for seed in base.seeds:  # a steady fall past 32, larger than the wiggle
        seed.loss_by_position = [2.0 - 0.004 * i + w for i, w in enumerate(wiggle)]
    assert "past position 32 the baseline's loss still falls" in (
        results_table.far_context(base) or ""
    )
    base.seeds[0].loss_by_position = []  # a seed without a curve is left out, not a crash
    assert results_table.far_context(base) is not None
    for seed in base.seeds:
        seed.loss_by_position = flat_then_up
    rows = results_table.position_table([base])
    assert rows[3] == "| variant | 0 | 1 | 2 | 3–7 | 8–15 | 16–31 | 32–63 | 64–95 | 96–127 |"
    assert rows[-1].startswith("| baseline | 3.000 | 2.500 | 2.000 | 1.500 |")


def test_a_resumed_run_counts_its_time_before_the_resume(tmp_path: Path) -> None:
    """A run.json whose seconds cover only the time since the last resume (45 s of a run that
    trained 291 s) does not shorten the record: it takes the metrics' last elapsed_s, which a
    resume carries over."""
    from training.metrics import read_metrics
    from training.suite_record import run_seconds

    suite = read_suite(tiny_suite(tmp_path))
    key = RunKey("baseline", "lr=0.001", 0)
    fake_summary(suite, key, 1.5)  # says 1.0 s
    summary = summary_of(suite, key)
    assert summary is not None and run_seconds(summary, []) == 1.0  # no metrics: as said
    lines = [{"step": 4, "elapsed_s": 120.04}, {"step": 8, "elapsed_s": 291.46}]
    (suite.run_dir(key) / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    assert run_seconds(summary, read_metrics(suite.run_dir(key) / "metrics.jsonl")) == 291.5


def test_a_record_of_another_spec_is_listed_not_compared(tmp_path: Path) -> None:
    from tests.test_evidence import record

    path = tiny_suite(tmp_path)
    suite = read_suite(path)
    for name, losses, steps in (("baseline", [1.5, 1.6], 8), ("no_causal_mask", [0.1, 0.2], 4)):
        rec = record(name, losses)
        rec.references = {}  # the baseline's bars need more than this made-up record has
        rec.recipe = {"selection": "holdout_loss", "chosen": "lr=0.01", "grid": []}
        run = suite.run_config(RunKey(name, "lr=0.01", rec.shipped_seed))
        rec.config = dataclasses.replace(
            run, train=dataclasses.replace(run.train, max_steps=steps)
        ).to_dict()
        assert (spec_changes(suite, rec) == []) == (steps == 8)
        folder = suite.out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "record.json").write_text(json.dumps(rec.to_json()))
    text = results_table.render(suite.out_dir, path)
    assert "| baseline | " in text and "0.1" not in text.split("| no_causal_mask |")[1]
    assert "| no_causal_mask | | not trained at this spec (its record: max_steps 4 -> 8) |" in text
    assert "- no_causal_mask bars: not yet measured" in text  # its bars are not judged on it


@pytest.mark.parametrize(
    ("start", "match"),
    [("[1e-3, 1e-1]", "consecutive"), ("[3e-3]", "rungs"), ("[]", "rungs"), ("", "increasing")],
)
def test_grid_start_must_be_consecutive_rungs(tmp_path: Path, start: str, match: str) -> None:
    ladder_suite(tmp_path)
    path = tmp_path / "suite.toml"
    text = path.read_text()
    if start:
        text = text.replace("lr = [1e-3, 1e-2]", f"lr = {start}")
    else:  # a ladder out of order
        text = text.replace("lr = [1e-4, 1e-3, 1e-2, 1e-1]", "lr = [1e-3, 1e-4, 1e-2, 1e-1]")
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_suite(path)


def test_a_diverged_grid_point_never_wins(tmp_path: Path) -> None:
    suite = read_suite(tiny_suite(tmp_path))
    v = suite.variant("no_causal_mask")
    a, b = suite.search_runs(v)
    fake_summary(suite, a, 3.0)
    fake_summary(suite, b, None, status="diverged")
    assert best_point(suite, v) == a.point
    # the run config is the base, the variant's change, the grid point and the seed
    run = suite.run_config(RunKey("no_causal_mask", "lr=0.01", 1))
    assert (run.train.lr, run.train.seed, run.model.causal_mask) == (1e-2, 1, False)
    assert run.train.out_dir.endswith("no_causal_mask/lr=0.01/seed1")


def test_count_references_match_hand_computation() -> None:
    train = np.array([0, 1, 0, 1, 0, 2])
    scored = np.array([0, 1, 0, 2])
    refs = count_references(train, None, scored, vocab=3)
    uni = np.array([3, 2, 1]) + 1.0
    uni = np.log(uni / uni.sum())
    assert refs.unigram_loss == pytest.approx(-(uni[1] + uni[0] + uni[2]) / 3)
    # bigram counts from train: 0->1 twice, 1->0 twice, 0->2 once; alpha 0.01
    a = 0.01
    p01 = (2 + a) / (3 + 3 * a)
    p10 = (2 + a) / (2 + 3 * a)
    p02 = (1 + a) / (3 + 3 * a)
    assert refs.bigram_loss == pytest.approx(-(math.log(p01) + math.log(p10) + math.log(p02)) / 3)
    assert refs.bigram_loss < refs.unigram_loss
    assert refs.bpc(refs.bigram_loss, 6) == pytest.approx(refs.bigram_loss * 3 / (6 * math.log(2)))


def test_bigram_smoothing_is_chosen_on_the_held_out_slice() -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 20, 200)
    held = rng.integers(0, 20, 200)  # unrelated text: heavy smoothing generalises best
    assert count_references(train, held, held, 20).bigram_alpha == 1.0


def test_mask_flip_reuses_the_weights() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=11, n_ctx=8, d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32)
    model = build_model(cfg).eval()
    x = torch.randint(0, 11, (2, 8))
    open_ = with_causal_mask(model, False)
    torch.testing.assert_close(open_(x), model(x, switches=Switches(causal_mask=False)))
    back = with_causal_mask(open_, True)  # an unmasked model with the mask put back
    torch.testing.assert_close(back(x), model(x))
    assert context_gain([3.0, 2.5, 2.0] + [1.5] * 13) == pytest.approx(0.5)


LSTM_VARIANT = """
[[variant]]
name = "lstm"
question = "Q1"
model = { architecture = "lstm", n_layers = 1, tied_embeddings = false, bias = true }
"""


@pytest.mark.slow
def test_suite_end_to_end_records_and_table(tmp_path: Path) -> None:
    path = tiny_suite(tmp_path, extra=LSTM_VARIANT)
    assert experiments.main(["--suite", str(path), "--jobs", "2"]) == 0
    suite = read_suite(path)
    # the LSTM's step time is timed beside the reference's; a transformer variant needs none
    lstm = VariantRecord.read(suite.out_dir / "lstm")
    assert lstm.speed is not None and lstm.speed["reference"] == "baseline"
    assert set(lstm.speed["seconds_per_step"]) == {"lstm", "baseline"}
    assert VariantRecord.read(suite.out_dir / "no_causal_mask").speed is None
    for name in ("baseline", "no_causal_mask"):
        rec = VariantRecord.read(suite.out_dir / name)
        assert len(rec.seeds) == 2 and len(rec.recipe["grid"]) == 2
        chosen = min(rec.recipe["grid"], key=lambda g: g.holdout_loss)
        assert rec.recipe["chosen"] == chosen.point  # chosen on held-out training text
        assert rec.shipped_seed in (0, 1) and rec.spread["val_loss"].n == 2
        assert rec.references["bigram_loss"] < rec.references["unigram_loss"]
        by_order = rec.references["ngram_by_order"]  # every order tried, chosen on held-out
        order = rec.references["ngram_order"]
        assert by_order[str(order)][0] == min(h for h, _ in by_order.values())
        assert rec.references["ngram_loss"] == by_order[str(order)][1]
        assert rec.seeds[0].mask_flipped_val_loss is not None
        assert len(rec.seeds[0].loss_by_position) == 16
        ckpt = load_checkpoint(suite.out_dir / name)
        assert ckpt.config.to_dict() == rec.model_config
        assert "attn_entropy" in rec.curve[-1] and len(rec.curve[-1]["attn_max_logit"]) == 2
    assert (suite.out_dir / "baseline" / "attention_snapshots.safetensors").is_file()
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{results_table.START}\n{results_table.END}\ny\n")
    args = ["--root", str(suite.out_dir), "--suite", str(path), "--readme", str(readme)]
    results_table.main(args)
    once = readme.read_bytes()
    results_table.main(args)
    assert readme.read_bytes() == once  # regenerated byte for byte
    text = once.decode()
    assert "count-bigram" in text and "± " in text and "mask put back" in text
    assert (
        "interpolated Kneser-Ney" in text and "-gram (the order the held-out slice chose)" in text
    )
    # each variant: its search points (seed 0) and its chosen point's further seeds
    records = results_table.load_records(suite.out_dir)
    runs = sum(len(r.recipe["grid"]) + len(r.seeds) - 1 for r in records)
    assert f"Compute recorded in these records: {runs} runs," in text
    # a second invocation finds everything done: it trains nothing and keeps the records as written
    written = (suite.out_dir / "baseline" / "record.json").read_bytes()
    assert experiments.main(["--suite", str(path), "--jobs", "2"]) == 0
    assert (suite.out_dir / "baseline" / "record.json").read_bytes() == written


class LockingExecutor:
    """Stands in for child processes: each submitted run holds its lock (this live pid) like a real
    job does, and finishes on the next poll with a made-up summary."""

    def __init__(self, suite, slots: int) -> None:
        self.suite, self.slots, self.running, self.sizes = suite, slots, {}, []
        self.started: list[RunKey] = []

    def submit(self, key: RunKey) -> None:
        self.started.append(key)
        folder = self.suite.run_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / LOCK).write_text(str(os.getpid()))
        self.running[key] = None

    def finished(self, timeout: float) -> list[tuple[RunKey, int]]:
        self.sizes.append(len(self.running))
        done = list(self.running)[:1]  # the oldest run finishes; the other keeps its slot
        for key in done:
            fake_summary(self.suite, key, 2.0 if key.point == "lr=0.001" else 1.5)
            (self.suite.run_dir(key) / LOCK).unlink()
            del self.running[key]
        return [(k, 0) for k in done]


def test_the_scheduler_fills_every_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its own children hold run locks too: they must not count twice against the slots."""
    suite = read_suite(tiny_suite(tmp_path, seeds="[0, 1, 2]"))
    monkeypatch.setattr(experiments, "variant_done", lambda *a: False)  # no records: planning only
    executor = LockingExecutor(suite, slots=2)
    assert experiments.run_suite(suite, ["baseline", "no_causal_mask"], executor) == []
    assert executor.sizes[:4] == [2, 2, 2, 2]  # a freed slot is taken at once
    assert not experiments.pending_runs(suite, [suite.variant("baseline")])


@pytest.mark.slow
def test_suite_runs_on_a_local_ray_head(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from training.suite_ray import RayExecutor

    path = tiny_suite(tmp_path, mask_extra="ship_weights = false")
    suite = read_suite(path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        executor = RayExecutor(suite, str(path), threads=1, address="auto")
        assert executor.slots == 2
        assert experiments.run_suite(suite, ["no_causal_mask"], executor) == []
    finally:
        ray.shutdown()
    rec = VariantRecord.read(suite.out_dir / "no_causal_mask")
    assert {s.seed for s in rec.seeds} == {0, 1}
    assert not (suite.out_dir / "baseline").exists()
    # a record-only variant ships no weights
    assert sorted(p.name for p in (suite.out_dir / "no_causal_mask").iterdir()) == ["record.json"]


def test_verdict_calls_small_differences_no_clear_difference() -> None:
    from training.suite_record import Spread
    from training.verdict import judge

    base = Spread(1.80, 0.02, 3)
    assert judge(Spread(1.83, 0.01, 3), base).label == "no clear difference"  # 0.03 < 2 * 0.02
    assert judge(Spread(1.90, 0.01, 3), base).label == "higher"
    assert judge(Spread(1.70, 0.03, 3), base).label == "lower"
    assert judge(Spread(1.70, None, 1), base).label == "no spread"
    assert judge(Spread(None, None, 0), base) is None
    assert judge(Spread(1.0, 0.0, 3), Spread(1.0, 0.0, 3)).label == "no clear difference"
    assert results_table.compare(Spread(1.83, 0.01, 3), base) == "no clear difference (+0.030)"
