"""Head detectors: how much of a head's attention falls on the cells a head type would attend to.

Every score follows TransformerLens's `detect_head` with `error_measure="mul"`: for one sequence,

    score = sum(pattern * expected) / sum(pattern)        (pattern, expected: [q_pos, k_pos])

averaged over the sequences of a batch. `expected` holds 0/1 cells; the expected cells of the
previous-token, duplicate-token and induction detectors are TransformerLens's
(`get_*_head_detection_pattern`). Unlike `detect_head`, nothing here asserts a lower-triangular
pattern: unmasked models are scored on their full matrices, so attention that leaks to later keys
counts in the denominator and lowers every other score, and `future_leakage` measures it.

    previous_token   key = query - 1
    duplicate_token  an earlier key holding the query's token (TransformerLens: tril, no diagonal)
    induction        key right after an earlier occurrence of the query's token
    first_token      key 0 (attention sinks); every query row, as ARENA's first-token detector
    local_window     |query - key| <= window (current and previous token included)
    future_leakage   key > query; only for models without a causal mask

A head's type is its strongest specific detector (all but local_window) when that reaches the
threshold, else local_window when that does, else "diffuse": local_window's cells contain the
previous-token and current-token cells, so it would otherwise win for every previous-token head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.layout import stream_layout
from interp.probes import repeated_random_tokens
from model.hook_names import hook_name
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

Detector = Literal[
    "previous_token",
    "duplicate_token",
    "induction",
    "first_token",
    "local_window",
    "future_leakage",
]
DETECTORS: tuple[Detector, ...] = get_args(Detector)
SPECIFIC: tuple[Detector, ...] = tuple(d for d in DETECTORS if d != "local_window")
DIFFUSE = "diffuse"

Cells = Float[Tensor, "batch q_pos k_pos"]


def previous_token_cells(tokens: Int[Tensor, "batch pos"]) -> Cells:
    batch, n = tokens.shape
    return torch.diag(torch.ones(n - 1), -1).expand(batch, n, n)


def duplicate_token_cells(tokens: Int[Tensor, "batch pos"]) -> Cells:
    same = (tokens[:, :, None] == tokens[:, None, :]).float()  # [batch, q_pos, k_pos]
    return same.tril(-1)  # earlier keys only: a token is always a duplicate of itself


def induction_cells(tokens: Int[Tensor, "batch pos"]) -> Cells:
    # the key one to the right of each duplicate; key 0 follows nothing
    dup = duplicate_token_cells(tokens)
    shifted = torch.zeros_like(dup)
    shifted[:, :, 1:] = dup[:, :, :-1]
    return shifted.tril()


def first_token_cells(tokens: Int[Tensor, "batch pos"]) -> Cells:
    batch, n = tokens.shape
    cells = torch.zeros(batch, n, n)
    cells[:, :, 0] = 1.0
    return cells


def local_window_cells(tokens: Int[Tensor, "batch pos"], window: int) -> Cells:
    batch, n = tokens.shape
    idx = torch.arange(n)
    return ((idx[:, None] - idx[None, :]).abs() <= window).float().expand(batch, n, n)


def future_cells(tokens: Int[Tensor, "batch pos"]) -> Cells:
    batch, n = tokens.shape
    return torch.ones(n, n).triu(1).expand(batch, n, n)


def expected_cells(detector: Detector, tokens: Int[Tensor, "batch pos"], window: int = 3) -> Cells:
    """The 0/1 cells a head of type `detector` would attend to, per sequence."""
    if detector == "previous_token":
        return previous_token_cells(tokens)
    if detector == "duplicate_token":
        return duplicate_token_cells(tokens)
    if detector == "induction":
        return induction_cells(tokens)
    if detector == "first_token":
        return first_token_cells(tokens)
    if detector == "local_window":
        return local_window_cells(tokens, window)
    if detector == "future_leakage":
        return future_cells(tokens)
    raise ValueError(f"unknown detector {detector!r}; known: {DETECTORS}")


def mass_share(
    patterns: Float[Tensor, "layer batch head q_pos k_pos"], cells: Cells
) -> Float[Tensor, "layer head"]:
    """TransformerLens's "mul" score per sequence, then the mean over sequences."""
    on_cells = (patterns * cells[None, :, None]).sum((-1, -2))  # [layer, batch, head]
    return (on_cells / patterns.sum((-1, -2))).mean(1)


