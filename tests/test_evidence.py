"""The Curriculum's answers are computed from records: a change in the records changes the words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curriculum import answers, equal_time, evidence, recipe
from fixtures.curriculum import record
from training.suite_record import Spread, VariantRecord


def ev(*records: VariantRecord) -> evidence.Evidence:
    return evidence.Evidence({r.name: r for r in records}, None)


def test_a_difference_inside_the_seed_spread_is_no_clear_difference() -> None:
    e = ev(record("baseline", [1.80, 1.82, 1.78]), record("cosine", [1.81, 1.79, 1.84]))
    f = evidence.versus(e, "cosine")
    assert f is not None and f.verdict is not None and f.verdict.label == "no clear difference"
    assert "no clear difference" in f.sentence


def test_a_clear_difference_is_said_with_its_size() -> None:
    e = ev(record("baseline", [1.80, 1.82, 1.78]), record("no_residual", [2.60, 2.62, 2.61]))
    f = evidence.versus(e, "no_residual")
    assert f is not None and f.verdict.label == "higher" and "higher (worse) by 0.810" in f.sentence
    # change the record and the words change
    e = ev(record("baseline", [1.80, 1.82, 1.78]), record("no_residual", [1.50, 1.52, 1.51]))
    assert "lower (better)" in evidence.versus(e, "no_residual").sentence


def test_failed_seeds_are_reported_not_averaged() -> None:
    e = ev(record("baseline", [1.80, 1.82, 1.78]), record("post_ln", [None, None, None]))
    f = evidence.versus(e, "post_ln")
    assert f is not None and f.verdict is None and "did not finish training" in f.sentence


def test_bigram_reference_and_missing_variants() -> None:
    e = ev(record("baseline", [1.80, 1.82, 1.78]))
    f = evidence.beats_bigram(e)
    assert f is not None and "0.70 nats below the bigram" in f.sentence
    answer = answers.q3(e)
    assert answer.missing == ["shared_layers", "narrow_separate"] and answer.findings == []
    assert evidence.beats_ngram(e) is None  # a record without the n-gram reference


@pytest.mark.parametrize(
    ("ngram", "says"),
    [
        (1.85, "0.050 nats below it: it does better than counting the last 5 tokens"),
        (1.70, "0.100 nats *above* it: counting the last 5 tokens does better"),
        (1.81, "no clear difference from counting the last 5 tokens"),
    ],
)
def test_the_count_ngram_reference_is_read_with_the_seed_spread(ngram: float, says: str) -> None:
    base = record("baseline", [1.80, 1.82, 1.78])
    base.references |= {"ngram_order": 6, "ngram_loss": 9.9}
    assert evidence.beats_ngram(ev(base)) is None  # no curve to read it on the same positions
    # the first five positions (under five tokens of context for the model) are left out of both
    for seed in base.seeds:
        seed.loss_by_position = [5.0] * 5 + [seed.val_loss] * 11
    base.references["ngram_loss_by_position"] = [0.0] * 5 + [ngram] * 11
    f = evidence.beats_ngram(ev(base))
    assert f is not None and says in f.sentence and "Kneser-Ney 6-gram" in f.sentence
    assert "on window positions 5–15, where both have at least 5 tokens of context" in f.sentence
    assert f.what == "val loss, baseline vs count 6-gram"


def test_load_evidence_skips_old_records(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "record.json").write_text(json.dumps({"name": "old", "final": {}}))
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "record.json").write_text(
        json.dumps(record("baseline", [1.8, 1.9]).to_json())
    )
    e = evidence.load_evidence(tmp_path)
    assert list(e.records) == ["baseline"] and e.recall is None
    assert e.records["baseline"].spread["val_loss"].n == 2


def test_load_evidence_skips_a_record_of_another_spec(tmp_path: Path) -> None:
    """The page answers from the spec's runs only, as the results table does: a record written at
    another budget is set aside like an older schema (one without a config cannot be checked)."""
    import dataclasses

    from training.suite import RunKey, read_suite

    suite = read_suite(evidence.SUITE_SPEC)
    run = suite.run_config(RunKey("baseline", "lr=0.003", 0))
    for budget, kept in ((run.train.max_steps, True), (run.train.max_steps + 1, False)):
        r = record("baseline", [1.8, 1.9])
        r.recipe = {"selection": "holdout_loss", "chosen": "lr=0.003", "grid": []}
        train = dataclasses.replace(run.train, max_steps=budget)
        r.config = dataclasses.replace(run, train=train).to_dict()
        (tmp_path / "baseline").mkdir(exist_ok=True)
        (tmp_path / "baseline" / "record.json").write_text(json.dumps(r.to_json()))
        e = evidence.load_evidence(tmp_path)
        assert ("baseline" in e.records) == kept and ("baseline" in e.old) == (not kept)


def test_loss_at_equal_wall_clock_reads_the_curve_at_the_matching_step() -> None:
    base = record("baseline", [1.8, 1.8])
    base.steps = 40
    base.curve[:] = [{"step": 10, "val_loss": 3.0}, {"step": 30, "val_loss": 2.0}]
    assert equal_time.loss_at_step(base, 20) == 2.5
    assert equal_time.loss_at_step(base, 5) is None and equal_time.loss_at_step(base, 99) is None
    lstm = record("lstm", [2.2, 2.3])
    lstm.final["val_loss"] = 2.2
    lstm.steps = 40
    lstm.curve[:] = [{"step": 20, "val_loss": 2.4}, {"step": 40, "val_loss": 2.2}]
    assert equal_time.equal_wall_clock(ev(base, lstm)) is None  # no side-by-side timing: no claim
    lstm.speed = {"seconds_per_step": {"lstm": 0.05, "baseline": 0.1}, "device": "cpu:test"}
    f = equal_time.equal_wall_clock(ev(base, lstm))
    # 40 LSTM steps of 50 ms = 20 baseline steps of 100 ms, where the curve reads 2.5
    assert f is not None and "the baseline gets through about 20," in f.sentence
    assert "had reached 2.500" in f.sentence and "an LSTM step takes 50 ms" in f.sentence
    assert (
        "on the validation split, against the LSTM's 2.200 at its step 40. One seed" in f.sentence
    )
    base.config["train"] = {"eval_max_tokens": 16384}
    assert (
        "the first 16,384 validation characters"
        in equal_time.equal_wall_clock(ev(base, lstm)).sentence
    )
    # with a cap, the last evaluation covers the whole split: both sides are read on the capped
    # slice, the LSTM at its last evaluation there, never its whole-split final against a slice
    lstm.config["train"] = {"eval_max_tokens": 16384}
    lstm.curve[:] = [
        {"step": 20, "val_loss": 2.4, "val_tokens": 16384},
        {"step": 40, "val_loss": 2.2, "val_tokens": 111539},
    ]
    f = equal_time.equal_wall_clock(ev(base, lstm))
    assert (
        "against the LSTM's 2.400 at its step 20 (its last evaluation on those characters; "
        in f.sentence
    )
    assert "its final loss on the whole split is 2.200)" in f.sentence
    assert f.a.mean == 2.4
    base.curve.append({"step": 40, "val_loss": 1.5, "val_tokens": 111539})  # whole split
    base.curve[0]["val_tokens"] = base.curve[1]["val_tokens"] = 16384
    assert equal_time.loss_at_step(base, 35) is None  # never across the two slices
    # an LSTM slower per step than the baseline: the baseline's whole run fits in its time
    lstm.speed["seconds_per_step"] = {"lstm": 0.2, "baseline": 0.1}
    base.final["val_loss"] = 1.9
    f = equal_time.equal_wall_clock(ev(base, lstm))
    assert "whole 40-step run fits" in f.sentence and "ends at 1.900" in f.sentence
    assert "decaying" not in f.sentence


def test_direction_follows_the_metric() -> None:
    """Context gain and accuracy are better when higher: the words must say so."""
    a, b = record("lstm", [1.8, 1.8, 1.8]), record("baseline", [1.8, 1.8, 1.8])
    a.spread["context_gain"] = Spread.of([0.5, 0.51, 0.49])
    b.spread["context_gain"] = Spread.of([1.3, 1.31, 1.29])
    f = evidence.versus(ev(a, b), "lstm", metric="context_gain", unit="nats", better="higher")
    assert "lower (worse)" in f.sentence and f.standing == "worse"
    f = evidence.versus(ev(a, b), "lstm", metric="context_gain", better="neither")
    assert "lower by" in f.sentence and "(worse)" not in f.sentence and f.standing == "unknown"


def test_headline_groups_variants_by_verdict() -> None:
    e = ev(
        record("baseline", [1.80, 1.82, 1.78]),
        record("no_residual", [2.60, 2.62, 2.61]),
        record("cosine", [1.81, 1.79, 1.84]),
        record("post_ln", [None, None, None]),
    )
    text = evidence.headline([evidence.versus(e, n) for n in ("no_residual", "cosine", "post_ln")])
    assert text == (
        "On val loss, clearly worse than `baseline`: `no_residual`; no clear difference from "
        "`baseline`: `cosine`; no verdict (failed runs or too few seeds): `post_ln`."
    )
    assert evidence.headline([]) == ""


def test_variants_per_question_come_from_the_suite_spec() -> None:
    q = evidence.suite_questions()
    assert q["Q3"] == ("shared_layers", "narrow_separate") and "lstm" in q["Q1"]
    assert evidence.needed("Q4")[0] == "baseline" and "no_residual" in evidence.needed("Q4")
    assert set(evidence.changing("attn_score")) == {"dot_unscaled", "cosine", "additive"}
    assert evidence.changing("residual") == ("no_residual",)
    fams = list(evidence.d_head_families().values())
    assert "heads4_dhead8" in fams[0] and "heads16_dhead8" in fams[1]
    assert "heads4_dhead8" not in fams[1] and all(f[0] == "baseline" for f in fams)


def test_recipe_note_names_failed_grid_points() -> None:
    from training.suite_record import GridRun

    r = record("post_ln", [2.0, 2.1])
    r.recipe["chosen"] = "lr=0.001"
    r.recipe["grid"] = [
        GridRun("lr=0.001", 0, "completed", 2.0, 2.0, 1.0),
        GridRun("lr=0.01", 0, "diverged", None, None, 1.0),
    ]
    note = recipe.recipe_note(ev(r), "post_ln")
    assert "recipe lr=0.001 chosen" in note and "lr=0.01 did not complete (diverged)" in note


def test_recall_record_is_read_or_refused() -> None:
    from curriculum.recall import read_recall, recall_findings
    from fixtures.curriculum import recall_record

    e = evidence.Evidence({}, recall_record())
    rec = read_recall(e)
    assert rec is not None and rec.bins[-1] == (4, 8) and rec.roles is not None
    assert rec.models["lstm"].by_distance[-1].mean == 0.1
    assert len(recall_findings(e)) == 5  # overall, nearest, farthest, 1 vs 2 layers, the head
    assert "at distance 1," in recall_findings(e)[1].sentence
    thin = recall_record()
    for m in thin["models"].values():  # one test query at distance 1: not a basis for a sentence
        m["seeds"] = [{"test": {"count_by_distance": [1, 50, 60]}}] * 3
    near = recall_findings(evidence.Evidence({}, thin))[1].sentence
    assert "distances 2–3" in near and "distance 1," not in near
    assert read_recall(evidence.Evidence({}, {"bins": "x"})) is None
    assert recall_findings(evidence.Evidence({}, None)) == []


def test_recall_example_labels_keys_values_and_filler() -> None:
    from curriculum.recall import recall_example
    from training.recall import RecallTask

    task = RecallTask(n_pairs=4, max_gap=8)
    ids, labels = recall_example(task)
    assert len(ids) == len(labels) == task.n_ctx
    # 4 pairs and 4 queries; the input stops before the last query's value
    assert sum(lab.startswith("k") for lab in labels) == 8
    assert sum(lab.startswith("v") for lab in labels) == 7
    assert all(
        lab == "·" for lab, t in zip(labels, ids, strict=True) if t >= task.vocab - task.n_filler
    )


def test_an_exact_tie_is_no_difference() -> None:
    """Both at 1.0 on every seed (the reversal task's second half): no direction to state."""
    one = Spread(1.0, 0.0, 3)
    f = evidence.compare("accuracy", "a", one, "b", one, unit="", better="neither")
    assert f.verdict.label == "no clear difference" and "higher" not in f.sentence
    assert f.sentence.endswith("no difference (equal means)")


def test_a_clear_verdict_says_the_bar_it_clears_and_flags_a_narrow_one() -> None:
    a, b = record("a", [1.60, 1.61, 1.59]), record("baseline", [1.50, 1.51, 1.49])
    f = evidence.versus(ev(a, b), "a")
    assert (
        f is not None
        and "higher (worse) by 0.100, beyond twice the larger seed std (0.020)" in (f.sentence)
    )
    assert "marginal" not in f.sentence and "×" not in f.sentence
    narrow = record("n", [1.525, 1.535, 1.515])  # Δ 0.025 against a std of 0.010
    assert "; marginal: under three times it" in evidence.versus(ev(narrow, b), "n").sentence


def test_the_headline_and_the_detail_call_a_narrow_difference_the_same() -> None:
    """One rule, one word: a difference under three times the seed std is "marginal" in the
    finding's sentence and in the headline alike; widen it in the record and both drop the word."""
    base = record("baseline", [1.50, 1.51, 1.49])
    narrow = record("heads16_dhead8", [1.525, 1.535, 1.515])  # Δ 0.025 against a std of 0.010
    f = evidence.versus(ev(narrow, base), "heads16_dhead8")
    text = evidence.headline([f])
    assert f.marginal and "marginal" in f.sentence
    assert "clearly worse" not in text
    assert "worse than `baseline`, marginal" in text and "`heads16_dhead8`" in text
    narrow.seeds[0].val_loss = 1.555  # the record edited: Δ 0.035, std 0.010 -> 3.5 std
    narrow.spread["val_loss"] = Spread.of([1.555, 1.545, 1.535])
    f = evidence.versus(ev(narrow, base), "heads16_dhead8")
    assert not f.marginal and "marginal" not in f.sentence
    assert evidence.headline([f]).startswith("On val loss, clearly worse than `baseline`")


def test_rates_that_tie_at_the_unigram_are_said_to_fail_alike(tmp_path: Path) -> None:
    """A search whose rates all land within the seed spread of each other, at the unigram's loss,
    chose nothing: the note says so; a record where one rate pulls ahead says it was chosen."""
    from training.suite_record import GridRun

    r = record("no_residual", [3.346, 3.348, 3.344])  # the unigram (references): 3.3
    r.references["unigram_loss"] = 3.347
    r.spread["holdout_loss"] = Spread.of([3.287, 3.290, 3.285])
    r.recipe["chosen"] = "lr=0.003"
    r.recipe["grid"] = [
        GridRun(p, 0, "completed", h, 3.347, 1.0)
        for p, h in (("lr=0.001", 3.28834), ("lr=0.003", 3.28831), ("lr=0.01", 3.28839))
    ]
    write = tmp_path / "record.json"
    write.write_text(json.dumps(r.to_json()))
    note = recipe.recipe_note(ev(VariantRecord.from_json(json.loads(write.read_text()))), r.name)
    assert "every rate failed alike" in note and "won a tie" in note
    assert "3.346 ± 0.002 nats, is the count unigram's 3.347" in note
    assert "recipe lr=0.003 chosen" not in note
    data = json.loads(write.read_text())  # the copy edited: one rate clearly ahead, loss lower
    data["recipe"]["grid"][1]["holdout_loss"] = 1.6
    data["seeds"] = [
        dict(s, val_loss=v) for s, v in zip(data["seeds"], (1.6, 1.61, 1.59), strict=True)
    ]
    data["spread"]["val_loss"] = Spread.of([1.6, 1.61, 1.59]).__dict__
    note = recipe.recipe_note(ev(VariantRecord.from_json(data)), r.name)
    assert "recipe lr=0.003 chosen" in note
    assert "failed alike" not in note and "tie" not in note and "unigram" not in note


def test_the_equal_time_reading_names_the_hardware_it_holds_on(tmp_path: Path) -> None:
    """Timed on a CPU, the finding says the ranking may reverse on parallel hardware; the same
    record edited to a GPU timing drops the caveat."""
    base, lstm = record("baseline", [1.8, 1.8]), record("lstm", [2.2, 2.3])
    base.steps = lstm.steps = 40
    base.curve[:] = [{"step": 10, "val_loss": 3.0}, {"step": 30, "val_loss": 2.0}]
    lstm.curve[:] = [{"step": 20, "val_loss": 2.4}, {"step": 40, "val_loss": 2.2}]
    lstm.final["val_loss"] = 2.2
    lstm.speed = {"seconds_per_step": {"lstm": 0.05, "baseline": 0.1}, "device": "cpu:x86_64"}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(lstm.to_json()))

    def sentence() -> str:
        copy = VariantRecord.from_json(json.loads(path.read_text()))
        return equal_time.equal_wall_clock(ev(base, copy)).sentence

    assert "That timing is a CPU's (cpu:x86_64)" in sentence()
    assert "sequential depth of O(1)" in sentence() and "may reverse" in sentence()
    data = json.loads(path.read_text())
    data["speed"]["device"] = "cuda:NVIDIA H100"
    path.write_text(json.dumps(data))
    assert "may reverse" not in sentence() and "the baseline gets through about 20," in sentence()


