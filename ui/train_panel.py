"""The Train page's Streamlit parts: the run form, the live panel and the run's buttons.

The run itself is `analysis.live_training` (a worker process per session); this module only draws
what its `Progress` says and turns clicks into its calls.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from analysis.catalog import REPO, USER_PREFIX, user_runs_root
from analysis.live_training import LiveRun, Progress, Registry, TooManyRuns
from analysis.train_form import MAX_STEPS, MIN_STEPS, SIZE_LIMITS, form_fields, live_spec, presets
from views.explore import grid_figure
from viz.curves import training_curves

PLOT_CONFIG = {"displaylogo": False}
REFRESH_S = 1.0  # the live panel's refresh: about once a second, as a person reads a curve
HEARTBEAT_TIMEOUT_S = 90.0  # a run no page has refreshed for this long stops (a closed tab)
SESSION_PARAM = "run"  # the URL keeps the session's key, so a reload finds its run again


@st.cache_resource
def registry() -> Registry:
    """One table of runs for the whole server (every session shares it)."""
    return Registry(user_runs_root() or REPO / "runs" / "app")


@st.cache_data(show_spinner=False)
def cached_presets() -> list[Any]:
    return presets()


def session_key() -> str:
    """This browser session's key: kept in the URL, new for a new tab."""
    key = st.query_params.get(SESSION_PARAM)
    if not key or not key.isalnum() or len(key) > 32:
        key = st.session_state.setdefault("train_session", uuid.uuid4().hex[:16])
        st.query_params[SESSION_PARAM] = key
    return key


def apply_preset() -> None:
    preset = next(p for p in cached_presets() if p.name == st.session_state["tr_preset"])
    for name, value in preset.model.items():
        st.session_state[f"tr_{name}"] = value
    st.session_state["tr_lr"] = preset.lr


def run_form(session: str) -> None:
    """The new-run form: a preset, then every training-time field, the budget and Start."""
    options = cached_presets()
    names = [p.name for p in options]
    if "tr_preset" not in st.session_state:
        st.session_state["tr_preset"] = names[0]
        apply_preset()
    st.selectbox(
        "Start from the variant",
        names,
        key="tr_preset",
        on_change=apply_preset,
        help="Fills every switch below with that suite variant's, and its chosen learning rate.",
    )
    chosen = next(p for p in options if p.name == st.session_state["tr_preset"])
    st.caption(chosen.description)
    fields = form_fields()
    values: dict[str, Any] = {}
    cols = st.columns(4)
    for i, f in enumerate(fields):
        col, key = cols[i % 4], f"tr_{f.name}"
        st.session_state.setdefault(key, f.default)
        if f.kind == "bool":
            values[f.name] = col.checkbox(f.name, key=key)
        elif f.kind == "choice":
            values[f.name] = col.selectbox(f.name, f.choices, key=key)
        elif f.kind == "int":
            low, high = SIZE_LIMITS.get(f.name, (0, 1 << 16))
            values[f.name] = col.number_input(f.name, low, high, step=1, key=key)
        else:
            values[f.name] = col.number_input(f.name, min_value=0.0, format="%g", key=key)
    c1, c2, c3, c4 = st.columns(4)
    steps = c1.number_input("Steps", MIN_STEPS, MAX_STEPS, 200, step=50, key="tr_steps")
    st.session_state.setdefault("tr_lr", chosen.lr)
    lr = c2.number_input("Learning rate", 1e-5, 1.0, format="%g", key="tr_lr")
    batch = c3.number_input("Batch size", 1, 64, 12, key="tr_batch")
    seed = c4.number_input("Seed", 0, 2**31 - 1, 0, key="tr_seed")
    st.caption("Corpus: Tiny Shakespeare, characters (the suite's recipe, cut to this budget).")
    if st.button("Start training", type="primary", key="tr_start"):
        reg = registry()
        try:
            spec = live_spec(
                values, int(steps), float(lr), int(batch), int(seed), reg.work_dir(session),
                HEARTBEAT_TIMEOUT_S,
            )  # fmt: skip
            reg.start(session, spec)
        except (ValueError, TypeError) as e:
            st.error(f"Cannot start this run: {e}")
            return
        except TooManyRuns as e:
            st.warning(str(e))
            return
        st.rerun()


def progress_caption(p: Progress) -> str:
    done = f"step {p.step:,} of {p.max_steps:,}"
    speed = f" · {p.tokens_per_s:,.0f} tokens/s" if p.tokens_per_s else ""
    words = {
        "starting": "Starting (reading the corpus)…",
        "running": f"Training: {done}{speed}",
        "completed": f"Finished: {done}",
        "stopped": f"Stopped at {done} ({p.why_stopped or 'asked'}); the checkpoint keeps it",
        "diverged": f"Diverged: {p.message}",
        "failed": f"Could not train: {p.message}",
        "exited": f"The worker ended at {done} without a word; its last checkpoint is kept",
    }
    return words.get(p.state, p.state)


def live_view(run: LiveRun) -> None:
    """The loss curve and the probe prompt's attention grid at the latest evaluation."""
    run.heartbeat()
    p = run.progress()
    st.session_state["tr_was_active"] = p.active
    (st.error if p.state in ("failed", "diverged") else st.caption)(progress_caption(p))
    st.progress(min(p.step / max(p.max_steps, 1), 1.0))
    curve = [r for r in p.curve if "train_loss" in r]
    if curve:
        fig = training_curves({"this run": curve}, title="Loss")
        st.plotly_chart(fig, config=PLOT_CONFIG, key="tr_curve")
    else:
        st.caption("The loss curve appears at the first evaluation.")
    live = run.live_capture()
    if live is not None and live.capture.patterns is not None:
        st.caption(f"Attention on the probe prompt at step {live.step:,}")
        st.plotly_chart(grid_figure(live.capture), config=PLOT_CONFIG, key="tr_grid")


def live_panel(run: LiveRun) -> None:
    """Refreshes itself about once a second while the run trains; a full rerun when it ends, so
    the buttons below follow the run's state."""
    active = run.alive()

    @st.fragment(run_every=REFRESH_S if active else None)
    def panel() -> None:
        live_view(run)
        if active and not run.alive():
            st.rerun()

    panel()


def run_buttons(session: str, run: LiveRun) -> None:
    p = run.progress()
    c1, c2, c3 = st.columns([1, 1, 2])
    if p.active:
        # keyed by the worker: a click is never carried over to the run a Resume starts
        stop_key = f"tr_stop_{run.proc.pid if run.proc else 0}"
        if c1.button(
            "Stop training", key=stop_key, help="Stops after the current step, keeping it."
        ):
            run.stop()
            st.toast("Stopping: the run saves a checkpoint of the steps done.")
        return
    if p.step < p.max_steps and (run.checkpoint() / "model.safetensors").is_file():
        if c1.button(
            "Resume training", key="tr_resume", help="Continues from the checkpoint, exactly."
        ):
            try:
                registry().resume(session)
            except (TooManyRuns, ValueError) as e:
                st.warning(str(e))
                return
            st.rerun()
    if (run.checkpoint() / "model.safetensors").is_file():
        with c3.form("tr_save_form", border=False):
            name = st.text_input("Save as model", key="tr_save_name", placeholder="my_model")
            if st.form_submit_button("Save"):
                try:
                    run.save_as(name.strip(), registry().root)
                except (ValueError, OSError) as e:
                    st.error(str(e))
                else:
                    st.success(
                        f"Saved: **{USER_PREFIX}{name.strip()}** is now in Explore's and "
                        "Compare's model pickers, with its training snapshots."
                    )
