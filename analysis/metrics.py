"""Small numpy summaries of captured activations, shared by the app, the figures and the tests.

Pure numpy, [layer, pos, ...] in. The summaries of attention patterns (entropy and its uniform
ceiling, the share on the future) live below training, in `interp/attention_stats.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # shape-annotated signatures without making jaxtyping (a dev tool) a runtime need
    from jaxtyping import Float


def residual_norms(
    resid: Float[np.ndarray, "layer pos d_model"],
) -> Float[np.ndarray, "layer pos"]:
    """L2 norm of the residual stream at every layer and position."""
    r = np.asarray(resid, dtype=np.float64)
    if r.ndim != 3:
        raise ValueError(
            f"residual_norms: resid must be [layer, pos, d_model], got shape {r.shape}"
        )
    return np.linalg.norm(r, axis=-1)


def layernorm_input_stats(
    x: Float[np.ndarray, "layer pos d_model"],
) -> tuple[Float[np.ndarray, "layer pos"], Float[np.ndarray, "layer pos"]]:
    """Mean and standard deviation over d_model of what each LayerNorm receives (biased std, as LN)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"layernorm_input_stats: x must be [layer, pos, d_model], got {a.shape}")
    return a.mean(axis=-1), a.std(axis=-1)
