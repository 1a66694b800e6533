"""The Explore page's "What am I looking at?": its sentence about the causal mask is read off what
the model does on the prompt shown, never assumed. Removing the mask lets every query read the
token it is asked to predict, yet a model trained with the mask never learned to use what lies
ahead: on the shipped baseline the loss rises (+2.3 nats/token on a 120-token prompt)."""

from __future__ import annotations

import math

OPENING = (
    "Type a prompt in the sidebar, or pick an example. The **Grid** shows every head's attention: "
    "in each panel a query (row) spreads its weight over the keys (columns) before it."
)
CLOSING = (
    "Other tabs open one head, its score pipeline, the Q/K/V arithmetic, the residual stream, "
    "entropy, per-token loss, generation and the interpretability tools."
)
SAME = 0.01  # nats/token: a change smaller than this is "barely moves"


def mask_sentence(model: str, masked: float, unmasked: float | None, trained_masked: bool) -> str:
    """What unticking Causal mask does to this model's loss on this prompt, in its own numbers.

    unmasked: the loss with the mask switched off (None: the switch does not apply)."""
    if not trained_masked:
        return (
            f"**{model}** was trained without a causal mask: every query already reads the whole "
            "prompt, the tokens it predicts included, so the upper triangle is filled and its "
            "loss is not an honest next-token prediction."
        )
    if unmasked is None or math.isnan(masked) or math.isnan(unmasked):
        return "Untick **Causal mask** in the sidebar and watch the upper triangle fill in."
    start = (
        "Then untick **Causal mask** in the sidebar and watch the upper triangle fill in: every "
        "query can now read the tokens after it, the one it is asked to predict included."
    )
    change = unmasked - masked
    numbers = f"from {masked:.2f} to {unmasked:.2f} nats/token"
    if change > SAME:
        return (
            f"{start} On this prompt **{model}**'s loss *rises*, {numbers}: it was trained with "
            "the mask, never learned to use what lies ahead, and the unfamiliar mixing hurts more "
            "than the peek helps."
        )
    if change < -SAME:
        return (
            f"{start} On this prompt **{model}**'s loss *drops*, {numbers}: some heads pick up "
            "the answer from the tokens they can now see."
        )
    return f"{start} On this prompt **{model}**'s loss barely moves ({numbers})."


def intro_text(
    model: str | None = None,
    masked: float = math.nan,
    unmasked: float | None = None,
    trained_masked: bool = True,
) -> str:
    """The whole orientation; without a model, its opening and closing only."""
    middle = [] if model is None else [mask_sentence(model, masked, unmasked, trained_masked)]
    return " ".join([OPENING, *middle, CLOSING])
