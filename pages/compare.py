"""Compare: two models, or one model under two switch sets, on the same prompt; and the recorded
training curves and metrics of every shipped variant."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from analysis.capture import Capture
from analysis.catalog import (
    PER_CHAR,
    default_metric,
    is_per_token,
    list_recorded,
    read_record,
    record_curve,
    record_metrics,
    seed_std,
)
from analysis.prompts import DEFAULT_EXAMPLE, EXAMPLES, prepare_prompt
from model.checkpoint import Checkpoint
from model.switches import Switches
from ui import scrubber
from ui.sidebar import (
    describe,
    load_error_key,
    model_picker,
    switch_defaults,
    switch_keys,
    switch_panel,
)
from ui.state import capture_for, clamp_choice, guard, init_state, keep_state
from views.explore import GRID_POSITIONS
from viz.attention import head_heatmap, pattern_difference
from viz.colors import run_colors
from viz.curves import metric_bars, position_loss_curves, training_curves
from viz.mosaic import pattern_mosaic
from viz.stats import layer_pos_heatmap

MODES = ["Two models", "One model, two switch sets"]
PLOT_CONFIG = {"displaylogo": False}
DIFF_POSITIONS = 128  # pool longer prompts in the three-panel difference figure

init_state(
    {
        "cmp_mode": MODES[0],
        "cmp_prompt": EXAMPLES[DEFAULT_EXAMPLE],
        "cmp_layer": 0,
        "cmp_head": 0,
        **switch_defaults("a_"),
        **switch_defaults("b_"),
    }
)
# Model B's picker is not drawn in one-model mode; keep its choice for the way back
keep_state(["cmp_b_model", "cmp_b_path"])


def sidebar() -> tuple[Checkpoint | None, Checkpoint | None, str, Switches, Switches]:
    with st.sidebar:
        mode = st.radio("Compare", MODES, key="cmp_mode")
        ckpt_a = model_picker("cmp_a", "Model A")
        if mode == MODES[0]:
            ckpt_b = model_picker("cmp_b", "Model B", default_index=1)
        else:
            ckpt_b = ckpt_a
            st.session_state.pop(load_error_key("cmp_b"), None)  # its picker is not drawn
        text = st.text_area("Prompt", key="cmp_prompt", height=120)
        sw_a = _switches("A", "a_", ckpt_a, mode)
        sw_b = _switches("B", "b_", ckpt_b, mode)
    return ckpt_a, ckpt_b, text, sw_a, sw_b


def _switches(side: str, prefix: str, ckpt: Checkpoint | None, mode: str) -> Switches:
    """A side's switch panel, never folded away while something is switched off: switches set in
    "one model" mode stay in force in "two models" mode, so they must stay in sight."""
    defaults = switch_defaults(prefix)
    changed = [k for k in switch_keys(prefix) if st.session_state.get(k) != defaults[k]]
    changed = [k for k in changed if not k.endswith("ko_mode")]  # the mode alone changes nothing
    title = f"Switches of {side}" + (" (some switched off)" if changed else "")
    with st.expander(title, expanded=mode == MODES[1] or bool(changed)):
        return switch_panel(prefix, ckpt.config) if ckpt is not None else Switches()


def run_side(name: str, ckpt: Checkpoint, text: str, switches: Switches) -> Capture | None:
    prepared = prepare_prompt(text, ckpt.tokenizer, ckpt.config.n_ctx)
    for m in prepared.messages:
        getattr(st, m.level)(f"{name}: {m.text}")
    if not prepared.ok:
        return None
    return capture_for(ckpt, prepared.ids, switches)


def label(name: str, ckpt: Checkpoint, switches: Switches) -> str:
    if switches.is_default:
        return f"{name}: {ckpt.name}"
    return f"{name}: {ckpt.name} ({switches.describe()})"


def same_tokenizer(a: Checkpoint, b: Checkpoint) -> bool:
    return a.tokenizer.to_json() == b.tokenizer.to_json()


def loss_row(cap_a: Capture, cap_b: Capture, label_a: str, label_b: str, per_char: bool) -> None:
    """Nats per token with one tokenizer; bits per character when the two differ, since a BPE
    token spans several characters and its loss is not on the same scale as a character's."""
    cols = st.columns(3)
    if per_char:
        la, lb, unit = cap_a.bits_per_char, cap_b.bits_per_char, "bits/char"
        st.caption(
            "The two models split text differently, so the prompt's loss is compared in bits per "
            "character (nats per token would favour the tokenizer with more, shorter tokens)."
        )
    else:
        la, lb, unit = cap_a.mean_loss, cap_b.mean_loss, "nats/token"
    cols[0].metric(f"Loss {label_a} ({unit})", "—" if math.isnan(la) else f"{la:.4f}")
    cols[1].metric(f"Loss {label_b} ({unit})", "—" if math.isnan(lb) else f"{lb:.4f}")
    delta = lb - la
    cols[2].metric("B − A", "—" if math.isnan(delta) else f"{delta:+.4f}")


