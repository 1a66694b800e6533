"""The interpretability views, described once: label, help, what a model needs for each, its
time budget and the function that computes it. The app's pages, `bench/bench_interp.py` and the
tests iterate over `VIEWS` instead of keeping their own lists.

A view's `compute` takes the model and one `ViewInputs` and returns the typed result of its
`interp` function; figures are built from that result by `viz/interp_*`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from jaxtyping import Int
from torch import Tensor

from interp.attribution import Target, direct_logit_attribution
from interp.circuits import head_circuits
from interp.detectors import detect_heads
from interp.layout import stream_layout
from interp.logit_lens import logit_lens
from interp.patching import (
    Direction,
    PatchingSetup,
    Progress,
    patch_heads,
    patch_mlps,
    patch_resid,
)
from interp.stream_health import stream_health
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

# a residual stream; a clean/corrupted pair of prompts; MLPs in the blocks
Need = Literal["residual", "pair", "mlp"]

VIEW_BUDGET_S = 0.300  # any one view for a 128-token prompt on a shipped model
PATCHING_BUDGET_S = 3.0  # patching every head of every layer (with a progress bar)


@dataclass(frozen=True)
class ViewInputs:
    """What a view may read; each view uses the fields it needs."""

    tokens: Int[Tensor, " pos"]  # the prompt
    target: Target | None = None  # attribution: a token, or one per position; None = next token
    versus: Target | None = None  # attribution: subtracted token, for a logit difference
    setup: PatchingSetup | None = None  # patching: the prompt pair and its answers
    direction: Direction = "denoising"  # patching
    layer: int = 0  # circuits: the head shown
    head: int = 0
    switches: Switches = NO_SWITCHES
    progress: Progress | None = field(default=None, compare=False)  # patching's progress bar


@dataclass(frozen=True)
class InterpView:
    key: str
    label: str
    help: str
    needs: tuple[Need, ...]
    budget_s: float
    compute: Callable[[Transformer, ViewInputs], object]

    def unavailable(self, model: object, switches: Switches = NO_SWITCHES) -> str | None:
        """Why this view cannot be shown for `model`, or None when it can."""
        if not isinstance(model, Transformer):
            return f"{type(model).__name__} has no attention heads or residual stream"
        if "residual" in self.needs and not stream_layout(model, switches).residual:
            return "no residual stream: the logits are not a sum of what components wrote"
        if "mlp" in self.needs and not model.cfg.mlp:
            return "this model has no MLP (an attention-only transformer)"
        return None


def _next_tokens(model: Transformer, tokens: Tensor, switches: Switches) -> Tensor:
    """The true next token at every position; the last has none, so there the model's own top
    prediction (what a reader of the last position asks about: why this token?)."""
    tokens = tokens.reshape(-1)
    with torch.no_grad():
        predicted = model(tokens[None], switches=switches)[0, -1].argmax()
    return torch.cat([tokens[1:], predicted[None].to(tokens.device)])


def _setup(inputs: ViewInputs) -> PatchingSetup:
    if inputs.setup is None:
        raise ValueError("patching needs ViewInputs.setup: a clean and a corrupted prompt")
    return inputs.setup


VIEWS: tuple[InterpView, ...] = (
    InterpView(
        "heads",
        "Head types",
        "Share of each head's attention on previous-token, duplicate, induction, first-token, "
        "local and (unmasked models) future cells, on repeated random tokens.",
        (),
        VIEW_BUDGET_S,
        lambda m, i: detect_heads(m, switches=i.switches),
    ),
    InterpView(
        "logit_lens",
        "Logit lens",
        "The stream after each layer read through the final LayerNorm and unembedding: rank and "
        "probability of the true next token.",
        (),
        VIEW_BUDGET_S,
        lambda m, i: logit_lens(m, i.tokens, switches=i.switches),
    ),
    InterpView(
        "attribution",
        "Direct logit attribution",
        "What each head, MLP and embedding writes into a token's logit, per position; exact "
        "with the LayerNorm scales frozen at this prompt.",
        ("residual",),
        VIEW_BUDGET_S,
        lambda m, i: direct_logit_attribution(
            m,
            i.tokens,
            _next_tokens(m, i.tokens, i.switches) if i.target is None else i.target,
            i.versus,
            switches=i.switches,
        ),
    ),
    InterpView(
        "patch_heads",
        "Patching: heads",
        "Each head's output copied between a clean and a corrupted prompt: recovered logit "
        "difference, layer x head.",
        ("pair",),
        PATCHING_BUDGET_S,
        lambda m, i: patch_heads(
            m, _setup(i), i.direction, progress=i.progress, switches=i.switches
        ),
    ),
    InterpView(
        "patch_resid",
        "Patching: residual stream",
        "The stream entering each block at one position copied between the prompts: layer x "
        "position.",
        ("pair",),
        PATCHING_BUDGET_S,
        lambda m, i: patch_resid(
            m, _setup(i), i.direction, progress=i.progress, switches=i.switches
        ),
    ),
    InterpView(
        "patch_mlps",
        "Patching: MLPs",
        "Each MLP's output at one position copied between the prompts: layer x position.",
        ("pair", "mlp"),
        PATCHING_BUDGET_S,
        lambda m, i: patch_mlps(
            m, _setup(i), i.direction, progress=i.progress, switches=i.switches
        ),
    ),
    InterpView(
        "circuits",
        "Weight circuits",
        "A head's full QK and OV circuits (small vocabularies), positional QK, and layer 0's "
        "scores split into token and position terms.",
        (),
        VIEW_BUDGET_S,
        lambda m, i: head_circuits(m, i.layer, i.head, i.tokens, switches=i.switches),
    ),
    InterpView(
        "stream_health",
        "Stream health",
        "Mean pairwise cosine and effective rank of the positions per layer (rank collapse); "
        "who writes the residual stream.",
        (),
        VIEW_BUDGET_S,
        lambda m, i: stream_health(m, i.tokens, switches=i.switches),
    ),
)
VIEWS_BY_KEY = {v.key: v for v in VIEWS}
