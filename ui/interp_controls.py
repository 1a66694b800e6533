"""The Explore controls of the views that compute from the model with choices of their own:
patching's corrupted prompt and direction, the token walk's token and temperature (and the
position picker the interpretability controls share). Drawn through `ui.controls.DRAW`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import streamlit as st

from interp.patch_site import patchable_hooks
from ui.state import clamp_choice
from views.interp_lab import Request, run_or_note
from views.interp_patching import corrupted_ids
from views.items import Note
from views.view_input import ViewInput

if TYPE_CHECKING:
    from ui.page import Page


def position_picker(page: Page, key: str, label: str) -> int:
    tokens = page.cap.tokens
    options = list(range(len(tokens)))
    clamp_choice(key, options, len(tokens) - 1)
    names = {i: f"{i} {t}" for i, t in enumerate(tokens)}
    return int(st.selectbox(label, options, key=key, format_func=names.__getitem__))


def patching(page: Page, inp: ViewInput) -> ViewInput:
    """The corrupted prompt (a suggestion until the user types one) and the direction."""
    ckpt, ids = page.ckpt, tuple(int(i) for i in page.cap.ids)
    basis = f"{ckpt.name}:{hash(ids)}"
    if st.session_state.get("patch_basis") != basis:  # a new prompt or model: a new suggestion
        st.session_state["patch_basis"] = basis
        # one token edited so that the model's answer flips (interp.corruption), through the cache
        suggested = run_or_note(inp.lab, Request("corruption"))
        suggested = ids if isinstance(suggested, Note) else suggested
        st.session_state["patch_corrupted"] = ckpt.tokenizer.decode(list(suggested))
    text = st.text_area(
        f"Corrupted prompt ({len(ids)} tokens, like the prompt)",
        key="patch_corrupted",
        height=90,
        help="The prompt with a few tokens changed; the suggestion is a one-token edit that flips "
        "the model's answer. The metric is the logit difference between the clean run's answer "
        "and the corrupted run's at the last position.",
    )
    direction = st.radio(
        "Direction",
        ["denoising", "noising"],
        key="patch_direction",
        horizontal=True,
        help="denoising: run the corrupted prompt, patch in one clean activation (is it "
        "sufficient?). noising: run the clean prompt, patch in one corrupted activation (is it "
        "necessary?).",
    )
    hooks = ["none", *patchable_hooks(ckpt.model)]
    clamp_choice("patch_hook", hooks, "none")
    c1, c2 = st.columns(2)
    hook = c1.selectbox(
        "Also patch one site",
        hooks,
        key="patch_hook",
        help="Any activation with a position axis (the stream, what a sublayer writes, a head's "
        "q, k, v or z), copied at the position on the right alone.",
    )
    with c2:
        site_pos = position_picker(page, "patch_pos", "at position")
    corrupted, problem = corrupted_ids(text, ckpt.tokenizer, ckpt.config.n_ctx, len(ids))
    if problem is not None:
        st.warning(problem)
    choice = replace(
        inp.interp,
        corrupted=corrupted,
        corrupted_problem=problem,
        direction=direction,
        site_hook=None if hook == "none" else hook,
        site_pos=site_pos,
    )
    return replace(inp, interp=choice)


def walk(page: Page, inp: ViewInput) -> ViewInput:
    """Token walk: the token followed, and the temperature of its next-token probabilities."""
    c1, c2 = st.columns(2)
    with c1:
        position = position_picker(page, "walk_pos", "Token")
    temperature = c2.slider(
        "Temperature",
        0.0,
        3.0,
        1.0,
        0.05,
        key="walk_temp",
        help="The probabilities are softmax(logits / temperature); 0 = all on the top token.",
    )
    choice = replace(inp.interp, position=position, temperature=float(temperature))
    return replace(inp, interp=choice)
