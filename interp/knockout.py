"""How much each head matters to the prompt's loss: knock every head out in turn (its output z
zeroed, or replaced by its mean over positions) and read the change in mean next-token loss.
One number per head, the map a learner asks for first; the other switches stay as chosen."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from interp.layout import check_prompt
from model.switches import NO_SWITCHES, AblationMode, HeadAblation, Switches
from model.transformer import Transformer


@dataclass(frozen=True)
class KnockoutMap:
    """Mean next-token loss (nats/token) with each head knocked out, and without."""

    base_loss: float  # under the switches as given
    losses: Float[Tensor, "layer head"]  # with that head knocked out as well
    mode: AblationMode

    @property
    def delta(self) -> Float[Tensor, "layer head"]:
        """Loss change per head: positive where the prompt needs the head."""
        return self.losses - self.base_loss


def _loss(model: Transformer, tokens: Tensor, switches: Switches) -> float:
    with torch.no_grad():
        logits = model(tokens[None], switches=switches)[0, :-1]
    return float(F.cross_entropy(logits.float(), tokens[1:]))


def knockout_losses(
    model: Transformer,
    tokens: Int[Tensor, " pos"],
    *,
    mode: AblationMode = "zero",
    switches: Switches = NO_SWITCHES,
) -> KnockoutMap:
    """One forward pass per head (a head already knocked out by `switches` keeps the base loss)."""
    tokens = check_prompt(model, tokens)
    if tokens.shape[0] < 2:
        raise ValueError("a loss needs at least two tokens: one to read, one to predict")
    L, H = model.cfg.n_layers, model.cfg.n_heads
    base = _loss(model, tokens, switches)
    done = {(a.layer, a.head) for a in switches.head_ablations}
    losses = torch.full((L, H), base)
    for layer in range(L):
        for head in range(H):
            if (layer, head) in done:
                continue
            knocked = switches.head_ablations + (HeadAblation(layer, head, mode),)
            losses[layer, head] = _loss(model, tokens, replace(switches, head_ablations=knocked))
    return KnockoutMap(base, losses, mode)