def difference_grid(
    cap_a: Capture, cap_b: Capture, n_layers: int, n_heads: int, la: str, lb: str
) -> go.Figure:
    """A − B for every head both sides have, on one diverging scale."""
    assert cap_a.patterns is not None and cap_b.patterns is not None
    a = cap_a.patterns[:n_layers, :n_heads]
    b = cap_b.patterns[:n_layers, :n_heads]
    return pattern_mosaic(
        a - b,
        cap_a.tokens,
        title=f"Every head: {la} − {lb} (red: A attends more)",
        max_positions=GRID_POSITIONS,
        signed=True,
        value_name="A − B",
    )


def patterns(
    cap_a: Capture, cap_b: Capture, ckpt_a: Checkpoint, ckpt_b: Checkpoint, la: str, lb: str
) -> None:
    if not (cap_a.has_attention and cap_b.has_attention):
        st.info(
            "Attention views do not apply: at least one side is an LSTM, which has no attention."
        )
        return
    n_layers = min(ckpt_a.config.n_layers, ckpt_b.config.n_layers)
    n_heads = min(ckpt_a.config.n_heads, ckpt_b.config.n_heads)
    assert cap_a.patterns is not None and cap_b.patterns is not None
    if cap_a.tokens == cap_b.tokens:  # every head at once, then one head in detail below
        st.plotly_chart(
            difference_grid(cap_a, cap_b, n_layers, n_heads, la, lb),
            config=PLOT_CONFIG,
            key="cmp_grid_diff_fig",
        )
    clamp_choice("cmp_layer", list(range(n_layers)), 0)
    clamp_choice("cmp_head", list(range(n_heads)), 0)
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", range(n_layers), key="cmp_layer")
    head = c2.selectbox("Head", range(n_heads), key="cmp_head")
    assert cap_a.patterns is not None and cap_b.patterns is not None
    pa, pb = cap_a.patterns[layer, head], cap_b.patterns[layer, head]
    title = f"Layer {layer} head {head}"
    if pa.shape == pb.shape and cap_a.tokens == cap_b.tokens:
        fig = pattern_difference(
            pa, pb, cap_a.tokens, labels=(la, lb), title=title, max_positions=DIFF_POSITIONS
        )
        st.plotly_chart(fig, config=PLOT_CONFIG, key="cmp_diff_fig")
    else:
        st.caption(
            "The two tokenizers split the prompt differently, so the patterns are shown side by side without a difference."
        )
        c1, c2 = st.columns(2)
        c1.plotly_chart(
            head_heatmap(pa, cap_a.tokens, title=f"{la} · {title}", height=480),
            config=PLOT_CONFIG,
            key="cmp_a_fig",
        )
        c2.plotly_chart(
            head_heatmap(pb, cap_b.tokens, title=f"{lb} · {title}", height=480),
            config=PLOT_CONFIG,
            key="cmp_b_fig",
        )


def residuals_and_loss(cap_a: Capture, cap_b: Capture, la: str, lb: str) -> None:
    c1, c2 = st.columns(2)
    for col, cap, name, key in ((c1, cap_a, la, "cmp_resid_a"), (c2, cap_b, lb, "cmp_resid_b")):
        fig = layer_pos_heatmap(
            cap.resid_norms,
            cap.tokens,
            title=f"{'Residual' if cap.has_attention else 'LSTM hidden-state'} norm · {name}",
            row_labels=cap.stream_labels,
            value_name="‖x‖",
        )
        col.plotly_chart(fig, config=PLOT_CONFIG, key=key)
    same = cap_a.tokens == cap_b.tokens
    names = (la, lb) if la != lb else (f"{la} (A)", f"{lb} (B)")
    fig = position_loss_curves(
        {names[0]: cap_a.losses, names[1]: cap_b.losses},
        tokens=cap_a.tokens if same else None,
        title="Per-token loss",
    )
    st.plotly_chart(fig, config=PLOT_CONFIG, key="cmp_loss_fig")


