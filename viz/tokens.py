"""Per-token views of a prompt: text coloured by loss (HTML) and a top-k prediction table.

Alignment, as the model produces them: losses[i] is the loss of predicting tokens[i] from
tokens[:i], so losses[0] is NaN (nothing predicts the first token); top-k row i holds the
predictions made *at* position i, i.e. for tokens[i + 1].
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from viz.colors import LOSS_SCALE, sample_colors
from viz.labels import visible
from viz.shapes import Shapes

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float

Unit = Literal["nats", "bits"]
_DARK_FROM = 0.6  # above this fraction of the scale the background is dark enough for white text


def _probability(loss: float, unit: Unit) -> float:
    return math.exp(-loss) if unit == "nats" else 2.0**-loss


def _display(token: str) -> str:
    """The token as HTML: escaped, newlines as ↵ plus a line break, so the text keeps its shape.

    Works for raw text and for tokenizer labels (which already show '\\n' as ↵). <br>, not a
    newline character, so the break survives being embedded in Markdown as well as in HTML.
    """
    if token == "":
        return "∅"
    text = html.escape(token.replace("\n", "↵").replace("\r", "␍"))
    return text.replace("↵", "↵<br>")


def _attribute(text: str) -> str:
    # quote=True: the text sits inside title="..."; &#10; keeps line breaks in the browser tooltip.
    return html.escape(text, quote=True).replace("\n", "&#10;")


def token_loss_html(
    tokens: Sequence[str],
    losses: Float[np.ndarray, " pos"],
    *,
    vmax: float | None = None,
    unit: Unit = "nats",
    tooltips: Sequence[str] | None = None,
) -> str:
    """The prompt as HTML spans, each token's background darker the higher its loss.

    Hovering a token shows its position, loss and probability (plus tooltips[i] if given, e.g. the
    top predictions). vmax: loss at the darkest colour (default: the prompt's largest). Every token
    is HTML-escaped, so a prompt holding "<script>" is shown, not run.
    """
    s = Shapes("token_loss_html")
    loss = s.array(losses, "pos", "losses")
    toks = s.tokens(tokens, "pos")
    extra = s.tokens(tooltips, "pos", name="tooltips") if tooltips is not None else None
    if unit not in ("nats", "bits"):
        raise s.error(f"unit must be 'nats' or 'bits', got {unit!r}")
    finite = loss[np.isfinite(loss)]
    top = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    top = top if top > 0 else 1.0
    fractions = np.clip(np.nan_to_num(loss, nan=0.0) / top, 0.0, 1.0)
    colours = sample_colors(LOSS_SCALE, fractions)

    spans = []
    for i, token in enumerate(toks):
        tip = f"#{i} {visible(token)}"
        if np.isfinite(loss[i]):
            style = f"background:{colours[i]};"
            if fractions[i] > _DARK_FROM:
                style += "color:white;"
            tip += f"\nloss {loss[i]:.3f} {unit} (p = {_probability(float(loss[i]), unit):.3f})"
        else:
            style = "outline:1px dashed #999;"
            tip += "\nno loss: nothing predicts this token" if i == 0 else "\nno loss"
        if extra is not None and extra[i]:
            tip += "\n" + extra[i]
        spans.append(
            f'<span style="{style}padding:0 1px;border-radius:2px" title="{_attribute(tip)}">'
            f"{_display(token)}</span>"
        )
    legend = (
        f'<div style="font-size:0.8em;color:#666;margin-top:0.5em">'
        f"background: loss from 0 (white) to {top:.2f} {unit} (darkest); "
        f"dashed outline: no prediction</div>"
    )
    body = "".join(spans)
    return (
        '<div style="font-family:monospace;white-space:pre-wrap;line-height:1.7">'
        f"{body}</div>{legend}"
    )


def topk_table(
    tokens: Sequence[str],
    top_tokens: Sequence[Sequence[str]],
    top_probs: Float[np.ndarray, "pos k"],
    losses: Float[np.ndarray, " pos"] | None = None,
    *,
    unit: Unit = "nats",
) -> list[dict[str, Any]]:
    """One row per position, ready for a dataframe: the token, the actual next token, the rank
    of the actual next token among the top k ("> k" if outside, "" for the last position), and the top k predictions.

    top_tokens[i] / top_probs[i]: the k most likely next tokens predicted at position i, most
    likely first. losses (aligned with tokens, NaN first) adds the actual next token's loss and
    probability.
    """
    s = Shapes("topk_table")
    probs = s.array(top_probs, "pos k", "top_probs")
    toks = s.tokens(tokens, "pos")
    if len(top_tokens) != len(toks):
        raise s.error(f"top_tokens has {len(top_tokens)} rows but tokens has {len(toks)}")
    for i, row in enumerate(top_tokens):
        s.tokens(row, "k", name=f"top_tokens[{i}]")
    loss = None if losses is None else s.array(losses, "pos", "losses")

    prob_rows = probs.tolist()  # Python floats format several times faster than numpy scalars
    rows = []
    for i, token in enumerate(toks):
        actual = toks[i + 1] if i + 1 < len(toks) else None
        row: dict[str, Any] = {
            "pos": i,
            "token": visible(token),
            "actual next": visible(actual) if actual is not None else "",
        }
        if loss is not None:
            next_loss = float(loss[i + 1]) if actual is not None else math.nan
            row["loss"] = next_loss
            row["p(actual)"] = (
                _probability(next_loss, unit) if math.isfinite(next_loss) else math.nan
            )
        predicted = list(top_tokens[i])
        # text, not None: a table cell should read "> 5" (outside the top k), never "None"
        if actual is None:
            row["rank"] = ""
        elif actual in predicted:
            row["rank"] = str(predicted.index(actual) + 1)
        else:
            row["rank"] = f"> {len(predicted)}"
        for j, (guess, p) in enumerate(zip(predicted, prob_rows[i], strict=True), start=1):
            row[f"#{j}"] = f"{visible(guess)} {p:.3f}"
        rows.append(row)
    return rows
