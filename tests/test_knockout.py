"""The head-knockout map: each cell is the prompt's loss with that head knocked out, read off
the model itself under the sidebar's switches."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fixtures.app_checkpoints import TEXT, TINY
from interp.knockout import knockout_losses
from model.build import build_model
from model.config import ModelConfig
from model.switches import HeadAblation, Switches
from model.tokenizers import CharTokenizer


@pytest.fixture(scope="module")
def case():
    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=tok.n_vocab, **TINY)).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(12.0)
    return model, torch.tensor(tok.encode("the cat sat on the mat. the cat sat"))


def _loss(model, ids, switches):
    with torch.no_grad():
        return float(F.cross_entropy(model(ids[None], switches=switches)[0, :-1], ids[1:]))


def test_each_cell_is_the_loss_with_that_head_knocked_out(case):
    model, ids = case
    k = knockout_losses(model, ids)
    assert k.losses.shape == (2, 2) and math.isclose(k.base_loss, _loss(model, ids, Switches()))
    alone = Switches(head_ablations=(HeadAblation(1, 0, "zero"),))
    assert math.isclose(float(k.losses[1, 0]), _loss(model, ids, alone), rel_tol=1e-6)
    assert float(k.delta.abs().max()) > 0


def test_the_sidebars_switches_are_kept(case):
    model, ids = case
    switches = Switches(causal_mask=False, head_ablations=(HeadAblation(0, 1, "mean"),))
    k = knockout_losses(model, ids, switches=switches)
    assert math.isclose(k.base_loss, _loss(model, ids, switches))
    assert float(k.delta[0, 1]) == 0.0  # already knocked out
    both = Switches(
        causal_mask=False, head_ablations=(HeadAblation(0, 1, "mean"), HeadAblation(1, 1, "zero"))
    )
    assert math.isclose(float(k.losses[1, 1]), _loss(model, ids, both), rel_tol=1e-6)
