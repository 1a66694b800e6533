"""Interpretability on Attention Lab's transformers, as pure functions of a model and a prompt.

What TransformerLens users do in notebooks, for every variant this lab trains, including the ones
no other tool loads (unmasked, shared-layer, post-LN, no-LN, no-residual). Every function reads
the model through its hook points (named by `model.hook_names`), returns a typed, frozen result of CPU
tensors, and knows nothing of Streamlit; the figures are in `viz/interp_*.py`.

    from interp import detect_heads, logit_lens, direct_logit_attribution, PatchingSetup, patch_heads

Dimension legend: the model's (`model/__init__.py`), plus

    layer      a stream point or block: "embed" (entering block 0), then after each block
    pred_pos   positions that have a true next token (pos - 1 of them)
    component  a named writer to the residual stream (embeddings, heads or attention layers, MLPs)
    detector   a head type's score map
    site       what one patch replaces: a head, or one position
    k          top-k entries, best first

One module per question: `detectors` (head types), `logit_lens`, `attribution` (direct logit
attribution), `patching` (activation patching), `circuits` (weight circuits and score terms),
`stream_health` (rank collapse, who writes the stream); `views` lists them once for the app, the
bench and the tests. `layout` says what the stream of a model
is under inference switches and raises `DecompositionError` where a decomposition does not exist.
"""

from interp.attribution import Attribution, direct_logit_attribution
from interp.circuits import (
    HeadCircuits,
    ScoreTerms,
    full_ov,
    full_qk,
    head_circuits,
    positional_qk,
    score_terms,
)
from interp.corruption import SMALL_GAP, MetricGap, PatchingGapWarning, suggest_corruption
from interp.detectors import DETECTORS, HeadScores, detect_heads, expected_cells
from interp.layout import DecompositionError, StreamLayout, check_prompt, stream_layout
from interp.logit_lens import LogitLens, logit_lens
from interp.patching import (
    PatchingResult,
    PatchingSetup,
    every_component,
    logit_diff,
    patch_heads,
    patch_mlps,
    patch_resid,
    patch_sites,
    setup_from_predictions,
)
from interp.probes import repeated_random_tokens
from interp.stream_health import StreamHealth, stream_health
from interp.views import VIEWS, VIEWS_BY_KEY, InterpView, ViewInputs

__all__ = [
    "Attribution",
    "DETECTORS",
    "DecompositionError",
    "HeadCircuits",
    "HeadScores",
    "InterpView",
    "LogitLens",
    "MetricGap",
    "PatchingGapWarning",
    "PatchingResult",
    "SMALL_GAP",
    "PatchingSetup",
    "ScoreTerms",
    "StreamHealth",
    "StreamLayout",
    "VIEWS",
    "VIEWS_BY_KEY",
    "ViewInputs",
    "check_prompt",
    "detect_heads",
    "direct_logit_attribution",
    "every_component",
    "expected_cells",
    "full_ov",
    "full_qk",
    "head_circuits",
    "logit_diff",
    "logit_lens",
    "patch_heads",
    "patch_mlps",
    "patch_resid",
    "patch_sites",
    "positional_qk",
    "repeated_random_tokens",
    "score_terms",
    "setup_from_predictions",
    "stream_health",
    "stream_layout",
    "suggest_corruption",
]
