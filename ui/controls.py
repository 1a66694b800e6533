"""The widgets an Explore view declares in `views.registry` (its `controls`), drawn in its tab.

Each control fills its part of the `ViewInput` the view's builder receives; widget keys are
shared across tabs, so the layer chosen in one view is the layer of the next.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from analysis.capture import Capture, generate_with_attention
from model.checkpoint import Checkpoint
from model.generate import GenerationSettings
from model.switches import Switches
from ui.state import clamp_choice
from views.registry import Control, ViewInput

# session keys the controls own (kept across runs that do not draw them; see ui.state.keep_state)
KEYS = ("layer", "head", "gamma", "q_pos", "k_pos", "gen_step")
DEFAULTS = {"layer": 0, "head": 0, "gamma": 1.0}


@dataclass(frozen=True)
class Page:
    """What the controls need to know of the page: the model, the capture, the prompt, switches."""

    ckpt: Checkpoint
    cap: Capture
    text: str
    switches: Switches


def layer_head(page: Page, inp: ViewInput) -> ViewInput:
    cfg = page.ckpt.config
    clamp_choice("layer", list(range(cfg.n_layers)), 0)
    clamp_choice("head", list(range(cfg.n_heads)), 0)
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", range(cfg.n_layers), key="layer")
    head = c2.selectbox("Head", range(cfg.n_heads), key="head")
    return replace(inp, focus=replace(inp.focus, layer=layer, head=head))


def gamma(page: Page, inp: ViewInput) -> ViewInput:
    value = st.slider(
        "Colour gamma",
        0.2,
        1.0,
        key="gamma",
        step=0.1,
        help="Below 1 brightens small weights; values in hover boxes stay exact.",
    )
    return replace(inp, gamma=float(value))


def positions(page: Page, inp: ViewInput) -> ViewInput:
    tokens = page.cap.tokens
    n = len(tokens)
    options = list(range(n))
    clamp_choice("q_pos", options, n - 1)
    clamp_choice("k_pos", options, n - 1)
    label = {i: f"{i} {t}" for i, t in enumerate(tokens)}
    c1, c2 = st.columns(2)
    q = c1.selectbox("Query token", options, key="q_pos", format_func=label.__getitem__)
    k = c2.selectbox("Key token", options, key="k_pos", format_func=label.__getitem__)
    return replace(inp, focus=replace(inp.focus, q_pos=q, k_pos=k))


def generation(page: Page, inp: ViewInput) -> ViewInput:
    """Sampling settings and the button; after a run, the generated text and the step slider."""
    ckpt, cfg = page.ckpt, page.ckpt.config
    c1, c2, c3, c4, c5 = st.columns(5)
    n_new = c1.number_input("New tokens", 1, 400, 40, key="gen_tokens")
    temperature = c2.number_input(
        "Temperature", 0.0, 3.0, 0.8, 0.1, key="gen_temp", help="0 = greedy"
    )
    top_k = c3.number_input("Top-k (0 = off)", 0, cfg.vocab_size, 0, key="gen_topk")
    top_p = c4.number_input("Top-p", 0.05, 1.0, 1.0, 0.05, key="gen_topp", help="1 = off")
    seed = c5.number_input("Seed", 0, 2**31 - 1, 0, key="gen_seed")
    settings = GenerationSettings(
        max_new_tokens=int(n_new),
        temperature=float(temperature),
        top_k=int(top_k) or None,
        top_p=float(top_p) if top_p < 1.0 else None,
        seed=int(seed),
    )
    if st.button("Generate", key="gen_go", type="primary"):
        shown = st.empty()
        steps, new_ids = [], []
        ids = tuple(int(i) for i in page.cap.ids)
        for step in generate_with_attention(ckpt.model, ids, settings, page.switches):
            steps.append(step)
            new_ids.append(step.token)
            shown.markdown(f"```\n{ckpt.tokenizer.decode(new_ids)}\n```")
        generated = ckpt.tokenizer.decode(new_ids)
        # the analysed sequence becomes prompt + generated, so every view shows the new tokens as
        # queries; the per-step rows recorded through the KV cache are kept alongside
        st.session_state["generation"] = {"steps": steps, "text": generated, "model": ckpt.name}
        st.session_state["pending_prompt"] = page.text + generated
        st.rerun()
    gen = st.session_state.get("generation")
    if not gen or gen["model"] != ckpt.name:
        st.caption(
            "Sampling streams through the KV cache. Afterwards the prompt plus the generated text "
            "is analysed in every view, and the attention recorded at each step is shown here."
        )
        return inp
    st.markdown("**Generated** (appended to the prompt):")
    st.code(gen["text"], language=None)
    steps = tuple(s for s in gen["steps"] if s.rows is not None)
    if not steps or not page.cap.has_attention:
        return replace(inp, generation=tuple(gen["steps"]))
    offsets = list(range(len(steps)))
    clamp_choice("gen_step", offsets, 0)
    i = st.select_slider(
        "Sampling step",
        offsets,
        key="gen_step",
        format_func=lambda j: f"{j + 1}: query at {steps[j].query_pos}",
    )
    return replace(inp, generation=steps, step=int(i))


DRAW = {"layer_head": layer_head, "gamma": gamma, "positions": positions, "generation": generation}


def draw(controls: tuple[Control, ...], page: Page, base: ViewInput) -> ViewInput:
    """Draw a view's controls in order; each returns the input with its part filled in."""
    inp = base
    if "layer_head" in controls and "gamma" in controls:  # one row: layer, head, gamma
        left, right = st.columns([2, 1])
        with left:
            inp = layer_head(page, inp)
        with right:
            inp = gamma(page, inp)
        controls = tuple(c for c in controls if c not in ("layer_head", "gamma"))
    for control in controls:
        inp = DRAW[control](page, inp)
    return inp
