"""The model behind a capture, for the Explore views that compute more than a `Capture` holds:
the interpretability views (`interp/`).

A view asks for one `Request` (small and hashable, so it can key a cache); `InterpLab` computes
it from the model, the prompt and the switches, through the cache the page puts in front
(`ui.controls`: `st.cache_data`), or directly in the benchmark and the tests. `InterpChoice` holds
what the user picked in the views' controls. `Matrix` is what a view exports: a labelled 2-D
array (CSV, PNG, SVG), every one of them in the NPZ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from interp import (
    VIEWS_BY_KEY,
    DecompositionError,
    PatchingResult,
    PatchingSetup,
    detect_heads,
    direct_logit_attribution,
    head_circuits,
    logit_lens,
    patch_heads,
    patch_mlps,
    patch_resid,
    setup_from_predictions,
    stream_health,
    suggest_corruption,
)
from interp.knockout import knockout_losses
from interp.patch_site import patch_site
from interp.patching import Direction, Progress
from interp.token_walk import token_walk
from model.switches import Switches
from views.items import Note

if TYPE_CHECKING:
    from model.build import LanguageModel
    from model.tokenizers import Tokenizer

Kind = Literal[
    "heads",
    "logit_lens",
    "attribution",
    "patching",
    "corruption",
    "circuits",
    "stream_health",
    "walk",
    "knockout",
    "patch_site",
]
# the `interp.VIEWS` entry whose `unavailable` rule and budget each kind follows
INTERP_KEY: dict[Kind, str] = {
    "heads": "heads",
    "logit_lens": "logit_lens",
    "attribution": "attribution",
    "patching": "patch_heads",
    "corruption": "patch_heads",
    "walk": "logit_lens",
    "knockout": "heads",
    "patch_site": "patch_heads",
    "circuits": "circuits",
    "stream_health": "stream_health",
}


@dataclass(frozen=True)
class Request:
    """One computation a view asks for."""

    kind: Kind
    layer: int = 0  # circuits: the head shown
    head: int = 0
    target: int | None = None  # attribution: the token whose logit; None = the true next token
    versus: int | None = None  # attribution: minus this token's logit
    corrupted: tuple[int, ...] = ()  # patching: the corrupted prompt's ids
    direction: Direction = "denoising"  # patching
    hook: str = ""  # patch_site: the hook patched (its position: `target`)


@dataclass(frozen=True)
class InterpChoice:
    """What the user chose in the interpretability views' controls."""

    measure: Literal["prob", "rank"] = "prob"  # logit lens: colour by probability or rank
    position: int | None = None  # logit-lens table, attribution bars; None = the last position
    target: int | None = None  # attribution; None = the true next token
    versus: int | None = None  # attribution; None = no logit difference
    corrupted: tuple[int, ...] | None = None  # patching; None = the "corruption" request's
    corrupted_problem: str | None = None  # why the typed corrupted prompt cannot be used
    direction: Direction = "denoising"
    temperature: float = 1.0  # token walk: the next-token probabilities' temperature
    site_hook: str | None = None  # patching: one hook to patch at `site_pos`; None: none
    site_pos: int = 0


@dataclass(frozen=True)
class Patching:
    """The three patching maps of one prompt pair."""

    setup: PatchingSetup
    heads: PatchingResult  # layer x head
    resid: PatchingResult  # layer x pos
    mlps: PatchingResult | None  # layer x pos; None for an attention-only model (no MLPs)


@dataclass(frozen=True)
class Matrix:
    """A labelled 2-D array: what a view's CSV and static image hold."""

    name: str  # NPZ key and file-name part
    title: str
    values: np.ndarray  # [row, col]
    rows: list[str]
    cols: list[str]
    signed: bool = False  # a diverging colour scale centred on 0
    value_name: str = "value"
    labels: list[list[str]] | None = None  # [row][col] text per cell (e.g. each head's type)