def records_section(compared: list[str]) -> None:
    """compared: the models in the sidebar, the curves drawn at first."""
    st.header("Recorded training runs")
    variants = list_recorded()  # weights or not: the suite may record without shipping them
    colors = run_colors([v.name for v in variants])  # one colour per variant on every chart
    reads = {v.name: read_record(v.path) for v in variants}
    notes = [f"**{name}**: {r.note}" for name, r in reads.items() if r.note]
    if notes:
        with st.expander(f"{len(notes)} record(s) not shown", expanded=len(notes) == len(reads)):
            st.markdown("\n".join(f"- {n}" for n in notes))
    records = {name: r.record for name, r in reads.items() if r.record is not None}
    if not records:
        st.info("No shipped variant has a record.json this app can read yet.")
        return
    tokenizers = {r.tokenizer for r in records.values()}
    mixed = len(tokenizers) > 1
    if mixed:
        st.caption(
            f"These runs use different tokenizers ({', '.join(sorted(tokenizers))}): losses are "
            "compared in bits per character; nats per token would favour the tokenizer with more, "
            "shorter tokens."
        )
    y = (PER_CHAR,) if mixed else ("train_loss", "val_loss")
    curves = {name: c for name, r in records.items() if (c := record_curve(r))}
    if curves:  # forty runs on one chart (the reversal task's among them) read as noise
        default = [n for n in dict.fromkeys(compared) if n in curves] or list(curves)[:2]
        if st.session_state.get("cmp_curve_basis") != default:  # other models compared: theirs
            st.session_state["cmp_curve_basis"] = default
            st.session_state["cmp_curve_runs"] = default
        kept = [n for n in st.session_state.get("cmp_curve_runs", default) if n in curves]
        st.session_state["cmp_curve_runs"] = kept  # a record gone since is dropped, not an error
        chosen = st.multiselect("Runs on the curves chart", list(curves), key="cmp_curve_runs")
        curves = {name: curves[name] for name in chosen}
    if curves:
        try:
            fig = training_curves(
                curves, y=y, colors=colors, y_title="bits per character" if mixed else "loss"
            )
            st.plotly_chart(fig, config=PLOT_CONFIG, key="cmp_curves_fig")
        except ValueError as e:  # no curve has those metrics: say so, keep the page
            st.warning(f"Training curves could not be drawn: {e}")
    metrics = {name: record_metrics(r) for name, r in records.items()}
    rows = [
        {"variant": name, "tokenizer": records[name].tokenizer, **m} for name, m in metrics.items()
    ]
    st.dataframe(rows, hide_index=True, key="cmp_metrics_table")
    shared = sorted({k for m in metrics.values() for k in m})
    default = default_metric(shared, tokenizers)
    if default is None:
        return
    clamp_choice("cmp_metric", shared, default)
    metric = st.selectbox("Metric", shared, key="cmp_metric")
    if mixed and is_per_token(metric):
        st.warning(
            f"{metric} is in nats per token, and these runs use different tokenizers: compare "
            f"{PER_CHAR} (bits per character) instead."
        )
    values = {
        name: m[metric] for name, m in metrics.items() if metric in m and math.isfinite(m[metric])
    }
    if values:
        reference = "baseline" if "baseline" in values else None
        stds = {n: sd for n in values if (sd := seed_std(records[n], metric)) is not None}
        st.plotly_chart(
            metric_bars(
                values, title=metric, reference=reference, colors=colors, errors=stds or None
            ),
            config=PLOT_CONFIG,
            key="cmp_bars_fig",
        )


def body() -> None:
    ckpt_a, ckpt_b, text, sw_a, sw_b = sidebar()
    st.title("Compare")
    if ckpt_a is None or ckpt_b is None:
        if not any(st.session_state.get(load_error_key(p)) for p in ("cmp_a", "cmp_b")):
            st.info("Pick two models (or one) in the sidebar.")
    else:
        st.caption(
            f"A: **{ckpt_a.name}** · {describe(ckpt_a)}  \nB: **{ckpt_b.name}** · {describe(ckpt_b)}"
        )
        at_a, at_b = scrubber.compare_steps("cmp", ckpt_a, ckpt_b)  # None: the weights
        cap_a = at_a.capture if at_a is not None else run_side("A", ckpt_a, text, sw_a)
        cap_b = at_b.capture if at_b is not None else run_side("B", ckpt_b, text, sw_b)
        if cap_a is not None and cap_b is not None:
            la = scrubber.step_label(label("A", ckpt_a, sw_a), at_a)
            lb = scrubber.step_label(label("B", ckpt_b, sw_b), at_b)
            loss_row(cap_a, cap_b, la, lb, per_char=not same_tokenizer(ckpt_a, ckpt_b))
            patterns(cap_a, cap_b, ckpt_a, ckpt_b, la, lb)
            if why := scrubber.blocked_either("stream", at_a, at_b):
                st.info(f"Residual norms and per-token loss: {why}")
            else:
                residuals_and_loss(cap_a, cap_b, la, lb)
    records_section([c.name for c in (ckpt_a, ckpt_b) if c is not None])


with guard("Compare"):
    body()
