"""Sidebar controls shared by the pages: the model picker and the inference-switch panel."""

from __future__ import annotations

from dataclasses import fields

import streamlit as st

from analysis.catalog import checkpoint_root, list_hf_models, list_variants
from model.checkpoint import Checkpoint
from model.config import ModelConfig
from model.switches import SWITCHES, HeadAblation, Switches, switch_applies
from ui.state import clamp_choice, try_load

OTHER = "Other folder…"


def model_picker(prefix: str, label: str = "Model", default_index: int = 0) -> Checkpoint | None:
    """A shipped variant, a GPT-2 from the local Hugging Face cache, or a typed-in folder (or
    `hf:<name>`); shows a message and returns None when unusable."""
    variants = list_variants() + list_hf_models()
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
            placeholder="runs/my_run/checkpoint, or hf:gpt2",
            help="A folder with model.safetensors, config.json and tokenizer.json; a Hugging "
            "Face GPT-2 folder (model.safetensors, config.json, vocab.json, merges.txt); or "
            "hf:<name> (e.g. hf:gpt2) from the local Hugging Face cache.",
        ).strip()
        if not path:
            return None
    else:
        path = str(next(v.path for v in variants if v.name == choice))
    ckpt, error = try_load(path)
    # the page reads this to say nothing more (not "pick a model") beside the error
    st.session_state[load_error_key(prefix)] = error
    if error:
        st.error(error)
    return ckpt


def load_error_key(prefix: str) -> str:
    """Session key of the message a model picker showed last run (None when it loaded)."""
    return f"{prefix}_load_error"


def describe(ckpt: Checkpoint) -> str:
    c = ckpt.config
    if c.architecture == "lstm":
        return f"LSTM · {c.n_layers} layers · d_model {c.d_model} · context {c.n_ctx}"
    return (
        f"{c.n_layers} layers × {c.n_heads} heads · d_model {c.d_model} · context {c.n_ctx} · "
        f"{c.norm}-LN · {c.pos_encoding} positions · {c.attn_score} scores"
    )


def _key(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def switch_panel(prefix: str, cfg: ModelConfig) -> Switches:
    """One checkbox per `Switches` field (label, help and rule from its metadata) and a
    multiselect of heads to knock out.

    A switch that cannot change this model (it was trained without that part) is drawn unticked
    and disabled, with the reason: ticked would claim the model has the part.
    """
    lstm = cfg.architecture == "lstm"
    if lstm:
        st.caption("Inference switches act on attention models; this LSTM has none to switch.")
    values: dict[str, bool] = {}
    for name, info in SWITCHES.items():
        if switch_applies(name, cfg):
            values[name] = st.checkbox(info.label, key=_key(prefix, name), help=info.help)
        else:  # a separate key, so the user's choice for models that have the part is kept
            reason = "no attention to switch" if lstm else info.absent
            st.checkbox(
                info.label,
                value=False,
                key=_key(prefix, f"{name}_absent"),
                disabled=True,
                help=f"{info.help} (This model: {reason}.)",
            )
    heads = [] if lstm else [f"L{i}H{h}" for i in range(cfg.n_layers) for h in range(cfg.n_heads)]
    ko_key = _key(prefix, "knockouts")
    st.session_state[ko_key] = [h for h in st.session_state.get(ko_key, []) if h in heads]
    knocked = st.multiselect("Knock out heads", heads, key=ko_key, disabled=lstm)
    mode = st.radio(
        "Knockout",
        ["zero", "mean"],
        key=_key(prefix, "ko_mode"),
        horizontal=True,
        disabled=lstm or not knocked,
        help="zero: the head's output z is 0; mean: z is its mean over positions.",
    )
    ablations = tuple(
        HeadAblation(int(name[1 : name.index("H")]), int(name[name.index("H") + 1 :]), mode)
        for name in knocked
    )
    return Switches(**values, head_ablations=ablations)


def switch_defaults(prefix: str) -> dict[str, object]:
    """Session defaults of a switch panel: every switch at its field's default."""
    defaults: dict[str, object] = {
        _key(prefix, f.name): f.default for f in fields(Switches) if f.name in SWITCHES
    }
    return defaults | {_key(prefix, "knockouts"): [], _key(prefix, "ko_mode"): "zero"}


def switch_keys(prefix: str) -> list[str]:
    """Widget keys of a switch panel (its checkboxes, knockouts and mode)."""
    return list(switch_defaults(prefix))
