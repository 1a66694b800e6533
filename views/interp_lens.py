"""Logit lens: per stream point and position, the true next token's probability or rank, and the
lens's top tokens (hover, and a table at one position)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.capture import Capture
from interp import LogitLens
from views.interp_lab import Matrix, Request, position_or_last, run_or_note
from views.items import Chart, Item, Note, Table
from viz.interp_lens import lens_top_tokens, logit_lens_heatmap

if TYPE_CHECKING:
    from views.view_input import ViewInput

REQUEST = Request("logit_lens")


def result(inp: ViewInput) -> LogitLens | Note:
    return run_or_note(inp.lab, REQUEST)


def top_rows(lens: LogitLens, cap: Capture, inp: ViewInput, position: int) -> list[dict]:
    """One row per stream point at `position`: the lens's top tokens and the true next token."""
    assert inp.lab is not None
    top = lens.top_tokens[:, position]  # [layer, k]
    strings = inp.lab.token_strings(top.reshape(-1).tolist())
    k = top.shape[1]
    has_next = position < len(cap.tokens) - 1
    rows = []
    for i, point in enumerate(lens.points):
        row = {
            "after": point,
            "top tokens": ", ".join(
                f"{t} {float(p):.2f}"
                for t, p in zip(
                    strings[i * k : (i + 1) * k], lens.top_probs[i, position], strict=True
                )
            ),
        }
        if has_next:
            row["true next"] = cap.tokens[position + 1]
            row["rank"] = int(lens.true_rank[i, position])
            row["p(true next)"] = round(float(lens.true_prob[i, position]), 4)
        rows.append(row)
    return rows


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    lens = result(inp)
    if isinstance(lens, Note):
        return [lens]
    items: list[Item] = []
    if len(cap.tokens) >= 2:
        values = lens.true_rank if inp.interp.measure == "rank" else lens.true_prob
        strings = lens_top_tokens(lens.top_tokens[:, :-1].numpy(), inp.lab.vocab())
        items.append(
            Chart(
                "lens_fig",
                logit_lens_heatmap(
                    values.numpy(),
                    cap.tokens,
                    list(lens.points),
                    strings,
                    lens.top_probs[:, :-1].numpy(),
                    measure=inp.interp.measure,
                ),
            )
        )
    else:
        items.append(
            Note("One token: there is no true next token to read; the table still shows the lens.")
        )
    position = position_or_last(inp.interp.position, len(cap.tokens))
    items += [
        Note(
            f"Position {position} ({cap.tokens[position]}): the lens's top tokens after each layer."
        ),
        Table("lens_table", top_rows(lens, cap, inp, position)),
    ]
    return items


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    lens = result(inp)
    if isinstance(lens, Note):
        return lens
    rows = list(lens.points)
    cols = [f"{i} {t}→{cap.tokens[i + 1]}" for i, t in enumerate(cap.tokens[:-1])]
    return [
        Matrix(
            "true_prob",
            "Logit lens: p(true next token)",
            lens.true_prob.numpy(),
            rows,
            cols,
            value_name="p",
        ),
        Matrix(
            "true_rank",
            "Logit lens: rank of the true next token",
            lens.true_rank.numpy().astype("float32"),
            rows,
            cols,
            value_name="rank",
        ),
    ]
