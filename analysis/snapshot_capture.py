"""A snapshot step as a `Capture`, so the Explore and Compare views draw it as they draw a model,
and which views can be drawn from one (the others need the weights at that step).

A snapshot keeps the residual stream's norms, not the stream: the capture's `stream` is those norms
as a width-1 stream, whose `resid_norms` are the norms themselves. Every view that reads `stream`
reads it through `resid_norms`; `why_not` keeps the others off snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.capture import Capture
from model.tokenizers import Tokenizer
from training.snapshot_format import SnapshotIndex

WEIGHTS = (
    "needs the weights at that step, and snapshots keep the probe prompt's activations only "
    "(30 steps of weights would not fit the repository's 50 MB; see training/snapshot_format.py)"
)
# view key (views.registry.VIEWS) -> the snapshot arrays it draws from, or why it cannot be drawn
NEEDS: dict[str, tuple[str, ...] | str] = {
    "grid": ("patterns",),
    "head": ("patterns",),
    "tokens": ("patterns",),
    "entropy": ("patterns",),
    "stream": ("resid_norms",),
    "loss": ("losses", "top_ids", "top_probs"),
    "pipeline": f"The score pipeline {WEIGHTS}: pre-softmax scores are not kept.",
    "qkv": f"Q/K/V {WEIGHTS}: queries, keys and values are not kept.",
    "generate": f"Generation {WEIGHTS}.",
    "heads": (
        "Head types read the weights on their own probe; at a snapshot step the detector scores "
        "over training are the lines under the slider."
    ),
    "lens": f"The logit lens {WEIGHTS}.",
    "walk": f"The token walk {WEIGHTS}.",
    "knockout": f"Head knockout {WEIGHTS}: it reruns the model without each head.",
    "attribution": f"Logit attribution {WEIGHTS}.",
    "patching": f"Patching {WEIGHTS}.",
    "circuits": f"Weight circuits {WEIGHTS}.",
    "health": f"Stream health {WEIGHTS}.",
}


def why_not(view_key: str, fields: tuple[str, ...]) -> str | None:
    """None when the view can be drawn from a snapshot holding `fields`, else why not."""
    need = NEEDS.get(view_key, f"This view {WEIGHTS}.")
    if isinstance(need, str):
        return need
    missing = [f for f in need if f not in fields]
    if missing:
        return (
            f"This model's snapshots keep only {', '.join(fields)}; this view needs "
            f"{', '.join(missing)} (the suite's snapshots hold the attention patterns alone)."
        )
    return None


@dataclass(frozen=True)
class StepCapture:
    step: int
    capture: Capture
    fields: tuple[str, ...]
    prompt: str


def entropy_bits(patterns: np.ndarray) -> np.ndarray:
    """[layer, head]: mean over queries of each row's entropy in bits (as `capture` computes)."""
    p = patterns.astype(np.float32)
    return -(p * np.log2(np.clip(p, 1e-30, None))).sum(-1).mean(-1)


def capture_from(
    arrays: dict[str, np.ndarray], index: SnapshotIndex, tokenizer: Tokenizer | None = None
) -> Capture:
    """The capture the views read, from one step's arrays; absent arrays stay absent (None), or
    NaN losses and empty top-k where the field is required."""
    n = len(index.tokens)
    norms = arrays.get("resid_norms", np.zeros((0, n), np.float32))
    top_ids = arrays.get("top_ids", np.zeros((n, 0), np.int64))
    top_tokens: list[list[str]] = [[] for _ in range(n)]
    if tokenizer is not None and top_ids.size:
        flat = tokenizer.token_strings(top_ids.reshape(-1).tolist())
        k = top_ids.shape[1]
        top_tokens = [flat[i * k : (i + 1) * k] for i in range(n)]
    patterns = arrays.get("patterns")
    labels = list(index.stream_labels) or [f"stream {i}" for i in range(norms.shape[0])]
    return Capture(
        ids=np.asarray(index.ids, dtype=np.int64),
        tokens=list(index.tokens),
        losses=arrays.get("losses", np.full(n, np.nan, np.float32)),
        top_ids=top_ids,
        top_probs=arrays.get("top_probs", np.zeros((n, 0), np.float32)),
        top_tokens=top_tokens,
        stream=norms[..., None],
        stream_labels=labels,
        patterns=patterns,
        ln_mean=arrays.get("ln_mean"),
        ln_std=arrays.get("ln_std"),
        ln_labels=list(index.ln_labels),
        entropy=entropy_bits(patterns) if patterns is not None else None,
        causal=index.causal,
    )