@dataclass(frozen=True)
class HeadScores:
    """Detector scores of every head, and each head's type."""

    scores: dict[str, Float[Tensor, "layer head"]]  # detector -> share of attention on its cells
    types: list[list[str]]  # [layer][head]: strongest detector, or "diffuse"
    probe: Int[Tensor, "batch pos"]  # the sequences the patterns were taken on
    threshold: float  # a type needs at least this score

    def strongest(self, layer: int, head: int) -> tuple[str, float]:
        kind = self.types[layer][head]
        return kind, (float(self.scores[kind][layer, head]) if kind in self.scores else 0.0)

    def stacked(self) -> tuple[list[str], Float[Tensor, "detector layer head"]]:
        detectors = list(self.scores)
        return detectors, torch.stack([self.scores[d] for d in detectors])


def head_types(scores: dict[str, Float[Tensor, "layer head"]], threshold: float) -> list[list[str]]:
    specific = [d for d in SPECIFIC if d in scores]
    n_layers, n_heads = next(iter(scores.values())).shape
    out = []
    for layer in range(n_layers):
        row = []
        for head in range(n_heads):
            best = max(specific, key=lambda d: float(scores[d][layer, head]), default=None)
            if best is not None and scores[best][layer, head] >= threshold:
                row.append(best)
            elif "local_window" in scores and scores["local_window"][layer, head] >= threshold:
                row.append("local_window")
            else:
                row.append(DIFFUSE)
        out.append(row)
    return out


def attention_patterns(
    model: Transformer, tokens: Int[Tensor, "batch pos"], switches: Switches = NO_SWITCHES
) -> Float[Tensor, "layer batch head q_pos k_pos"]:
    hooks = [hook_name("pattern", layer) for layer in range(model.cfg.n_layers)]
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names=hooks, switches=switches)
    return torch.stack([cache[h].float() for h in hooks])


# Longest default probe: GPT-2's 1,024-token context would make 4 probes' patterns 2.4 GB at
# 12 x 12 heads (and minutes on a CPU); 256 positions read every detector as well.
PROBE_POSITIONS = 256


def detect_heads(
    model: Transformer,
    tokens: Int[Tensor, "batch pos"] | None = None,
    *,
    detectors: Sequence[Detector] | None = None,
    window: int = 3,
    threshold: float = 0.4,
    n_probe: int = 4,
    seed: int = 0,
    switches: Switches = NO_SWITCHES,
) -> HeadScores:
    """Score every head with every detector.

    tokens: the sequences to take patterns on; by default `n_probe` repeated random-token
    sequences as long as the context up to PROBE_POSITIONS, which every detector can be read on
    (induction and duplicate-token heads need repeats). future_leakage is scored only where queries can see
    later keys (no causal mask, or the causal-mask switch off).
    """
    layout = stream_layout(model, switches)
    if tokens is None:
        n_pos = min(model.cfg.n_ctx, PROBE_POSITIONS)
        tokens = repeated_random_tokens(model.cfg.vocab_size, n_pos, n_probe, seed)
    if tokens.dim() == 1:
        tokens = tokens[None]
    if detectors is None:
        detectors = [d for d in DETECTORS if d != "future_leakage" or not layout.causal]
    patterns = attention_patterns(model, tokens, switches)
    cpu_tokens = tokens.cpu()
    scores = {
        d: mass_share(patterns.cpu(), expected_cells(d, cpu_tokens, window)) for d in detectors
    }
    return HeadScores(scores, head_types(scores, threshold), cpu_tokens, threshold)
