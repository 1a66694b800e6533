"""The Streamlit side of the app's helpers: cached loaders, session defaults and the page guard.

Caching, as the design asks: the model once per (checkpoint path, modification stamp) with
`st.cache_resource` (one shared, read-only object: switches are forward arguments, hooks are
per-thread, so sessions cannot interfere); activations with `st.cache_data` keyed by small things
only (path, stamp, token-id tuple, the frozen Switches), never by arrays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from analysis.capture import Capture, capture
from model.checkpoint import Checkpoint, CheckpointError, check_folder, load_checkpoint
from model.switches import Switches

# Tests set this so an unexpected error fails the test (AppTest's `at.exception`) instead of
# turning into the short on-page message that users get.
STRICT_ENV = "ATTENTION_LAB_STRICT"


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def load_model(path: str, stamp: float) -> Checkpoint:
    """The checkpoint at `path`; `stamp` (its files' latest mtime) only keys the cache."""
    del stamp
    # One intra-op thread: on this 2-core machine Streamlit's server, the browser and other work
    # share the cores, and torch's spinning worker threads then made a forward pass 10-20x slower
    # (~800 ms vs ~45 ms at 256 tokens, measured under load); a 4 x 4 model gains little from two.
    torch.set_num_threads(1)
    return load_checkpoint(path)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_capture(path: str, stamp: float, ids: tuple[int, ...], switches: Switches) -> Capture:
    """Activations of `ids` under `switches`; computed once per key and shared by sessions."""
    ckpt = load_model(path, stamp)
    return capture(ckpt.model, ckpt.tokenizer, ids, switches)


def try_load(path: str | Path) -> tuple[Checkpoint | None, str | None]:
    """(checkpoint, None) or (None, a message for the page); never raises for a bad folder."""
    from analysis.catalog import checkpoint_stamp
    from model.hf import resolve_source

    try:
        p = resolve_source(path).expanduser()  # hf:<name>: its folder in the local hub cache
        # the folder is checked before it is resolved: a NUL byte, a name too long or a link loop
        # is a CheckpointError here, not an exception from Path.resolve
        return load_model(str(check_folder(p)), checkpoint_stamp(p)), None
    except CheckpointError as e:
        # the folder as the user typed it: never the server's absolute paths
        return None, f"Cannot load this checkpoint: {e.naming(str(path))}"
    except OSError as e:
        return None, f"Cannot read {path}: {e.strerror or type(e).__name__}"


def stamp_of(ckpt: Checkpoint) -> float:
    from analysis.catalog import checkpoint_stamp

    return checkpoint_stamp(ckpt.path)


def capture_for(ckpt: Checkpoint, ids: tuple[int, ...], switches: Switches) -> Capture:
    return cached_capture(str(Path(ckpt.path).resolve()), stamp_of(ckpt), ids, switches)


def init_state(defaults: dict[str, Any]) -> None:
    """Set session defaults once; later reruns keep what the user chose.

    Streamlit forgets a widget's value on a run that does not draw the widget (an empty prompt
    stops the page before the layer selector; another tab hides the gamma slider). Writing each
    key back to itself marks it as the session's own value, which survives such runs, so the
    layer, head and gamma the user chose are still there when the widget comes back.
    """
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value
    keep_state(defaults)


def keep_state(keys: Iterable[str]) -> None:
    """Keep these widgets' values across runs that do not draw them (see `init_state`)."""
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def clamp_choice(key: str, options: list[Any], fallback: Any) -> None:
    """Reset a widget's stored value when it is no longer an option (another model or prompt)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = fallback


@contextmanager
def guard(where: str) -> Iterator[None]:
    """Show an unexpected error as one short line instead of a traceback; the app keeps running.

    st.stop()/st.rerun() raise BaseException subclasses, so they pass through untouched.
    """
    try:
        yield
    except Exception as e:
        if os.environ.get(STRICT_ENV):
            raise
        st.error(
            f"Something went wrong on the {where} page ({type(e).__name__}: {str(e)[:300]}). "
            "Change the input or pick another model; the rest of the app still works."
        )
