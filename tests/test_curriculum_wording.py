"""The Curriculum's sentences that depend on the records say what the records show: each test edits
a fixture copy of a record (never a shipped one) and sees the sentence change or disappear."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from analysis import curriculum as cur
from curriculum.evidence import load_evidence
from fixtures.app_checkpoints import TINY
from fixtures.curriculum import BASE, build, edit, make_root, rewrite
from model.config import ModelConfig
from training.suite_record import Spread
from views import curriculum_live_text as says


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_q4_reads_the_gradient_by_step_and_the_collapse_from_the_records(tmp_path: Path) -> None:
    """The gradient's story is told step by step from initialisation, and the limits say what the
    recorded cosine shows; records edited to a healthy stream take both sentences back."""
    root = make_root(tmp_path)
    cfg = ModelConfig(vocab_size=20, **{**TINY, "n_ctx": 16, "residual": False})
    uniform = sum(math.log(i + 1) for i in range(16)) / 16

    def collapsed(d: dict) -> None:
        d["model_config"] = cfg.to_dict()
        d["fixed_batch"] = {"tokens": [[(3 * j + i) % 20 for i in range(17)] for j in range(4)]}
        d["probe"]["token_cosine"] = [0.2, 0.9996, 1.0]
        for c in d["curve"]:
            c["grad_norm_by_layer"] = {"embed": 0.1, "blocks.0": 1e-7, "blocks.1": 0.05}
            c["attn_entropy"] = [1.0, uniform]

    rewrite(root, "no_residual", collapsed)
    s = build(root, "Q4")
    note = next(n for n in s.notes if "by step" in n)
    line = next(x for x in note.splitlines() if "**no_residual**" in x)
    assert "at initialisation, 2e-06 at step 50" in line and "undiminished" in line
    assert "by step 50 it has vanished" in line and "collapsed by then" in line
    assert "median" not in note
    assert s.limits.startswith("Rank collapse needs no depth here")
    assert "(mean token cosine 1.000) after block 0 of 4" in s.limits
    assert "hinted at" not in s.limits and "own best learning rate" in s.limits
    assert "step 0 is its own initial weights" in s.charts[1].caption

    def healthy(d: dict) -> None:
        d["probe"]["token_cosine"] = [0.2, 0.5, 0.6]
        for c in d["curve"]:
            c["grad_norm_by_layer"]["blocks.0"] = 0.04
            c["attn_entropy"] = [1.0, 0.5]

    rewrite(root, "no_residual", healthy)
    s = build(root, "Q4")
    line = next(x for x in s.notes[-1].splitlines() if "**no_residual**" in x)
    assert "vanished" not in line and "collapsed" not in line
    assert "never falls far below the last's" in line
    assert "can only be hinted at" in s.limits and "Rank collapse needs" not in s.limits


def test_the_saturation_sentence_says_what_the_unscaled_record_shows(tmp_path: Path) -> None:
    """A saturated softmax slows learning; whether the unscaled model learned anyway is read from
    its record, and an edited record that stays at the bigram is said to have not."""
    from curriculum.saturation import unscaled_outcome

    root = make_root(tmp_path)
    spread = cur.dot_product_spread((4, 64), n_queries=16)
    text = says.spread_text(spread, 32, unscaled_outcome(load_evidence(root)))
    assert "cannot be learned" not in text and "slows down" in text
    # the fixture: max logits 40 and 55 at both evaluations, loss 1.71 against a bigram of 2.5
    assert "peaks at 55 (layer 1, step 50) and ends at 55" in text
    assert "0.210 above the baseline's 1.500 ± 0.010" in text
    assert "0.79 below the count bigram's 2.500: slowed, not stopped" in text

    def stuck(d: dict) -> None:
        d["spread"]["val_loss"] = Spread.of([2.49, 2.51, 2.50]).__dict__

    rewrite(root, "dot_unscaled", stuck)
    text = says.spread_text(spread, 32, unscaled_outcome(load_evidence(root)))
    assert "not clearly below the count bigram's 2.500" in text and "not stopped" not in text
    assert "slows down" in says.spread_text(spread, 32, None)


def test_the_sinusoidal_verdict_names_the_position_scales_it_mixes_in(tmp_path: Path) -> None:
    """Measured from the weights beside the records: positions far smaller than the learned ones
    make the verdict possibly one of scale; the same config edited to the learned ratio does not;
    an edited record changes the verdict the note repeats."""
    from fixtures.app_checkpoints import TEXT
    from model.build import build_model
    from model.checkpoint import save_checkpoint
    from model.tokenizers import CharTokenizer

    root = make_root(tmp_path)
    tok = CharTokenizer.train(TEXT)
    cfg = ModelConfig(
        vocab_size=tok.n_vocab, **{**TINY, "pos_encoding": "sinusoidal", "pos_scale": 1e-3}
    )
    torch.manual_seed(0)
    learned = cfg.replace(pos_encoding="learned", pos_scale=1.0)
    for name, c in (("sinusoidal", cfg), ("baseline", learned)):
        save_checkpoint(root / name, build_model(c), tok, {"name": name})  # replaces the folder
        edit(root, name, BASE)
    note = next(n for n in build(root, "Q1").notes if "**sinusoidal**" in n)
    assert "makes no clear difference from **baseline**, but its positions sit at 0.0" in note
    assert "may be about the positions' scale" in note

    from curriculum.positions import position_scale

    e = load_evidence(root)
    small, big = position_scale(e, "sinusoidal"), position_scale(e, "baseline")
    path = root / "sinusoidal" / "config.json"
    config = json.loads(path.read_text())
    config["pos_scale"] = 1e-3 * big.ratio / small.ratio  # the copy edited to the same scale
    path.write_text(json.dumps(config))
    edit(root, "sinusoidal", [1.9, 1.91, 1.89])
    note = next(n for n in build(root, "Q1").notes if "**sinusoidal**" in n)
    assert "is worse than **baseline** at a like scale" in note
    assert f"learned positions at {big.ratio:.2f} (shipped weights)" in note
    assert "may be about" not in note


def test_the_context_gain_is_judged_against_the_text_it_was_scored_on(tmp_path: Path) -> None:
    """The seeds share their validation windows, so the gain's verdict takes the text's standard
    error (measured beside the record) into the rule; where the lead is made comes from the
    records' loss by position."""
    from curriculum.context_gain import TEXT_ERROR

    root = make_root(tmp_path)

    def gain(values: list[float]):
        return lambda d: d["spread"].update(context_gain=Spread.of(values).__dict__)

    def finding() -> str:
        return next(f.sentence for f in build(root, "Q1").findings if "context gain" in f.what)

    rewrite(root, "lstm", gain([1.40, 1.41, 1.39]))  # +0.1 against seed stds of 0.01
    text = finding()
    assert "higher (better) by 0.100, beyond twice the larger seed std (0.020)" in text
    assert "not measured here (seeds only)" in text
    for name in ("baseline", "lstm"):
        (root / name / TEXT_ERROR).write_text(json.dumps({"context_gain_se": 0.06}))
    text = finding()
    assert (
        "no clear difference (Δ +0.100 is within twice the larger of the seed std and the " in text
    )
    assert "text's standard error, 0.120)" in text and "standard error of the gain, 0.060" in text
    rewrite(root, "lstm", gain([1.50, 1.51, 1.49]))
    assert "higher (better) by 0.200, beyond twice the larger of the seed std and the" in finding()
    # the fixture's curves are one shape for every model: no lead anywhere, fixed from the start
    assert "It is fixed by position 2" in finding() and "not a far-context result" in finding()

    def far_lead(d: dict) -> None:  # the LSTM pulls ahead only in the window's second half
        for s in d["seeds"]:
            s["loss_by_position"] = [
                v - (0.3 if p >= 8 else 0.0) for p, v in enumerate(s["loss_by_position"])
            ]

    rewrite(root, "lstm", far_lead)
    text = finding()
    assert "0.300 over 8–15" in text and "keeps growing until position 8" in text
    assert "not a far-context result" not in text


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"context_gain_se": "0.05"}', '{"context_gain_se": -1}', "{}"]
)
def test_a_malformed_text_error_is_no_measurement(tmp_path: Path, content: str) -> None:
    from curriculum.context_gain import TEXT_ERROR, read_text_error

    (tmp_path / TEXT_ERROR).write_text(content)
    assert read_text_error(tmp_path) is None
