"""Activation patching: a corrupted prompt of the prompt's length, denoising or noising; the
recovered logit difference as layer x head (each head's output) and layer x position (the stream
entering each block, each MLP's output) maps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.capture import Capture
from analysis.prompts import prepare_prompt
from views.interp_lab import Matrix, Patching, Request, run_or_note
from views.items import Callout, Chart, Item, Note
from viz.interp_patching import patching_map
from viz.labels import position_labels

if TYPE_CHECKING:
    from model.tokenizers import Tokenizer
    from views.view_input import ViewInput


def corrupted_ids(
    text: str, tokenizer: Tokenizer, n_ctx: int, n_pos: int
) -> tuple[tuple[int, ...] | None, str | None]:
    """(ids, None) when `text` encodes to exactly `n_pos` tokens, else (None, why not)."""
    prepared = prepare_prompt(text, tokenizer, n_ctx)
    errors = [m.text for m in prepared.messages if m.level == "error"]
    if errors:
        return None, "The corrupted prompt: " + " ".join(errors)
    if len(prepared.ids) != n_pos:  # both cut to the last n_ctx tokens alike
        return None, (
            f"The corrupted prompt has {prepared.n_tokens_total} tokens and the prompt has {n_pos}: "
            "patching copies activations position by position, so both must have the same "
            "number of tokens. Change tokens, do not add or remove them."
        )
    return prepared.ids, None


def request(cap: Capture, inp: ViewInput) -> Request | Note:
    if inp.interp.corrupted_problem is not None:
        return Note(inp.interp.corrupted_problem)
    corrupted = inp.interp.corrupted
    if corrupted is None:
        suggested = run_or_note(inp.lab, Request("corruption"))
        if isinstance(suggested, Note):
            return suggested
        corrupted = suggested
    if corrupted == tuple(int(i) for i in cap.ids):
        return Note("The corrupted prompt equals the prompt: change a few tokens.")
    return Request("patching", corrupted=corrupted, direction=inp.interp.direction)


def result(cap: Capture, inp: ViewInput) -> Patching | Note:
    if inp.lab is None:
        return run_or_note(None, Request("patching"))
    req = request(cap, inp)
    if isinstance(req, Note):
        return req
    return run_or_note(inp.lab, req)


def summary(cap: Capture, inp: ViewInput, p: Patching) -> str:
    assert inp.lab is not None
    answer, wrong = inp.lab.token_strings([p.setup.answer, p.setup.wrong])
    differ = (p.setup.clean != p.setup.corrupted).nonzero()[:, 0].tolist()
    return (
        f"Metric: logit({answer}) − logit({wrong}) at the last position; clean run "
        f"{p.heads.clean_metric:.3f}, corrupted run {p.heads.corrupted_metric:.3f} "
        f"(the corrupted prompt differs at position{'s' if len(differ) > 1 else ''} "
        f"{', '.join(map(str, differ))}). Recovered = (patched − corrupted) / (clean − corrupted)."
    )


def caption(cap: Capture, inp: ViewInput) -> str:
    """The metric and the corrupted prompt, for an exported image's context line."""
    p = result(cap, inp)
    if isinstance(p, Note) or inp.lab is None:
        return ""
    answer, wrong = inp.lab.token_strings([p.setup.answer, p.setup.wrong])
    corrupted = inp.lab.tokenizer.decode([int(i) for i in p.setup.corrupted])
    return (
        f"metric: logit({answer!r}) − logit({wrong!r}) at the last position, clean "
        f"{p.heads.clean_metric:.3f}, corrupted {p.heads.corrupted_metric:.3f}; "
        f"{inp.interp.direction}; corrupted prompt: “{corrupted}”"
    )


def site_note(cap: Capture, inp: ViewInput) -> list[Item]:
    """The one site the user picked, patched alone: its recovered fraction in a sentence."""
    hook = inp.interp.site_hook
    req = request(cap, inp)
    if hook is None or isinstance(req, Note):
        return []
    pos = min(max(inp.interp.site_pos, 0), len(cap.tokens) - 1)
    site = Request("patch_site", corrupted=req.corrupted, direction=req.direction, hook=hook,
                   target=pos)  # fmt: skip
    found = run_or_note(inp.lab, site)
    if isinstance(found, Note):
        return [found]
    return [
        Callout(
            f"{hook} at position {pos} ({cap.tokens[pos]!r}), patched alone ({found.direction}): "
            f"recovered {found.recovered:.3f} of the clean logit difference.",
            "info",
        )
    ]


def gap_callout(p: Patching) -> Callout | None:
    """A warning when the runs' gap makes the maps noise or flips their sign
    (`interp.corruption.MetricGap`); a note when the answer was not flipped."""
    gap = p.heads.gap
    message = gap.message()
    if message is None:
        return None
    return Callout(message, "warning" if gap.status != "ok" else "info")


def build(cap: Capture, inp: ViewInput) -> list[Item]:
    p = result(cap, inp)
    if isinstance(p, Note):
        return [p]
    direction = inp.interp.direction
    callout = gap_callout(p)
    return [
        Note(summary(cap, inp, p)),
        *([callout] if callout is not None else []),
        *site_note(cap, inp),
        Chart(
            "patch_heads_fig",
            patching_map(
                p.heads.recovered.numpy(),
                direction=direction,
                site="head",
                title=f"Each head's output patched ({direction}): layer x head",
            ),
        ),
        Chart(
            "patch_resid_fig",
            patching_map(
                p.resid.recovered.numpy(),
                direction=direction,
                site="pos",
                tokens=cap.tokens,
                title=f"Residual stream entering each block, one position patched ({direction})",
            ),
        ),
    ] + _mlp_items(cap, p, direction)


def _mlp_items(cap: Capture, p: Patching, direction: str) -> list[Item]:
    if p.mlps is None:
        return [Note("This model has no MLP (an attention-only transformer): no MLP map.")]
    return [
        Chart(
            "patch_mlps_fig",
            patching_map(
                p.mlps.recovered.numpy(),
                direction=direction,
                site="pos",
                tokens=cap.tokens,
                title=f"Each MLP's output, one position patched ({direction})",
            ),
        )
    ]


def matrices(cap: Capture, inp: ViewInput) -> list[Matrix] | Note:
    p = result(cap, inp)
    if isinstance(p, Note):
        return p
    layers = [f"L{i}" for i in range(p.heads.recovered.shape[0])]
    heads = [f"H{h}" for h in range(p.heads.recovered.shape[1])]
    positions = position_labels(cap.tokens)
    d = inp.interp.direction
    return [
        Matrix(
            "heads",
            f"Patching heads ({d}): recovered",
            p.heads.recovered.numpy(),
            layers,
            heads,
            signed=True,
            value_name="recovered",
        ),
        Matrix(
            "resid",
            f"Patching the residual stream ({d}): recovered",
            p.resid.recovered.numpy(),
            layers,
            positions,
            signed=True,
            value_name="recovered",
        ),
    ] + (
        []
        if p.mlps is None
        else [
            Matrix(
                "mlps",
                f"Patching MLP outputs ({d}): recovered",
                p.mlps.recovered.numpy(),
                layers,
                positions,
                signed=True,
                value_name="recovered",
            )
        ]
    )
