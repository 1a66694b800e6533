"""Explore: every attention internal of one model on the user's prompt, live under the switches."""

from __future__ import annotations

import math

import streamlit as st

from app_lib import exports
from app_lib.capture import Capture, generate_with_attention
from app_lib.figures import (
    Focus,
    entropy_figures,
    generation_figure,
    grid_figure,
    head_figure,
    ln_figures,
    loss_html,
    pipeline_figure,
    qkv_figure,
    resid_figure,
    topk_rows,
)
from app_lib.prompts import DEFAULT_EXAMPLE, EXAMPLES, prepare_prompt
from app_lib.state import capture_for, clamp_choice, guard, init_state
from app_lib.widgets import describe, model_picker, switch_defaults, switch_panel
from model.checkpoint import Checkpoint
from model.generate import GenerationSettings
from model.switches import Switches

VIEWS = [
    "Grid",
    "Focused head",
    "Score pipeline",
    "Q/K/V",
    "Residual & LayerNorm",
    "Entropy",
    "Per-token loss",
    "Generate",
]
ATTENTION_VIEWS = {"Grid", "Focused head", "Score pipeline", "Q/K/V", "Entropy"}
PLOT_CONFIG = {"displaylogo": False}

init_state(
    {
        "prompt": EXAMPLES[DEFAULT_EXAMPLE],
        "example": DEFAULT_EXAMPLE,
        "layer": 0,
        "head": 0,
        "gamma": 1.0,
        **switch_defaults("sw_"),
    }
)
# Generation hands its text over here: a widget's value may only be set before the widget exists.
if "pending_prompt" in st.session_state:
    st.session_state["prompt"] = st.session_state.pop("pending_prompt")


def _use_example() -> None:
    st.session_state["prompt"] = EXAMPLES[st.session_state["example"]]
    st.session_state.pop("generation", None)


def sidebar() -> tuple[Checkpoint | None, str, Switches]:
    with st.sidebar:
        ckpt = model_picker("explore")
        st.selectbox("Example prompt", list(EXAMPLES), key="example", on_change=_use_example)
        text = st.text_area("Prompt", key="prompt", height=140)
        st.subheader("Inference switches")
        switches = switch_panel("sw_", ckpt.config) if ckpt is not None else Switches()
    return ckpt, text, switches


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


def focus_controls(ckpt: Checkpoint) -> tuple[int, int]:
    cfg = ckpt.config
    clamp_choice("layer", list(range(cfg.n_layers)), 0)
    clamp_choice("head", list(range(cfg.n_heads)), 0)
    c1, c2, c3 = st.columns([1, 1, 2])
    layer = c1.selectbox("Layer", range(cfg.n_layers), key="layer")
    head = c2.selectbox("Head", range(cfg.n_heads), key="head")
    c3.slider(
        "Colour gamma",
        0.2,
        1.0,
        key="gamma",
        step=0.1,
        help="Below 1 brightens small weights; values in hover boxes stay exact.",
    )
    return layer, head


def position_controls(cap: Capture) -> tuple[int, int]:
    n = len(cap.tokens)
    positions = list(range(n))
    clamp_choice("q_pos", positions, n - 1)
    clamp_choice("k_pos", positions, n - 1)
    label = {i: f"{i} {t}" for i, t in enumerate(cap.tokens)}
    c1, c2 = st.columns(2)
    q = c1.selectbox("Query token", positions, key="q_pos", format_func=label.__getitem__)
    k = c2.selectbox("Key token", positions, key="k_pos", format_func=label.__getitem__)
    return q, k


def export_panel(ctx: exports.ExportContext, cap: Capture, focus: Focus) -> None:
    """Download buttons; the bytes are made only when clicked (a callable as `data`), so a
    rerun does not pay for matplotlib and 5 MB HTML files nobody asked for."""
    stem = f"{ctx.model_name}_L{focus.layer}H{focus.head}"
    grid_stem = f"{ctx.model_name}_grid"
    # (label, make bytes, file name, MIME type, widget key)
    head_files = [
        (
            "PNG",
            lambda: exports.head_png(ctx, cap, focus),
            f"{stem}.png",
            "image/png",
            "dl_head_png",
        ),
        (
            "SVG",
            lambda: exports.head_svg(ctx, cap, focus),
            f"{stem}.svg",
            "image/svg+xml",
            "dl_head_svg",
        ),
        (
            "HTML",
            lambda: exports.head_html(ctx, cap, focus),
            f"{stem}.html",
            "text/html",
            "dl_head_html",
        ),
        ("CSV", lambda: exports.head_csv(cap, focus), f"{stem}.csv", "text/csv", "dl_head_csv"),
        (
            "NPZ (all tensors)",
            lambda: exports.npz_bytes(ctx, cap),
            f"{ctx.model_name}_activations.npz",
            "application/octet-stream",
            "dl_npz",
        ),
    ]
    grid_files = [
        ("PNG", lambda: exports.grid_png(ctx, cap), f"{grid_stem}.png", "image/png", "dl_grid_png"),
        (
            "SVG",
            lambda: exports.grid_svg(ctx, cap),
            f"{grid_stem}.svg",
            "image/svg+xml",
            "dl_grid_svg",
        ),
        (
            "HTML",
            lambda: exports.grid_html(ctx, cap),
            f"{grid_stem}.html",
            "text/html",
            "dl_grid_html",
        ),
    ]
    for title, files in (("Focused head", head_files), ("Layer × head grid", grid_files)):
        st.markdown(f"**{title}**")
        for col, (label, data, name, mime, key) in zip(st.columns(5), files, strict=False):
            col.download_button(label, data, name, mime, key=key, on_click="ignore")


