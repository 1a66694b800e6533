"""Direct logit attribution: what each head, MLP and embedding writes into a token's logit (by
default the true next token), or into the difference of two tokens' logits, per position."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.capture import Capture
from interp import Attribution
from views.interp_lab import Matrix, Request, position_or_last, run_or_note
from views.items import Chart, Item, Note
from viz.interp_attribution import (
    attribution_bars,
    attribution_heatmap,
    component_labels,
    component_rows,
)
from viz.labels import position_labels

if TYPE_CHECKING:
    from views.view_input import ViewInput


def request(inp: ViewInput) -> Request:
    return Request("attribution", target=inp.interp.target, versus=inp.interp.versus)


def result(inp: ViewInput) -> Attribution | Note:
    return run_or_note(inp.lab, request(inp))


def what(inp: ViewInput) -> str:
    """'the true next token', "logit of 'e'", "logit of 'e' − logit of 'a'"."""
    assert inp.lab is not None
    target, versus = inp.interp.target, inp.interp.versus
    name = "the true next token" if target is None else repr(inp.lab.token_strings([target])[0])
    if versus is None:
        return f"logit of {name}"
    return f"logit of {name} − logit of {inp.lab.token_strings([versus])[0]!r}"


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    if inp.interp.versus is not None and inp.interp.versus == inp.interp.target:
        return [Note("The same token twice: its logit minus itself is 0 for every component.")]
    att = result(inp)
    if isinstance(att, Note):
        return [att]
    position = position_or_last(inp.interp.position, len(cap.tokens))
    p = position
    return [
        Chart(
            "dla_fig",
            attribution_heatmap(
                att.embed.numpy(),
                att.pos_embed.numpy(),
                att.heads.numpy(),
                att.mlps.numpy(),
                cap.tokens,
                title=f"Direct logit attribution: {what(inp)}",
            ),
        ),
        Chart(
            "dla_bars_fig",
            attribution_bars(
                att.heads[:, :, p].numpy(),
                att.mlps[:, p].numpy(),
                float(att.embed[p]),
                float(att.pos_embed[p]),
                float(att.bias[p]),
                float(att.logit[p]),
                title=f"At position {p} ({cap.tokens[p]}): {what(inp)} = {float(att.logit[p]):.3f}",
            ),
        ),
        Note(
            "The last position has no true next token: there the target is the model's own top "
            "prediction."
            if inp.interp.target is None
            else "The same token at every position."
        ),
    ] + (
        []
        if inp.lab is None or inp.lab.model.cfg.mlp
        else [Note("This model has no MLP (attention only): its MLP rows are 0.")]
    )


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    att = result(inp)
    if isinstance(att, Note):
        return att
    heads = att.heads.numpy()
    values = component_rows(att.embed.numpy(), att.pos_embed.numpy(), heads, att.mlps.numpy())
    return [
        Matrix(
            "attribution",
            f"Direct logit attribution: {what(inp)}",
            values,
            component_labels(heads.shape[0], heads.shape[1]),
            position_labels(cap.tokens),
            signed=True,
            value_name="logit",
        )
    ]
