"""The widgets an Explore view declares in `views.registry` (its `controls`), drawn in its tab.

Each control fills its part of the `ViewInput` the view's builder receives; widget keys are
shared across tabs, so the layer chosen in one view is the layer of the next.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from analysis.capture import generate_with_attention
from interp import HeadScores
from model.generate import GenerationSettings
from model.switches import Switches
from ui.head_finder import GRID_PANELS, grid_layers, head_finder
from ui.interp_controls import patching, position_picker, walk
from ui.page import Page
from ui.state import clamp_choice, load_model, stamp_of
from views import interp_heads
from views.interp_lab import InterpLab, Request, run_or_note
from views.registry import Control, ViewInput

# session keys the controls own (kept across runs that do not draw them; see ui.state.keep_state)
KEYS = (
    "layer",
    "head",
    "gamma",
    "q_pos",
    "k_pos",
    "gen_step",
    "lens_measure",
    "lens_pos",
    "dla_target",
    "dla_versus",
    "dla_pos",
    "patch_corrupted",
    "patch_direction",
    "walk_pos",
    "walk_temp",
    "patch_hook",
    "patch_pos",
)
FOCUSED_VIEW = "Focused head"  # the tab a head picked in Head types opens in
DEFAULTS = {"layer": 0, "head": 0, "gamma": 1.0}


def layer_head(page: Page, inp: ViewInput) -> ViewInput:
    cfg = page.ckpt.config
    clamp_choice("layer", list(range(cfg.n_layers)), 0)
    clamp_choice("head", list(range(cfg.n_heads)), 0)
    if cfg.n_layers * cfg.n_heads > GRID_PANELS:  # many heads: find one by name
        head_finder(cfg.n_layers, cfg.n_heads)
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


# (label, widget key, default, step, lowest, highest: None for the vocabulary size, help)
_SAMPLING = (
    ("New tokens", "gen_tokens", 40, 1, 1, 400, None),
    ("Temperature", "gen_temp", 0.8, 0.1, 0.0, 3.0, "0 = greedy"),
    ("Top-k (0 = off)", "gen_topk", 0, 1, 0, None, None),
    ("Top-p", "gen_topp", 1.0, 0.05, 0.05, 1.0, "1 = off"),
    ("Seed", "gen_seed", 0, 1, 0, 2**31 - 1, None),
)


def _generation_settings(vocab_size: int) -> tuple[GenerationSettings | None, str]:
    """The sampling widgets' settings, or None and what is wrong. Ranges are checked here, not by
    the widgets: a number_input with bounds silently swaps a value outside them for its default."""
    values, wrong, cols = [], [], st.columns(len(_SAMPLING))
    for col, (label, key, default, step, low, high, tip) in zip(cols, _SAMPLING, strict=True):
        high = vocab_size if high is None else high
        value = col.number_input(label, value=default, step=step, key=key, help=tip)
        if not low <= value <= high:  # False for NaN too
            wrong.append(f"{label} must be from {low:g} to {high:g}, got {value:g}")
        values.append(value)
    if wrong:
        return None, "; ".join(wrong)
    n_new, temperature, top_k, top_p, seed = values
    try:
        settings = GenerationSettings(
            max_new_tokens=int(n_new),
            temperature=float(temperature),
            top_k=int(top_k) or None,
            top_p=float(top_p) if top_p < 1.0 else None,
            seed=int(seed),
        )
    except ValueError as e:  # a temperature between 0 and the smallest that samples
        return None, str(e).removeprefix("GenerationSettings.")
    return settings, ""


def generation(page: Page, inp: ViewInput) -> ViewInput:
    """Sampling settings and the button; after a run, the generated text and the step slider."""
    ckpt = page.ckpt
    settings, problem = _generation_settings(ckpt.config.vocab_size)
    if problem:
        st.error(f"Cannot generate: {problem}.")
    if st.button("Generate", key="gen_go", type="primary", disabled=settings is None):
        assert settings is not None
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


# --- interpretability ---------------------------------------------------------------------------


@st.cache_data(max_entries=64, show_spinner=False)
def interp_result(
    path: str, stamp: float, ids: tuple[int, ...], switches: Switches, request: Request
) -> object:
    """One interpretability computation, shared by sessions; keyed by small things only.

    Patching draws its progress bar from in here: an element made inside a cached function is
    replayed on a cache hit, where the bar is made and emptied again, so nothing shows."""
    ckpt = load_model(path, stamp)
    lab = InterpLab(ckpt.model, ckpt.tokenizer, ids, switches)
    if request.kind != "patching":
        return lab.compute(request)
    bar = st.progress(0.0, text="Patching…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0), text=f"Patching: {done} of at most {total} runs")

    result = lab.compute(request, progress)
    bar.empty()
    return result


def interp(page: Page, inp: ViewInput) -> ViewInput:
    """No widget: the model, prompt and switches behind the capture, through the cache above."""
    path, stamp = str(Path(page.ckpt.path).resolve()), stamp_of(page.ckpt)
    ids = tuple(int(i) for i in page.cap.ids)

    def cached(request: Request) -> object:
        # head detectors read probes of their own, not the prompt: one entry for every prompt
        key_ids = () if request.kind == "heads" else ids
        return interp_result(path, stamp, key_ids, page.switches, request)

    lab = InterpLab(page.ckpt.model, page.ckpt.tokenizer, ids, page.switches, cached)
    return replace(inp, lab=lab)


def _head_name(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def _focus_picked(open_view: bool) -> None:
    """Make the picked head the layer and head every view focuses on (and open Focused head)."""
    name = st.session_state["focus_head"]
    _set_focus(int(name[1 : name.index("H")]), int(name[name.index("H") + 1 :]), open_view)


def _set_focus(layer: int, head: int, open_view: bool) -> None:
    """The layer and head every view focuses on; open_view also switches to Focused head."""
    st.session_state["layer"], st.session_state["head"] = layer, head
    if open_view:
        st.session_state["view"] = FOCUSED_VIEW


def picked_head(selection: object) -> tuple[int, int] | None:
    """(layer, head) of the first selected point that carries one ([layer, head] customdata: the
    head map's markers; a heatmap cell's hover text does not count)."""
    try:
        points = selection["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    for point in points if isinstance(points, list) else []:
        data = point.get("customdata") if isinstance(point, dict) else None
        if isinstance(data, list | tuple) and len(data) == 2:
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in data):
                return int(data[0]), int(data[1])
    return None


def focus_clicked_head(chart_key: str) -> None:
    """on_select callback of a head map: the clicked head becomes the focus, Focused head opens."""
    picked = picked_head(st.session_state.get(chart_key))
    if picked is not None:
        _set_focus(*picked, open_view=True)


def head_focus(page: Page, inp: ViewInput) -> ViewInput:
    """A head picked by its type: choosing it sets the focus state, the button opens it."""
    cfg = page.ckpt.config
    heads = [_head_name(i, h) for i in range(cfg.n_layers) for h in range(cfg.n_heads)]
    scores = run_or_note(inp.lab, interp_heads.REQUEST)
    labels = {name: name for name in heads}
    if isinstance(scores, HeadScores):
        labels = {
            _head_name(i, h): interp_heads.head_label(scores, i, h)
            for i in range(cfg.n_layers)
            for h in range(cfg.n_heads)
        }
    # follow the focus set elsewhere (Focused head's selectors), so both always agree
    current = _head_name(st.session_state.get("layer", 0), st.session_state.get("head", 0))
    st.session_state["focus_head"] = current if current in heads else heads[0]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.selectbox(
        "Focus a head",
        heads,
        key="focus_head",
        format_func=labels.__getitem__,
        on_change=_focus_picked,
        args=(False,),
        help="Sets the layer and head of the views that show one head.",
    )
    c2.button(f"Open in {FOCUSED_VIEW}", key="focus_open", on_click=_focus_picked, args=(True,))
    return inp


def lens(page: Page, inp: ViewInput) -> ViewInput:
    c1, c2 = st.columns(2)
    clamp_choice("lens_measure", ["prob", "rank"], "prob")
    measure = c1.radio(
        "Colour by",
        ["prob", "rank"],
        key="lens_measure",
        horizontal=True,
        format_func={"prob": "probability", "rank": "rank"}.__getitem__,
        help="Of the true next token, as the lens reads it after each layer.",
    )
    with c2:
        position = position_picker(page, "lens_pos", "Table: top tokens at position")
    return replace(inp, interp=replace(inp.interp, measure=measure, position=position))


NEXT = -1  # the attribution target "the true next token"; as versus: no second token


def logit_target(page: Page, inp: ViewInput) -> ViewInput:
    vocab = page.ckpt.tokenizer.token_strings(list(range(page.ckpt.config.vocab_size)))
    options = [NEXT, *range(len(vocab))]
    clamp_choice("dla_target", options, NEXT)
    clamp_choice("dla_versus", options, NEXT)

    def name(i: int, none: str) -> str:
        return none if i == NEXT else f"{vocab[i]} (id {i})"

    c1, c2, c3 = st.columns(3)
    target = c1.selectbox(
        "Logit of",
        options,
        key="dla_target",
        format_func=lambda i: name(i, "the true next token"),
    )
    versus = c2.selectbox(
        "Minus the logit of",
        options,
        key="dla_versus",
        format_func=lambda i: name(i, "nothing (one logit)"),
        help="A second token makes it a logit difference: which components favour one over the other.",
    )
    with c3:
        position = position_picker(page, "dla_pos", "Bars at position")
    choice = replace(
        inp.interp,
        target=None if target == NEXT else int(target),
        versus=None if versus == NEXT else int(versus),
        position=position,
    )
    return replace(inp, interp=choice)


DRAW = {
    "layer_head": layer_head,
    "gamma": gamma,
    "positions": positions,
    "generation": generation,
    "interp": interp,
    "head_focus": head_focus,
    "lens": lens,
    "logit_target": logit_target,
    "patching": patching,
    "walk": walk,
    "grid_layers": grid_layers,
}


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