def test_the_methodology_warmup_reading_follows_the_verdict_rule(tmp_path: Path) -> None:
    """docs/methodology.md's sentence on the baseline's warmup probes is what the verdict rule says
    of its table row against the shipped record's seeds; a record copy with a tighter spread
    changes it."""
    import re

    from curriculum.warmup import warmup_reading

    root = Path(__file__).resolve().parents[1]
    readme = " ".join((root / "docs" / "methodology.md").read_text().split())
    row = re.search(
        r"\| baseline, 3e-3 \(its chosen lr\) \| ([\d.]+) \| ([\d.]+) .*?\| ([\d.]+) \|", readme
    )
    if row is None or not (root / "checkpoints" / "baseline" / "record.json").is_file():
        pytest.skip("the warmup table or the shipped baseline record is not here")
    probes = dict(zip((50, 200, 800), map(float, row.groups()), strict=True))
    copy = tmp_path / "record.json"
    copy.write_text((root / "checkpoints" / "baseline" / "record.json").read_text())
    seeds = VariantRecord.from_json(json.loads(copy.read_text())).spread["holdout_loss"]
    said = warmup_reading("baseline", probes, 200, seeds)
    assert said in readme and "cannot be told apart" in said
    data = json.loads(copy.read_text())
    data["spread"]["holdout_loss"]["std"] = 0.001  # the copy edited: seeds that agree closely
    seeds = VariantRecord.from_json(data).spread["holdout_loss"]
    said = warmup_reading("baseline", probes, 200, seeds)
    assert said.startswith("For the baseline, 50 steps is worse and 800 steps is worse than")
    assert said not in readme
