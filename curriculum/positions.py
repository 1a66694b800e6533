"""Question 1's position encodings, read from the shipped weights: how large the positions are
beside the tokens. A sinusoidal table at a fixed amplitude and a learned W_pos can end at very
different shares of the stream, so a verdict between them may be about scale as much as form."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from curriculum.evidence import Evidence, Finding
from model.checkpoint import load_checkpoint

ALIKE = 1.5  # position-to-token ratios within this factor of each other count as one scale


@dataclass(frozen=True)
class PositionScale:
    name: str
    encoding: str  # the config's pos_encoding
    ratio: float  # RMS of W_pos over RMS of W_E (every vocabulary row, every position)


def position_scale(ev: Evidence, name: str) -> PositionScale | None:
    """From the shipped weights beside the record; None without them or without positions."""
    if ev.root is None or ev.get(name) is None or not (ev.root / name / "config.json").is_file():
        return None
    try:
        model = load_checkpoint(ev.root / name).model
    except (OSError, ValueError, KeyError, RuntimeError):
        return None
    embed, pos = getattr(model, "embed", None), getattr(model, "pos_embed", None)
    if embed is None or pos is None or not isinstance(getattr(pos, "W_pos", None), torch.Tensor):
        return None
    with torch.no_grad():
        tok = embed.W_E.float().pow(2).mean().sqrt().item()
        at = pos.W_pos.float().pow(2).mean().sqrt().item()
    if tok <= 0:
        return None
    return PositionScale(name, model.cfg.pos_encoding, at / tok)


def scale_note(ev: Evidence, finding: Finding | None, reference: str = "baseline") -> str:
    """The sinusoidal comparison's verdict beside the two position scales it mixes in."""
    if finding is None or finding.verdict is None:
        return ""
    a, b = position_scale(ev, finding.subject), position_scale(ev, reference)
    if a is None or b is None:
        return ""
    said = {
        "worse": "is worse than",
        "better": "is better than",
        "same": "makes no clear difference from",
    }.get(finding.standing, "is compared with")
    if finding.marginal:
        said = f"{said} (marginally)"
    scales = (
        f"its positions sit at {a.ratio:.2f} of the token embeddings' RMS, **{reference}**'s "
        f"{b.encoding} positions at {b.ratio:.2f} (shipped weights)"
    )
    if max(a.ratio, b.ratio) / min(a.ratio, b.ratio) <= ALIKE:
        return (
            f"**{finding.subject}** ({a.encoding}) {said} **{reference}** at a like scale: "
            f"{scales}, so the verdict is about the encoding's form."
        )
    return (
        f"**{finding.subject}** ({a.encoding}) {said} **{reference}**, but {scales}: the verdict "
        "may be about the positions' scale rather than their form. A sinusoidal table at the "
        "learned positions' ratio was not trained."
    )
