"""Token walk: one token from its embedding to the next-token probabilities, as Transformer
Explainer walks it, on the user's prompt and with the model's own numbers: the stream's vectors
(`interp.token_walk`), the focused head's scores, softmax and weighted sum at that token (the
capture's), and the probabilities at the temperature chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.capture import Capture
from interp.token_walk import TokenWalk, probabilities
from views.interp_lab import Matrix, Request, position_or_last, run_or_note
from views.items import Chart, Item, Note
from viz.labels import visible
from viz.token_walk import key_bars, next_token_bars, stream_steps

if TYPE_CHECKING:
    from views.view_input import ViewInput


def result(cap: Capture, inp: ViewInput) -> TokenWalk | Note:
    if inp.lab is None:  # a message saying so, before anything reads the capture
        return run_or_note(None, Request("walk"))
    position = position_or_last(inp.interp.position, len(cap.tokens))
    return run_or_note(inp.lab, Request("walk", target=position))


def _steps(walk: TokenWalk) -> tuple[list[str], np.ndarray]:
    rows, names = [walk.embed], ["token embedding"]
    if walk.pos_embed is not None:
        rows, names = rows + [walk.pos_embed], names + ["+ position embedding"]
    for i in range(walk.n_layers):
        rows.append(walk.attn_out[i])
        names.append(f"L{i} + attention")
        if walk.mlp_out is not None:
            rows.append(walk.mlp_out[i])
            names.append(f"L{i} + MLP")
        rows.append(walk.resid_post[i])
        names.append(f"L{i} = stream out")
    return names, np.stack([r.numpy() for r in rows])


def _sentence(cap: Capture, inp: ViewInput, walk: TokenWalk) -> str:
    f, p = inp.focus, walk.position
    z = cap.z[f.layer, p, f.head] if cap.z is not None else None
    mlp = (
        "each block's MLP then adds its own vector"
        if walk.mlp_out is not None
        else "this model's blocks have no MLP (attention only), so nothing else is added"
    )
    return (
        f"Token {visible(cap.tokens[p])!r} at position {p}: its embedding"
        + (" plus its position's" if walk.pos_embed is not None else "")
        + " enters the stream. In layer "
        f"{f.layer}, head {f.head} scores it as a query against every key (q·k, scaled, masked), "
        "softmax turns the scores into weights, and the weighted sum of the keys' values is "
        f"z (‖z‖ = {float(np.linalg.norm(z)) if z is not None else float('nan'):.3f}); the heads' "
        f"outputs are projected and added to the stream, {mlp}. The last stream becomes logits "
        "over the vocabulary, and softmax(logits / temperature) the next-token probabilities."
    )


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    walk = result(cap, inp)
    if isinstance(walk, Note):
        return [walk]
    f, p = inp.focus, walk.position
    names, values = _steps(walk)
    assert cap.scaled_scores is not None and cap.patterns is not None
    head = f"Layer {f.layer} head {f.head}, query {p}"
    probs = probabilities(walk.logits, inp.interp.temperature).numpy()
    vocab = inp.lab.vocab() if inp.lab is not None else [str(i) for i in range(len(probs))]
    return [
        Note(_sentence(cap, inp, walk)),
        Chart("walk_stream_fig", stream_steps(values, names, title=f"The stream at position {p}")),
        Chart(
            "walk_scores_fig",
            key_bars(
                cap.scaled_scores[f.layer, f.head, p],
                cap.tokens,
                title=f"{head}: scores q·k/√d",
                value_name="score",
            ),
        ),
        Chart(
            "walk_weights_fig",
            key_bars(
                cap.patterns[f.layer, f.head, p],
                cap.tokens,
                title=f"{head}: softmax, the weights of the weighted sum",
                value_name="weight",
            ),
        ),
        Chart(
            "walk_probs_fig",
            next_token_bars(probs, walk.logits.numpy(), vocab, temperature=inp.interp.temperature),
        ),
    ]


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    walk = result(cap, inp)
    if isinstance(walk, Note):
        return walk
    names, values = _steps(walk)
    dims = [f"d{i}" for i in range(values.shape[1])]
    probs = probabilities(walk.logits, inp.interp.temperature).numpy()
    vocab = inp.lab.vocab() if inp.lab is not None else [str(i) for i in range(len(probs))]
    return [
        Matrix("stream", f"the stream at position {walk.position}", values, names, dims, True),
        Matrix("logits", "logits", walk.logits.numpy()[None], ["logit"], vocab, True),
        Matrix(
            "probs",
            f"probabilities at T = {inp.interp.temperature:g}",
            probs[None],
            ["p"],
            vocab,
            False,
            "probability",
        ),  # fmt: skip
    ]
