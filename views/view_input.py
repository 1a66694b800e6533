"""What the user chose on the Explore page, as one value every view's builder reads.

`ViewInput` holds the controls' values; `Control` names the controls a view may ask for. The view
registry (`views.registry`) and the view modules (`views/interp_*.py`) both import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analysis.capture import GenerationStep
from views.explore import Focus
from views.interp_lab import InterpChoice, InterpLab

# Controls a view may ask for; `ui.controls` draws each one and fills the matching `ViewInput` field.
#   layer_head  which layer and head (-> focus.layer, focus.head)
#   gamma       the colour gamma of pattern heatmaps (-> gamma)
#   positions   which query and key (-> focus.q_pos, focus.k_pos)
#   generation  sampling settings, the Generate button and the step slider (-> generation, step)
#   interp      the model behind the capture, for views that compute from it (-> lab)
#   head_focus  a head picked from the head-type map; opens it in Focused head (-> layer, head state)
#   lens        logit lens: colour by probability or rank, the table's position (-> interp)
#   logit_target  attribution: which token's logit, minus which, bars at which position (-> interp)
#   patching    the corrupted prompt, denoising or noising, the progress bar (-> interp)
#   grid_layers which layers the Grid shows when all heads would not fit in one figure (-> grid_layers)
#   walk        token walk: which token, the temperature of its probabilities (-> interp)
Control = Literal[
    "layer_head",
    "gamma",
    "positions",
    "generation",
    "interp",
    "head_focus",
    "lens",
    "logit_target",
    "patching",
    "grid_layers",
    "walk",
]


@dataclass(frozen=True)
class ViewInput:
    """What the user chose: the controls' values, plus what exports and titles name."""

    focus: Focus = Focus()
    gamma: float = 1.0
    knocked: tuple[tuple[int, int], ...] = ()  # (layer, head) of knocked-out heads
    generation: tuple[GenerationStep, ...] = ()  # the last generation's steps, if any
    step: int = 0  # the generation step shown
    lab: InterpLab | None = None  # the model, prompt and switches behind the capture
    interp: InterpChoice = InterpChoice()  # the interpretability views' choices
    grid_layers: tuple[int, int] | None = None  # first and last layer the Grid shows; None: all