@dataclass(frozen=True)
class InterpLab:
    """A model, a prompt and switches: everything a `Request` is computed from."""

    model: LanguageModel
    tokenizer: Tokenizer
    ids: tuple[int, ...]
    switches: Switches
    # a cache in front of `compute` (the page's st.cache_data, which also draws patching's
    # progress bar); None: compute every time
    cached: Callable[[Request], object] | None = field(default=None, compare=False)

    def unavailable(self, kind: Kind) -> str | None:
        """Why this model cannot show `kind` (no attention, no residual stream), or None."""
        return VIEWS_BY_KEY[INTERP_KEY[kind]].unavailable(self.model, self.switches)

    def run(self, request: Request) -> object:
        return self.compute(request) if self.cached is None else self.cached(request)

    def token_strings(self, ids: list[int]) -> list[str]:
        return self.tokenizer.token_strings(ids)

    def vocab(self) -> list[str]:
        return self.tokenizer.token_strings(list(range(self.model.cfg.vocab_size)))

    def compute(self, request: Request, progress: Progress | None = None) -> object:
        """progress: (done, total) calls while patching runs, for a progress bar."""
        model, sw = self.model, self.switches
        tokens = torch.tensor(self.ids, dtype=torch.long)
        kind = request.kind
        if kind == "heads":  # probes of the model's own: the prompt does not enter
            return detect_heads(model, switches=sw)
        if kind == "logit_lens":
            return logit_lens(model, tokens, switches=sw)
        if kind == "attribution":
            target = next_tokens(model, tokens, sw) if request.target is None else request.target
            return direct_logit_attribution(model, tokens, target, request.versus, switches=sw)
        if kind == "patching":
            corrupted = torch.tensor(request.corrupted, dtype=torch.long)
            setup = setup_from_predictions(model, tokens, corrupted, switches=sw)
            L, H, n = model.cfg.n_layers, model.cfg.n_heads, len(self.ids)
            total = L * H + 2 * L * n  # at most: positions that need no run are skipped

            def after(start: int) -> Progress | None:  # one bar over the three maps
                if progress is None:
                    return None
                return lambda done, _: progress(start + done, total)

            direction = request.direction
            heads = patch_heads(model, setup, direction, progress=after(0), switches=sw)
            resid = patch_resid(model, setup, direction, progress=after(L * H), switches=sw)
            mlps = None
            if model.cfg.mlp:
                at = after(L * H + L * n)
                mlps = patch_mlps(model, setup, direction, progress=at, switches=sw)
            if progress is not None:
                progress(total, total)
            return Patching(setup, heads, resid, mlps)
        if kind == "corruption":  # a one-token edit that flips the answer (interp.corruption)
            return tuple(int(i) for i in suggest_corruption(model, tokens, switches=sw))
        if kind == "patch_site":
            corrupted = torch.tensor(request.corrupted, dtype=torch.long)
            setup = setup_from_predictions(model, tokens, corrupted, switches=sw)
            return patch_site(
                model, setup, request.hook, request.target or 0, request.direction, switches=sw
            )
        if kind == "knockout":
            return knockout_losses(model, tokens, switches=sw)
        if kind == "walk":  # request.target: the position walked
            return token_walk(model, tokens, request.target or 0, switches=sw)
        if kind == "circuits":
            return head_circuits(model, request.layer, request.head, tokens, switches=sw)
        if kind == "stream_health":
            return stream_health(model, tokens, switches=sw)
        raise ValueError(f"unknown request kind {kind!r}")


def next_tokens(model: LanguageModel, tokens: torch.Tensor, switches: Switches) -> torch.Tensor:
    """The true next token at every position; the last has none, so there the model's own top
    prediction (the reader of the last position asks: why this token?)."""
    with torch.no_grad():
        predicted = model(tokens[None], switches=switches)[0, -1].argmax()
    return torch.cat([tokens[1:], predicted[None]])


def run_or_note(lab: InterpLab | None, request: Request):
    """The request's result, or a Note saying in plain words why there is none."""
    if lab is None:
        return Note("This view computes from the model; no model was given to it.")
    why = lab.unavailable(request.kind)
    if why is not None:
        return Note(f"Not available for this model: {why}.")
    try:
        return lab.run(request)
    except (DecompositionError, ValueError) as e:
        return Note(f"Cannot compute this view: {e}")


def position_or_last(position: int | None, n: int) -> int:
    return n - 1 if position is None else min(max(position, 0), n - 1)


__all__ = [
    "InterpChoice",
    "InterpLab",
    "Kind",
    "Matrix",
    "Patching",
    "Request",
    "next_tokens",
    "position_or_last",
    "run_or_note",
]
