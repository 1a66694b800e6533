"""Sidebar controls shared by the pages: the model picker and the inference-switch panel."""

from __future__ import annotations

import streamlit as st

from app_lib.models import checkpoint_root, list_variants
from app_lib.state import clamp_choice, try_load
from model.checkpoint import Checkpoint
from model.config import ModelConfig
from model.switches import HeadAblation, Switches

OTHER = "Other folder…"


def model_picker(prefix: str, label: str = "Model", default_index: int = 0) -> Checkpoint | None:
    """A shipped variant or a typed-in folder; shows a message and returns None when unusable."""
    variants = list_variants()
    options = [v.name for v in variants] + [OTHER]
    clamp_choice(f"{prefix}_model", options, options[min(default_index, len(options) - 1)])
    choice = st.selectbox(label, options, key=f"{prefix}_model")
    if not variants:
        st.info(
            f"No shipped variants in `{checkpoint_root()}` yet (set ATTENTION_LAB_CHECKPOINTS or "
            "train one): enter a checkpoint folder below."
        )
    if choice == OTHER:
        path = st.text_input(
            "Checkpoint folder",
            key=f"{prefix}_path",
            placeholder="runs/my_run/checkpoint",
            help="A folder with model.safetensors, config.json and tokenizer.json.",
        ).strip()
        if not path:
            return None
    else:
        path = str(next(v.path for v in variants if v.name == choice))
    ckpt, error = try_load(path)
    if error:
        st.error(error)
    return ckpt


def describe(ckpt: Checkpoint) -> str:
    c = ckpt.config
    if c.architecture == "lstm":
        return f"LSTM · {c.n_layers} layers · d_model {c.d_model} · context {c.n_ctx}"
    return (
        f"{c.n_layers} layers × {c.n_heads} heads · d_model {c.d_model} · context {c.n_ctx} · "
        f"{c.norm}-LN · {c.pos_encoding} positions · {c.attn_score} scores"
    )


def switch_panel(prefix: str, cfg: ModelConfig) -> Switches:
    """Checkboxes for the inference switches and a multiselect of heads to knock out.

    Switches that cannot change this model (it was trained without that part) are shown disabled
    with the reason, so the user is not left wondering why nothing moves.
    """
    lstm = cfg.architecture == "lstm"
    if lstm:
        st.caption("Inference switches act on attention models; this LSTM has none to switch.")
    mask = st.checkbox(
        "Causal mask",
        key=f"{prefix}mask",
        disabled=lstm or not cfg.causal_mask,
        help="Off: every position may attend to later ones, including the token it predicts."
        + ("" if cfg.causal_mask else " (trained without a mask)"),
    )
    residual = st.checkbox(
        "Residual stream",
        key=f"{prefix}residual",
        disabled=lstm or not cfg.residual,
        help="Off: each sublayer's output replaces the stream instead of adding to it.",
    )
    layernorm = st.checkbox(
        "LayerNorm",
        key=f"{prefix}layernorm",
        disabled=lstm or cfg.norm == "none",
        help="Off: every LayerNorm becomes the identity."
        + (" (trained without LayerNorm)" if cfg.norm == "none" else ""),
    )
    pos = st.checkbox(
        "Positional encoding",
        key=f"{prefix}pos",
        disabled=lstm or cfg.pos_encoding == "none",
        help="Off: positional embeddings are not added."
        + (" (trained without them)" if cfg.pos_encoding == "none" else ""),
    )
    heads = [] if lstm else [f"L{i}H{h}" for i in range(cfg.n_layers) for h in range(cfg.n_heads)]
    chosen = [h for h in st.session_state.get(f"{prefix}knockouts", []) if h in heads]
    st.session_state[f"{prefix}knockouts"] = chosen
    knocked = st.multiselect("Knock out heads", heads, key=f"{prefix}knockouts", disabled=lstm)
    mode = st.radio(
        "Knockout",
        ["zero", "mean"],
        key=f"{prefix}ko_mode",
        horizontal=True,
        disabled=lstm or not knocked,
        help="zero: the head's output z is 0; mean: z is its mean over positions.",
    )
    ablations = tuple(
        HeadAblation(int(name[1 : name.index("H")]), int(name[name.index("H") + 1 :]), mode)
        for name in knocked
    )
    if lstm:
        return Switches()
    return Switches(
        causal_mask=mask,
        residual=residual,
        layernorm=layernorm,
        pos_encoding=pos,
        head_ablations=ablations,
    )


def switch_defaults(prefix: str) -> dict[str, object]:
    return {
        f"{prefix}mask": True,
        f"{prefix}residual": True,
        f"{prefix}layernorm": True,
        f"{prefix}pos": True,
        f"{prefix}knockouts": [],
        f"{prefix}ko_mode": "zero",
    }
