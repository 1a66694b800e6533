"""Train: pick a variant's switches and a budget, train it here, watch its loss and attention form.

Each browser session trains at most one run, in a worker process (`analysis.live_training`); this
page and its once-a-second fragment only read the run's progress.
"""

from __future__ import annotations

import streamlit as st

from ui.state import guard
from ui.train_panel import live_panel, registry, run_buttons, run_form, session_key

INTRO = (
    "Train a small model on Tiny Shakespeare while you watch. Start from any variant of the suite "
    "and change any switch it was trained with. The loss curve and the attention of the probe "
    "prompt refresh about once a second; **Stop training** keeps a checkpoint you can **Resume** exactly, "
    "and **Save** puts the model in Explore's and Compare's pickers, where the step slider "
    "replays its training."
)


def body() -> None:
    st.title("Train")
    st.caption(INTRO)
    session = session_key()
    run = registry().get(session)
    if run is not None:
        live_panel(run)
        run_buttons(session, run)
    busy = run is not None and run.alive()
    with st.expander("New run", expanded=run is None):
        if busy:
            st.info("This session's run is training: stop it to start another.")
        else:
            run_form(session)


with guard("Train"):
    body()
