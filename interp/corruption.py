"""Whether a corrupted prompt makes a patching experiment meaningful, and one that does.

Patching normalises by the gap between the runs, `metric(clean) - metric(corrupted)` (see
`interp.patching`). That denominator is only trustworthy when the corruption actually moves the
answer: with a gap of 0.08 logits a 0.01 wobble in a patched run moves a recovered fraction by
0.12, and a negative gap (the corrupted run favours the clean answer even more) flips the sign of
every map. `MetricGap` says which case a pair is in, in words a learner can act on;
`suggest_corruption` searches a few one-token edits near the read-out position for one that flips
the model's own answer by a wide margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Int
from torch import Tensor

from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

# Below this gap (in logits) recovered fractions amplify noise: a 0.05 wobble in one patched run
# moves a fraction by 0.1 or more.
SMALL_GAP = 0.5
SEARCH_POSITIONS = 4  # the last positions a suggested corruption may edit, at least
SEARCH_TOKENS = 12  # candidate replacements per position: the prompt's own tokens first
# token positions the search may run in all: a short prompt is searched at every position
SEARCH_BUDGET = 48 * 64

GapStatus = Literal["ok", "small", "reversed"]


class PatchingGapWarning(UserWarning):
    """The clean and corrupted runs are too close, or the wrong way round, for patching."""


@dataclass(frozen=True)
class MetricGap:
    """The two runs' logit differences and what their gap means for the recovered fractions."""

    clean: float  # logit difference of the clean run
    corrupted: float  # logit difference of the corrupted run
    flipped: bool | None = None  # the corrupted run's top token is not the clean answer

    @property
    def gap(self) -> float:
        return self.clean - self.corrupted

    @property
    def status(self) -> GapStatus:
        if self.gap <= 0:
            return "reversed"
        return "small" if self.gap < SMALL_GAP else "ok"

    def message(self) -> str | None:
        """What the gap means for the maps, or None when it is wide enough."""
        gap = self.gap
        if self.status == "reversed":
            return (
                f"The corruption does not move the answer the right way: the corrupted run's logit "
                f"difference ({self.corrupted:.3f}) is not below the clean run's ({self.clean:.3f}), "
                f"a gap of {gap:.3f}. Recovered fractions divide by this gap, so the maps' signs are "
                "flipped and their sizes are noise: read none of them. Change tokens the last "
                "prediction depends on until the corrupted run predicts something else."
            )
        if self.status == "small":
            return (
                f"The corruption moves the logit difference by only {gap:.3f} (under {SMALL_GAP}): "
                f"recovered fractions divide by it, so a wobble of 0.05 in a patched run reads as "
                f"{0.05 / gap:.2f} of the answer. Treat the maps as rough; a corruption that flips "
                "the answer gives a wider gap."
            )
        if self.flipped is False:
            return (
                "The corrupted run still predicts the clean answer: the maps measure how much of "
                "a shift in confidence each activation restores, not a flipped answer."
            )
        return None


def _candidates(
    clean: Int[Tensor, " pos"], vocab_size: int, positions: int, tokens: int
) -> Int[Tensor, "cand pos"]:
    """One-token edits of `clean` at its last `positions` positions (the read-out position's own
    token included): each replaced by up to `tokens` other ids, the prompt's own tokens first
    (they are plausible in context), then the lowest ids."""
    n = clean.shape[0]
    own = list(dict.fromkeys(int(t) for t in clean.flip(0)))
    pool = own + [i for i in range(min(vocab_size, tokens + len(own))) if i not in set(own)]
    rows = []
    for p in range(max(0, n - positions), n):
        for t in [t for t in pool if t != int(clean[p])][:tokens]:
            row = clean.clone()
            row[p] = t
            rows.append(row)
    return torch.stack(rows) if rows else clean[None]


def suggest_corruption(
    model: Transformer,
    clean: Int[Tensor, " pos"],
    *,
    switches: Switches = NO_SWITCHES,
    positions: int | None = None,
    tokens: int = SEARCH_TOKENS,
) -> Int[Tensor, " pos"]:
    """A one-token edit of `clean` that flips the model's answer at the last position with the
    widest gap (clean answer against the corrupted run's answer, as `setup_from_predictions`
    reads them). Searched in batched forward passes over positions x tokens prompts (positions:
    the last SEARCH_POSITIONS, or every one a short prompt can afford within SEARCH_BUDGET);
    where no edit flips the answer, the one that moves the logit difference furthest. An edit
    before the last position is preferred to one of the last token itself."""
    n = clean.shape[0]
    if positions is None:
        positions = min(n, max(SEARCH_POSITIONS, SEARCH_BUDGET // (n * tokens)))
    with torch.no_grad():
        clean_logits = model(clean[None], switches=switches)[0, -1]
        cands = _candidates(clean, model.cfg.vocab_size, positions, tokens)
        logits = torch.cat(
            [model(chunk, switches=switches)[:, -1] for chunk in cands.split(64)]
        )  # [cand, vocab]
    answer = int(clean_logits.argmax())
    top = logits.argmax(-1)
    # the corrupted run's answer, or its runner-up where it still predicts the clean answer
    runner_up = logits.topk(2, dim=-1).indices[:, 1]
    wrong = torch.where(top == answer, runner_up, top)
    gap = (clean_logits[answer] - clean_logits[wrong]) - (
        logits[:, answer] - logits.gather(1, wrong[:, None])[:, 0]
    )
    flipped = top != answer
    # ranked by: flips the answer, then edits a token before the last (the read-out position's own
    # token flips almost anything and leaves little to trace), then the gap
    earlier = (cands[:, -1] == clean[-1]) | (n == 1)
    big = gap.abs().max() + 1.0
    score = gap + big * flipped.float() + big * (flipped & earlier).float()
    return cands[int(score.argmax())]
