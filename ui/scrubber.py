"""The step scrubber of Explore and Compare: a slider over a model's training snapshots, play/pause,
and the run's loss and head-detector lines with the step marked.

At a snapshot step the pages draw a `Capture` built from the snapshot (`analysis.snapshot_capture`)
on the snapshot's probe prompt; the views that need the weights at that step say why instead.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from analysis.catalog import checkpoint_stamp
from analysis.dynamics import loss_curve, measured_detector_lines, phase_reading
from analysis.snapshot_capture import StepCapture, capture_from, why_not
from model.checkpoint import Checkpoint
from training.snapshot_format import (
    SNAPSHOT_DIR,
    SnapshotError,
    SnapshotSeries,
    nearest_at_or_before,
    read_series,
)
from viz.dynamics import detector_lines, loss_at_step

FINAL = "final"  # the slider's last stop: the checkpoint's own weights, every view live
PLAY_EVERY_S = 0.8  # one step per this while playing
PLOT_CONFIG = {"displaylogo": False}


def _folder(ckpt: Checkpoint) -> Path:
    """Where a model's snapshots and logs are: a CLI run's checkpoint/ sits in its run folder,
    beside snapshots/, metrics.jsonl and measurements.jsonl."""
    path = Path(ckpt.path).resolve()
    if path.name == "checkpoint" and not (path / SNAPSHOT_DIR).is_dir():
        return path.parent
    return path


@st.cache_data(max_entries=32, show_spinner=False)
def _series(folder: str, stamp: float) -> tuple[SnapshotSeries | None, str | None]:
    del stamp  # keys the cache: a retrained folder is read again
    try:
        return read_series(Path(folder)), None
    except SnapshotError as e:
        return None, str(e)


@st.cache_data(max_entries=64, show_spinner=False)
def _step_capture(folder: str, stamp: float, step: int, _ckpt: Checkpoint) -> StepCapture:
    series, error = _series(folder, stamp)
    if series is None:
        raise SnapshotError(error or "no snapshots")
    cap = capture_from(series.arrays(step), series.index, _ckpt.tokenizer)
    return StepCapture(step, cap, series.index.fields, series.index.prompt)


def series_of(ckpt: Checkpoint) -> SnapshotSeries | None:
    folder = _folder(ckpt)
    series, error = _series(str(folder), checkpoint_stamp(folder / "snapshots"))
    if error:
        st.caption(f"Training snapshots could not be read: {error}")
    return series


def step_at(ckpt: Checkpoint, step: int) -> StepCapture | None:
    folder = _folder(ckpt)
    try:
        return _step_capture(str(folder), checkpoint_stamp(folder / "snapshots"), step, ckpt)
    except SnapshotError as e:
        st.warning(f"Step {step}: {e}")
        return None


def step_slider(prefix: str, steps: list[int], label: str = "Training step") -> int | None:
    """The slider (and play/pause) over `steps` then FINAL; None means the final weights."""
    key, pending = f"{prefix}_step", f"{prefix}_step_next"
    options: list[int | str] = [*steps, FINAL]
    if pending in st.session_state:  # set by the player before the slider exists in this run
        st.session_state[key] = st.session_state.pop(pending)
    if st.session_state.get(key) not in options:
        st.session_state[key] = FINAL
    choice = st.select_slider(
        label,
        options,
        key=key,
        help="Snapshots taken during training; 'final' is the checkpoint itself.",
    )
    if f"{prefix}_play_next" in st.session_state:
        st.session_state[f"{prefix}_play"] = st.session_state.pop(f"{prefix}_play_next")
    playing = st.toggle("Play", key=f"{prefix}_play", help="Step through training.")
    if playing:
        _player(prefix, options)
    return None if choice == FINAL else int(choice)


def _player(prefix: str, options: list[int | str]) -> None:
    @st.fragment(run_every=PLAY_EVERY_S)
    def advance() -> None:
        # the body also runs with every full run of the page, the one this advance causes
        # included: only the timer's runs, a period after the last advance, move the step
        clock, last = time.monotonic(), st.session_state.get(f"{prefix}_played_at", 0.0)
        if clock - last < 0.9 * PLAY_EVERY_S:
            return
        st.session_state[f"{prefix}_played_at"] = clock
        now = st.session_state.get(f"{prefix}_step", FINAL)
        at = options.index(now) if now in options else len(options) - 1
        nxt = options[(at + 1) % len(options)] if now != FINAL else options[0]
        st.session_state[f"{prefix}_step_next"] = nxt
        if nxt == FINAL:
            st.session_state[f"{prefix}_play_next"] = False
        st.rerun()

    advance()


def explore_step(prefix: str, ckpt: Checkpoint) -> StepCapture | None:
    """Explore's scrubber: the slider in the sidebar, the run's dynamics above the views, and the
    chosen snapshot step (None: the checkpoint's weights, or a model without snapshots)."""
    series = series_of(ckpt)
    if series is None:
        return None
    with st.sidebar:
        st.subheader("Through training")
        step = step_slider(prefix, list(series.steps))
    at = None if step is None else step_at(ckpt, step)
    dynamics({ckpt.name: ckpt}, step, prefix)
    if at is not None:
        st.info(
            f"Step {at.step:,} of training: the views show the snapshot's own prompt "
            f"({len(at.capture.tokens)} tokens, below), without inference switches; 'final' on "
            "the slider brings back your prompt and the switches."
        )
    return at


def export_name(name: str, at: StepCapture | None) -> str:
    """The model name exports carry: the step with it when a snapshot is shown."""
    return name if at is None else f"{name}-step{at.step}"


def compare_steps(
    prefix: str, a: Checkpoint, b: Checkpoint
) -> tuple[StepCapture | None, StepCapture | None]:
    """Compare's scrubber: one step axis over both models' snapshots; each side shows its latest
    snapshot at or before the step, or its weights (None) when it has none that early."""
    sa, sb = series_of(a), series_of(b)
    steps = sorted({*(sa.steps if sa else ()), *(sb.steps if sb else ())})
    if not steps:
        return None, None
    with st.sidebar:
        st.subheader("Through training")
        step = step_slider(prefix, steps, "Training step (both models)")
    runs = {f"A: {a.name}": a} if a.path == b.path else {f"A: {a.name}": a, f"B: {b.name}": b}
    dynamics(runs, step, prefix)
    if step is None:
        return None, None
    out: list[StepCapture | None] = []
    for side, ckpt, series in (("A", a, sa), ("B", b, sb)):
        near = nearest_at_or_before(series.steps, step) if series else None
        if near is None:
            st.caption(f"{side} has no snapshot at or before step {step:,}: it shows its weights.")
        out.append(step_at(ckpt, near) if near is not None else None)
    st.info(
        f"Step {step:,}: each side shows its latest snapshot at or before it, on the snapshot's "
        "own prompt and without switches; 'final' brings back your prompt."
    )
    return out[0], out[1]


def blocked_either(view_key: str, *sides: StepCapture | None) -> str | None:
    """Why a view cannot be drawn for one of Compare's sides (None: it can for both)."""
    for at in sides:
        if at is not None and (why := why_not(view_key, at.fields)):
            return why
    return None


def step_label(label: str, at: StepCapture | None) -> str:
    return label if at is None else f"{label} @ step {at.step:,}"


def blocked(view_key: str, at: StepCapture) -> str | None:
    """Why a view cannot be drawn at this snapshot step (None: it can)."""
    return why_not(view_key, at.fields)


def dynamics(runs: dict[str, Checkpoint], step: int | None, key: str) -> None:
    """The runs' loss curves and detector lines with `step` marked (collapsed at the final step)."""
    with st.expander("Training dynamics", expanded=step is not None):
        curves = {name: c for name, ck in runs.items() if (c := loss_curve(_folder(ck)))}
        if curves:
            try:
                fig = loss_at_step(curves, step)
                st.plotly_chart(fig, config=PLOT_CONFIG, key=f"{key}_loss")
            except ValueError as e:
                st.caption(f"No loss curve to draw: {e}")
        else:
            st.caption("No recorded loss curve for this model.")
        lines, phases, notes = {}, {}, []
        for name, ck in runs.items():
            series = series_of(ck)
            found = series.detector_lines() if series is not None else {}
            if found:
                lines[name] = (list(series.steps), found)  # type: ignore[union-attr]
            elif (measured := measured_detector_lines(_folder(ck)))[0]:
                lines[name] = measured  # the measurement rows' per-head scores
            reading = phase_reading(_folder(ck))
            if reading.start is not None and reading.end is not None:
                phases[name] = (reading.start, reading.end)
            notes.append(f"{name}: {reading.reason}")
        if lines:
            fig = detector_lines(lines, step, phases)
            st.plotly_chart(fig, config=PLOT_CONFIG, key=f"{key}_detectors")
            st.caption("Phase change (the mechanisms experiment's rule): " + "; ".join(notes))
        else:
            st.caption(
                "No head-detector scores over training: this model's snapshots keep attention "
                "patterns only (or it has none)."
            )
