"""Explore: every attention internal of one model on the user's prompt, live under the switches.

The tabs are `views.registry.VIEWS`: each view's controls, content and exports come from its entry.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

import streamlit as st

from analysis.capture import Capture
from analysis.prompts import DEFAULT_EXAMPLE, EXAMPLES, alphabet, examples_for, prepare_prompt
from model.checkpoint import Checkpoint
from model.switches import Switches, switch_applies
from ui import controls, scrubber
from ui.sidebar import describe, load_error_key, model_picker, switch_defaults, switch_panel
from ui.state import capture_for, clamp_choice, guard, init_state, keep_state
from ui.url_state import read_url, write_url
from views.archive import archive_bytes
from views.explore import Focus
from views.exports import ExportContext
from views.intro import intro_text
from views.items import Callout
from views.registry import Chart, Html, Item, Note, SideBySide, Table, View, ViewInput, views_for

PLOT_CONFIG = {"displaylogo": False}
# Fourteen tabs overflow one row below ~1700 px and hide behind a scroll arrow: wrap them instead
TABS_WRAP = (
    "<style>[data-testid=stTabs] [role=tablist] { flex-wrap: wrap; row-gap: 0.25rem; }</style>"
)

read_url("sw_")  # a shared link's state, before any widget exists (once per session)
init_state(
    {"prompt": EXAMPLES[DEFAULT_EXAMPLE], "example": DEFAULT_EXAMPLE, **controls.DEFAULTS}
    | switch_defaults("sw_")
)
keep_state(controls.KEYS)
# Generation hands its text over here: a widget's value may only be set before the widget exists.
if "pending_prompt" in st.session_state:
    st.session_state["prompt"] = st.session_state.pop("pending_prompt")


def sidebar() -> tuple[Checkpoint | None, str, Switches]:
    with st.sidebar:
        ckpt = model_picker("explore")
        examples = EXAMPLES if ckpt is None else examples_for(ckpt.tokenizer, ckpt.config.n_ctx)
        if examples:
            clamp_choice("example", list(examples), next(iter(examples)))
            # another model's alphabet: open on an example this one can read
            if st.session_state.get("example_model") != getattr(ckpt, "name", None):
                st.session_state["example_model"] = getattr(ckpt, "name", None)
                if not _encodable(ckpt, st.session_state["prompt"]):
                    st.session_state["prompt"] = examples[st.session_state["example"]]

            def use_example() -> None:
                st.session_state["prompt"] = examples[st.session_state["example"]]
                st.session_state.pop("generation", None)

            st.selectbox("Example prompt", list(examples), key="example", on_change=use_example)
        text = st.text_area("Prompt", key="prompt", height=140)
        if ckpt is not None and (chars := alphabet(ckpt.tokenizer)) is not None:
            if len(chars) <= 40:
                st.caption(f"This model reads only these characters: `{chars}`")
            else:  # too long for a caption line, still worth a look before typing
                with st.expander(f"This model reads {len(chars)} characters"):
                    st.code(chars, language=None, wrap_lines=True)
        st.subheader("Inference switches")
        switches = switch_panel("sw_", ckpt.config) if ckpt is not None else Switches()
    return ckpt, text, switches


def _encodable(ckpt: Checkpoint | None, text: str) -> bool:
    return ckpt is None or prepare_prompt(text, ckpt.tokenizer, ckpt.config.n_ctx).ok


def loss_metrics(cap: Capture, base: Capture, switches: Switches, ckpt: Checkpoint) -> None:
    cols = st.columns(4)
    cols[0].metric("Tokens analysed", len(cap.tokens))
    loss = cap.mean_loss
    if math.isnan(loss):
        cols[1].metric("Loss (nats/token)", "—")
    else:
        delta = None if switches.is_default else f"{loss - base.mean_loss:+.4f} vs unswitched"
        cols[1].metric("Loss (nats/token)", f"{loss:.4f}", delta=delta, delta_color="inverse")
    cols[2].metric(
        "Unswitched loss", "—" if math.isnan(base.mean_loss) else f"{base.mean_loss:.4f}"
    )
    cols[3].metric("Parameters", f"{ckpt.model.n_params():,}")
    st.caption(f"**{ckpt.name}** · {describe(ckpt)} · config {ckpt.config.hash()}")


def show(items: list[Item]) -> None:
    for item in items:
        if isinstance(item, Chart) and item.pick == "head":
            st.plotly_chart(
                item.figure,
                config=PLOT_CONFIG,
                key=item.key,
                on_select=partial(controls.focus_clicked_head, item.key),
                selection_mode="points",
            )
        elif isinstance(item, Chart):
            st.plotly_chart(item.figure, config=PLOT_CONFIG, key=item.key)
        elif isinstance(item, SideBySide):
            for col, chart in zip(st.columns(len(item.charts)), item.charts, strict=True):
                col.plotly_chart(chart.figure, config=PLOT_CONFIG, key=chart.key)
        elif isinstance(item, Html):
            st.html(item.html, unsafe_allow_javascript=item.javascript)
        elif isinstance(item, Table):
            st.dataframe(item.rows, hide_index=True, key=item.key)
        elif isinstance(item, Note):
            st.caption(item.text)
        elif isinstance(item, Callout):
            getattr(st, item.level)(item.text)


def export_panel(view: View, ctx: ExportContext, cap: Capture, inp: ViewInput) -> None:
    """The view's download buttons; bytes are made only when clicked (a callable as `data`), so
    a rerun does not pay for matplotlib and 5 MB HTML files nobody asked for."""
    if not view.exports:
        return
    with st.expander(f"Export: {view.name}"):
        for col, f in zip(st.columns(len(view.exports)), view.exports, strict=True):
            col.download_button(
                f.label,
                lambda f=f: f.data(ctx, cap, inp),
                f.file_name(ctx, inp.focus),
                f.mime,
                key=f"dl_{view.key}_{f.suffix}",
                on_click="ignore",
            )


def export_everything(
    views: list[View], ctx: ExportContext, cap: Capture, page: controls.Page, knocked: tuple
) -> None:
    """One ZIP of every view's files for the state on screen, made only when clicked."""
    n = len(cap.tokens)
    layer, head = st.session_state.get("layer", 0), st.session_state.get("head", 0)
    base = ViewInput(focus=Focus(layer, head, n - 1, n // 2), knocked=knocked)
    lab = controls.interp(page, base).lab
    gen = st.session_state.get("generation") or {}
    steps = tuple(gen.get("steps", ())) if gen.get("model") == page.ckpt.name else ()

    def input_for(view: View) -> ViewInput:
        return replace(base, lab=lab if view.budget_s is not None else None, generation=steps)

    st.download_button(
        "Export everything (.zip)",
        lambda: archive_bytes(ctx, cap, views, input_for),
        f"{ctx.stem}_all.zip",
        "application/zip",
        key="dl_everything",
        on_click="ignore",
        help="Every view's PNG, SVG, CSV and NPZ for what is on screen, and a manifest.",
    )


def unmasked_loss(ckpt: Checkpoint, ids: tuple[int, ...]) -> float | None:
    """The prompt's loss with only the causal mask switched off (cached: the toggle reuses it)."""
    if not switch_applies("causal_mask", ckpt.config):
        return None
    return capture_for(ckpt, ids, Switches(causal_mask=False)).mean_loss


def body() -> None:
    ckpt, text, switches = sidebar()
    st.title("Explore")
    # open on a first visit, folded away afterwards; filled once the model's numbers are known
    intro = st.expander("What am I looking at?", expanded="intro_seen" not in st.session_state)
    st.session_state["intro_seen"] = True
    if ckpt is None:
        intro.markdown(intro_text())
        if not st.session_state.get(load_error_key("explore")):  # else the sidebar says why
            st.info("Pick a model in the sidebar to begin.")
        st.stop()
    at = scrubber.explore_step("explore", ckpt)  # a training snapshot, or None: the weights
    if at is not None:
        cap = base = at.capture
        switches, text = Switches(), at.prompt
        shown = text
    else:
        prepared = prepare_prompt(text, ckpt.tokenizer, ckpt.config.n_ctx)
        for m in prepared.messages:
            getattr(st, m.level)(m.text)
        if not prepared.ok:
            st.stop()
        cap = capture_for(ckpt, prepared.ids, switches)
        base = cap if switches.is_default else capture_for(ckpt, prepared.ids, Switches())
        shown = ckpt.tokenizer.decode(list(prepared.ids))
    intro.markdown(
        intro_text(
            ckpt.name,
            base.mean_loss,
            None if at is not None else unmasked_loss(ckpt, prepared.ids),
            ckpt.config.causal_mask,
        )
    )
    loss_metrics(cap, base, switches, ckpt)
    views = views_for(cap.has_attention)
    if not cap.has_attention:
        hidden = ", ".join(v.name for v in views_for(True) if v not in views)
        st.info(f"{ckpt.name} is an LSTM: it has no attention, so {hidden} do not apply.")
    names = [v.label(cap.has_attention) for v in views]
    clamp_choice("view", names, names[0])
    # a markdown element stays on the page; style-only st.html goes to a container that clears
    st.markdown(TABS_WRAP, unsafe_allow_html=True)
    tabs = st.tabs(names, key="view", on_change="rerun")
    page = controls.Page(ckpt, cap, text, switches)
    knocked = tuple((a.layer, a.head) for a in switches.head_ablations)
    n = len(cap.tokens)
    ctx = ExportContext(scrubber.export_name(ckpt.name, at), ckpt.config, shown, switches)
    for view, tab in zip(views, tabs, strict=True):
        if not tab.open:  # only the open tab is built: a toggle re-renders one view, not eight
            continue
        with tab:
            st.caption(view.help_for(cap.has_attention))
            if at is not None and (why := scrubber.blocked(view.key, at)):
                st.info(f"At step {at.step:,}: {why} Slide to 'final' to draw it.")
                continue
            base_input = ViewInput(focus=Focus(0, 0, n - 1, n - 1), knocked=knocked)
            inp = controls.draw(view.controls, page, base_input)
            show(view.build(cap, inp))
            export_panel(view, ctx, cap, inp)
    export_everything(views, ctx, cap, page, knocked)
    # the address bar links to what is on screen (the model's name, never a typed folder's path)
    model = st.session_state.get("explore_model", ckpt.name)
    write_url(model, text, switches, st.session_state.get("view", names[0]))


with guard("Explore"):
    body()
