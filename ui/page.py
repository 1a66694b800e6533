"""What an Explore view's controls know of the page: the model, the capture, the prompt, switches.

`ui.controls` draws the controls every view shares and `ui.interp_controls` those of the
interpretability views; both take a `Page`, which lives here, below them.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.capture import Capture
from model.checkpoint import Checkpoint
from model.switches import Switches


@dataclass(frozen=True)
class Page:
    """What the controls need to know of the page: the model, the capture, the prompt, switches."""

    ckpt: Checkpoint
    cap: Capture
    text: str
    switches: Switches
