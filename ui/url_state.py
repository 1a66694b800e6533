"""The Explore page's state in its URL, so a link reopens the same view: model, prompt, switches,
knocked-out heads, the open tab and the focused layer and head.

    /?model=baseline&prompt=the+cat&causal_mask=0&ko=L1H2&view=Focused+head&layer=1&head=2

A new session reads the URL once, before any widget exists (a widget's value can only be set
then); afterwards every run writes the state back, so the address bar always holds a link to
what is on screen. The URL is user input: a value that does not parse is ignored, and one that
is no longer an option (a model that is gone, a head past the last) is reset by the page's own
`clamp_choice`, as any stale choice is.
"""

from __future__ import annotations

import re

import streamlit as st

from model.switches import SWITCHES, Switches

READ_FLAG = "url_read"  # session key: this session has read its URL
MAX_PROMPT = 20_000  # characters taken from a URL's prompt; the page cuts to the context anyway
_HEAD = re.compile(r"^L(\d{1,4})H(\d{1,4})$")
_OFF = ("0", "false", "off", "no")


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() and len(value) <= 4 else None


def read_url(prefix: str = "sw_") -> None:
    """Once per session: the URL's state into the widgets' session keys."""
    if st.session_state.get(READ_FLAG):
        return
    st.session_state[READ_FLAG] = True
    q = st.query_params
    if model := q.get("model"):
        st.session_state["explore_model"] = model
    if (prompt := q.get("prompt")) is not None:
        st.session_state["prompt"] = prompt[:MAX_PROMPT]
    if view := q.get("view"):
        st.session_state["view"] = view
    for key in ("layer", "head"):
        if (value := _int(q.get(key))) is not None:
            st.session_state[key] = value
    for name in SWITCHES:
        if name in q:
            st.session_state[f"{prefix}{name}"] = q[name].lower() not in _OFF
    if ko := q.get("ko"):
        heads = [h for h in ko.split(",") if _HEAD.match(h)]
        st.session_state[f"{prefix}knockouts"] = heads
    if q.get("ko_mode") in ("zero", "mean"):
        st.session_state[f"{prefix}ko_mode"] = q["ko_mode"]


def state_params(model: str, prompt: str, switches: Switches, view: str, layer: int, head: int):
    """The URL parameters of this state: switches only where off, knockouts only when any."""
    params = {
        "model": model,
        "prompt": prompt,
        "view": view,
        "layer": str(layer),
        "head": str(head),
    }
    for name in SWITCHES:
        if not getattr(switches, name):
            params[name] = "0"
    if switches.head_ablations:
        params["ko"] = ",".join(f"L{a.layer}H{a.head}" for a in switches.head_ablations)
        params["ko_mode"] = switches.head_ablations[0].mode
    return params


def write_url(model: str, prompt: str, switches: Switches, view: str) -> None:
    """The state on screen into the address bar (only when it changed: each write is a message
    to the browser)."""
    layer, head = st.session_state.get("layer", 0), st.session_state.get("head", 0)
    params = state_params(model, prompt, switches, view, int(layer), int(head))
    if {k: st.query_params.get(k) for k in st.query_params} != params:
        st.query_params.from_dict(params)
