"""Patching one site the user picks equals the same cell of the swept maps, for any hook with a
position axis; the Patching view reports it."""

from __future__ import annotations

import warnings

import pytest
import torch

from fixtures.app_checkpoints import TINY
from interp import PatchingGapWarning, patch_mlps, patch_resid, setup_from_predictions
from interp.patch_site import patch_site, patchable_hooks
from model.build import build_model
from model.config import ModelConfig
from model.hook_names import hook_name


def _model(**changes):
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=20, **{**TINY, **changes}))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(12.0)
    return model.eval()


@pytest.mark.parametrize("direction", ["denoising", "noising"])
def test_one_site_equals_its_cell_of_the_swept_maps(direction):
    model = _model()
    clean = torch.arange(10) % 20
    corrupted = clean.clone()
    corrupted[4] = 17
    setup = setup_from_predictions(model, clean, corrupted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PatchingGapWarning)
        resid = patch_resid(model, setup, direction).recovered
        mlps = patch_mlps(model, setup, direction).recovered
        for layer, pos in ((0, 4), (1, 6), (1, 9)):
            one = patch_site(model, setup, hook_name("resid_pre", layer), pos, direction)
            assert one.recovered == pytest.approx(float(resid[layer, pos]), abs=1e-5)
            one = patch_site(model, setup, hook_name("mlp_out", layer), pos, direction)
            assert one.recovered == pytest.approx(float(mlps[layer, pos]), abs=1e-5)


def test_the_hooks_offered_follow_the_model():
    assert hook_name("mlp_out", 0) in patchable_hooks(_model())
    attention_only = patchable_hooks(_model(mlp=False))
    assert hook_name("mlp_out", 0) not in attention_only and hook_name("z", 1) in attention_only
    with pytest.raises(ValueError, match="position axis"):
        model = _model()
        setup = setup_from_predictions(model, torch.arange(5), torch.arange(5).flip(0))
        patch_site(model, setup, hook_name("pattern", 0), 1)