def generate_view(ckpt: Checkpoint, cap: Capture, text: str, switches: Switches) -> None:
    cfg = ckpt.config
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
        steps = []
        new_ids: list[int] = []
        for step in generate_with_attention(
            ckpt.model, tuple(int(i) for i in cap.ids), settings, switches
        ):
            steps.append(step)
            new_ids.append(step.token)
            shown.markdown(f"```\n{ckpt.tokenizer.decode(new_ids)}\n```")
        generated = ckpt.tokenizer.decode(new_ids)
        # the analysed sequence becomes prompt + generated, so every view above shows the new
        # tokens as queries; the per-step rows recorded through the KV cache are kept alongside
        st.session_state["generation"] = {"steps": steps, "text": generated, "model": ckpt.name}
        st.session_state["pending_prompt"] = text + generated
        st.rerun()
    gen = st.session_state.get("generation")
    if not gen or gen["model"] != ckpt.name:
        st.caption(
            "Sampling streams through the KV cache. Afterwards the prompt plus the generated text is "
            "analysed in every view, and the attention recorded at each sampling step is shown here."
        )
        return
    st.markdown("**Generated** (appended to the prompt):")
    st.code(gen["text"], language=None)
    steps = [s for s in gen["steps"] if s.rows is not None]
    if not steps or not cap.has_attention:
        return
    offsets = list(range(len(steps)))
    clamp_choice("gen_step", offsets, 0)
    i = st.select_slider(
        "Sampling step",
        offsets,
        key="gen_step",
        format_func=lambda j: f"{j + 1}: query at {steps[j].query_pos}",
    )
    step = steps[i]
    if step.query_pos < len(cap.tokens):
        st.plotly_chart(generation_figure(step, cap.tokens), config=PLOT_CONFIG, key="gen_fig")
    else:
        st.caption("That step lies outside the analysed window.")


def body() -> None:
    ckpt, text, switches = sidebar()
    st.title("Explore")
    if ckpt is None:
        st.info("Pick a model in the sidebar to begin.")
        st.stop()
    prepared = prepare_prompt(text, ckpt.tokenizer, ckpt.config.n_ctx)
    for m in prepared.messages:
        getattr(st, m.level)(m.text)
    if not prepared.ok:
        st.stop()

    cap = capture_for(ckpt, prepared.ids, switches)
    base = cap if switches.is_default else capture_for(ckpt, prepared.ids, Switches())
    loss_metrics(cap, base, switches, ckpt)
    if not cap.has_attention:
        st.info(
            f"{ckpt.name} is an LSTM: it has no attention, so the grid, focused head, score "
            "pipeline, Q/K/V and entropy views do not apply. Its hidden-state norms, per-token "
            "loss and generation are shown."
        )
        views = [v for v in VIEWS if v not in ATTENTION_VIEWS]
        layer, head = 0, 0
    else:
        views = VIEWS
        layer, head = focus_controls(ckpt)
    clamp_choice("view", views, views[0])
    tabs = dict(zip(views, st.tabs(views, key="view", on_change="rerun"), strict=True))
    gamma = float(st.session_state["gamma"])
    focus = Focus(layer, head, len(cap.tokens) - 1, len(cap.tokens) - 1)

    def show(name: str) -> bool:
        return name in tabs and bool(tabs[name].open)

    # Only the open tab is built: a switch toggle re-renders one view, not eight.
    if show("Grid"):
        with tabs["Grid"]:
            st.plotly_chart(grid_figure(cap, gamma), config=PLOT_CONFIG, key="grid_fig")
    if show("Focused head"):
        with tabs["Focused head"]:
            st.plotly_chart(head_figure(cap, focus, gamma), config=PLOT_CONFIG, key="head_fig")
    if show("Score pipeline"):
        with tabs["Score pipeline"]:
            st.plotly_chart(pipeline_figure(cap, focus), config=PLOT_CONFIG, key="pipeline_fig")
    if show("Q/K/V"):
        with tabs["Q/K/V"]:
            q, k = position_controls(cap)
            focus = Focus(layer, head, q, k)
            st.plotly_chart(qkv_figure(cap, focus), config=PLOT_CONFIG, key="qkv_fig")
    if show("Residual & LayerNorm"):
        with tabs["Residual & LayerNorm"]:
            st.plotly_chart(resid_figure(cap), config=PLOT_CONFIG, key="resid_fig")
            ln = ln_figures(cap)
            if ln is None:
                st.caption("No LayerNorm ran (switched off, or the model has none).")
            else:
                st.plotly_chart(ln[0], config=PLOT_CONFIG, key="ln_mean_fig")
                st.plotly_chart(ln[1], config=PLOT_CONFIG, key="ln_std_fig")
    if show("Entropy"):
        with tabs["Entropy"]:
            causal = ckpt.config.causal_mask and switches.causal_mask
            heat, bars = entropy_figures(cap, causal)
            c1, c2 = st.columns(2)
            c1.plotly_chart(heat, config=PLOT_CONFIG, key="entropy_map_fig")
            c2.plotly_chart(bars, config=PLOT_CONFIG, key="entropy_bars_fig")
    if show("Per-token loss"):
        with tabs["Per-token loss"]:
            st.html(loss_html(cap))
            st.caption("Hover a token for its loss and the top predictions made before it.")
            st.dataframe(topk_rows(cap), hide_index=True, key="topk_table")
    if show("Generate"):
        with tabs["Generate"]:
            generate_view(ckpt, cap, text, switches)

    if cap.has_attention:
        with st.expander("Export the focused head and the grid"):
            ctx = exports.ExportContext(
                ckpt.name, ckpt.config, ckpt.tokenizer.decode(list(prepared.ids)), switches
            )
            export_panel(ctx, cap, focus)


with guard("Explore"):
    body()
