"""Weight circuits of one head: full QK and OV over the vocabulary (character-level models),
positional QK (models with positions), and layer 0's scores split into token and position terms;
a note for every part the model lacks (`HeadCircuits.missing`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.capture import Capture
from interp import HeadCircuits
from views.interp_lab import Matrix, Request, run_or_note
from views.items import Chart, Item, Note
from viz.interp_circuits import TERMS, circuit_matrix, score_terms_panels
from viz.labels import position_labels

if TYPE_CHECKING:
    from views.view_input import ViewInput

PARTS = {
    "qk": "Full QK circuit",
    "ov": "Full OV circuit",
    "pos_qk": "Positional QK",
    "terms": "Score terms",
}


def request(inp: ViewInput) -> Request:
    return Request("circuits", layer=inp.focus.layer, head=inp.focus.head)


def result(inp: ViewInput) -> HeadCircuits | Note:
    return run_or_note(inp.lab, request(inp))


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    c = result(inp)
    if isinstance(c, Note):
        return [c]
    assert inp.lab is not None
    at = f"Layer {c.layer} head {c.head}"
    items: list[Item] = []
    if c.qk is not None and c.ov is not None:
        vocab = inp.lab.vocab()
        items.append(
            Chart(
                "circuit_qk_fig",
                circuit_matrix(
                    c.qk.numpy(),
                    vocab,
                    vocab,
                    title=f"{at}: full QK circuit W_E W_Q W_Kᵀ W_Eᵀ (which key token a query token seeks)",
                ),
            )
        )
        items.append(
            Chart(
                "circuit_ov_fig",
                circuit_matrix(
                    c.ov.numpy(),
                    vocab,
                    vocab,
                    title=f"{at}: full OV circuit W_E W_V W_O W_U (attended token → logits it writes)",
                    row_title="attended token",
                    col_title="output token",
                ),
            )
        )
    if c.pos_qk is not None:
        positions = [str(i) for i in range(c.pos_qk.shape[0])]
        items.append(
            Chart(
                "circuit_pos_fig",
                circuit_matrix(
                    c.pos_qk.numpy(),
                    positions,
                    positions,
                    title=f"{at}: positional QK W_pos W_Q W_Kᵀ W_posᵀ",
                    row_title="query position",
                    col_title="key position",
                ),
            )
        )
    if c.terms is not None:
        t = c.terms
        h = c.head
        terms = [getattr(t, name)[h].numpy() for name in TERMS]
        items.append(
            Chart(
                "circuit_terms_fig",
                score_terms_panels(
                    terms,
                    cap.tokens,
                    title=f"{at}: raw scores = token·token + token·position + position·token "
                    "+ position·position + bias",
                    causal=cap.causal,
                ),
            )
        )
    for part, why in c.missing.items():
        items.append(Note(f"{PARTS[part]}: not shown. {why}."))
    return items


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    c = result(inp)
    if isinstance(c, Note):
        return c
    assert inp.lab is not None
    at = f"Layer {c.layer} head {c.head}"
    out = []
    if c.qk is not None and c.ov is not None:
        vocab = inp.lab.vocab()
        out.append(Matrix("qk", f"{at}: full QK", c.qk.numpy(), vocab, vocab, signed=True))
        out.append(Matrix("ov", f"{at}: full OV", c.ov.numpy(), vocab, vocab, signed=True))
    if c.pos_qk is not None:
        pos = [str(i) for i in range(c.pos_qk.shape[0])]
        out.append(
            Matrix("pos_qk", f"{at}: positional QK", c.pos_qk.numpy(), pos, pos, signed=True)
        )
    if c.terms is not None:
        labels = position_labels(cap.tokens)
        for name in (*TERMS, "raw"):
            values = getattr(c.terms, name)[c.head].float().numpy()
            out.append(
                Matrix(
                    f"terms_{name}", f"{at}: score term {name}", values, labels, labels, signed=True
                )
            )
    if not out:
        return Note(" ".join(f"{PARTS[p]}: {why}." for p, why in c.missing.items()))
    return out
