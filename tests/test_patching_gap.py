"""Patching's denominator: a small or reversed gap between the clean and corrupted runs is flagged
in the API (`PatchingResult.gap`, a `PatchingGapWarning`) and in the view, and the suggested
corruption flips the answer of every shipped model that any one-token edit can flip."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from analysis.catalog import ENV_ROOT, checkpoint_root, list_variants
from analysis.prompts import examples_for, prepare_prompt
from fixtures.app_checkpoints import TINY
from interp import (
    SMALL_GAP,
    MetricGap,
    PatchingGapWarning,
    PatchingResult,
    PatchingSetup,
    patch_heads,
    setup_from_predictions,
    suggest_corruption,
)
from model.build import build_model
from model.checkpoint import CheckpointError, load_checkpoint
from model.config import ModelConfig
from ui.state import STRICT_ENV
from views.interp_lab import Patching
from views.interp_patching import gap_callout

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.mark.parametrize(
    "clean, corrupted, status",
    [(3.0, -2.0, "ok"), (3.57, 3.78, "reversed"), (1.0, 1.0, "reversed"), (1.0, 0.9, "small")],
)
def test_metric_gap_names_small_and_reversed_gaps(clean, corrupted, status):
    gap = MetricGap(clean, corrupted, flipped=True)
    assert gap.status == status
    assert (gap.message() is None) == (status == "ok")
    if status == "reversed":
        assert "flipped" in gap.message() and "read none of them" in gap.message()
    if status == "small":
        assert f"{0.05 / 0.1:.2f} of the answer" in gap.message()


def test_an_answer_that_did_not_flip_is_said_even_with_a_wide_gap():
    assert "still predicts the clean answer" in MetricGap(5.0, 1.0, flipped=False).message()


def _tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=20, **TINY))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(12.0)
    return model.eval()


def test_a_reversed_gap_warns_and_is_on_the_result():
    model = _tiny()
    clean = torch.arange(12) % 20
    corrupted = clean.clone()
    corrupted[3] = 17
    with torch.no_grad():
        change = model(corrupted[None])[0, -1] - model(clean[None])[0, -1]
    # answer: the token the corruption favours most; wrong: the one it favours least, so the
    # corrupted run's logit difference exceeds the clean run's
    setup = PatchingSetup(clean, corrupted, int(change.argmax()), int(change.argmin()))
    with pytest.warns(PatchingGapWarning, match="not below the clean run's"):
        result = patch_heads(model, setup)
    assert result.gap.status == "reversed" and result.gap.gap < 0


def test_a_wide_gap_does_not_warn():
    model = _tiny()
    clean = torch.arange(12) % 20
    setup = setup_from_predictions(model, clean, suggest_corruption(model, clean))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PatchingGapWarning)
        result = patch_heads(model, setup)
    assert setup.flipped and result.gap.status == "ok"


def test_the_view_shows_a_reversed_gap_as_a_warning():
    heads = PatchingResult("denoising", torch.zeros(2, 2), "head", "z", 3.574, 3.781, False)
    setup = PatchingSetup(torch.arange(4), torch.arange(4).flip(0), 1, 2)
    callout = gap_callout(Patching(setup, heads, heads, heads))
    assert callout is not None and callout.level == "warning"
    assert "signs are flipped" in callout.text


def test_an_exported_patching_image_names_its_metric():
    from model.switches import Switches
    from model.tokenizers import CharTokenizer
    from views.exports import ExportContext
    from views.interp_lab import InterpLab
    from views.registry import VIEW_BY_NAME
    from views.view_input import ViewInput

    tok = CharTokenizer.train("abcdefghij klmnop")
    model = _tiny_for(tok.n_vocab)
    ids = tuple(tok.encode("abc defg hij"))
    lab = InterpLab(model, tok, ids, Switches())
    from analysis.capture import capture

    cap = capture(model, tok, ids, Switches())
    ctx = ExportContext("tiny", model.cfg, "abc defg hij", Switches())
    (svg,) = [f for f in VIEW_BY_NAME["Patching"].exports if f.suffix == "svg"]
    text = svg.data(ctx, cap, ViewInput(lab=lab)).decode()
    assert "metric: logit(" in text and "corrupted prompt: “" in text and "prompt: “abc" in text


def _tiny_for(vocab: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=vocab, **TINY))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(12.0)
    return model.eval()


def _shipped() -> list:
    out = []
    for v in list_variants(checkpoint_root()):
        try:
            ckpt = load_checkpoint(v.path)
        except (CheckpointError, OSError):
            continue
        if ckpt.config.architecture == "transformer":
            out.append(ckpt)
    return out


@pytest.mark.slow
def test_the_suggested_corruption_flips_every_shipped_model_that_can_flip():
    ckpts = _shipped()
    if not ckpts:
        pytest.skip(f"no shipped transformer checkpoint in {checkpoint_root()}")
    torch.set_num_threads(1)
    for ckpt in ckpts:
        # The built-in examples are Shakespeare: a model trained on it must flip on the first
        # one, the prompt the app opens with. A model trained on other text (the LAMBADA models
        # read that example with a 0.04-logit margin) must flip on one of them.
        examples = list(examples_for(ckpt.tokenizer, ckpt.config.n_ctx).values())
        if ckpt.meta.get("corpus") == "shakespeare":
            examples = examples[:1]
        tried = []
        for text in examples:
            clean = torch.tensor(prepare_prompt(text, ckpt.tokenizer, ckpt.config.n_ctx).ids)
            setup = setup_from_predictions(ckpt.model, clean, suggest_corruption(ckpt.model, clean))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PatchingGapWarning)
                gap = patch_heads(ckpt.model, setup).gap
            tried.append(gap)
            if ckpt.config.residual and setup.flipped and gap.gap >= SMALL_GAP:
                break
            # each block replaces the stream: the last position forgets its context
            if not ckpt.config.residual and (setup.flipped or gap.status != "ok"):
                break
        else:
            pytest.fail(f"{ckpt.name}: no example prompt gives a usable gap: {tried}")


@pytest.mark.slow
def test_the_patching_view_opens_on_a_corruption_that_flips_the_answer(tmp_path, monkeypatch):
    baseline = checkpoint_root() / "baseline"
    if not (baseline / "config.json").is_file():
        pytest.skip(f"no shipped baseline in {checkpoint_root()}")
    shutil.copytree(baseline, tmp_path / "baseline")
    monkeypatch.setenv(ENV_ROOT, str(tmp_path))
    monkeypatch.setenv(STRICT_ENV, "1")
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.session_state["view"] = "Patching"
    at.run()
    assert not at.exception, at.exception
    text = " ".join(c.value for c in at.caption)
    clean, corrupted = map(
        float, re.search(r"clean run (\S+), corrupted run (\S+) ", text).groups()
    )
    assert clean - corrupted >= SMALL_GAP
    assert not [w.value for w in at.warning if "answer" in w.value]
