"""Colour scales shared by the interactive figures."""

from __future__ import annotations

import numpy as np
import plotly.colors as pc

PATTERN_SCALE = "Viridis"  # attention weights in [0, 1]: perceptually uniform, readable in grey
SIGNED_SCALE = "RdBu_r"  # scores, vectors, differences: red positive, blue negative, white zero
LOSS_SCALE = "Reds"  # per-token loss: darker is more surprising

_STOPS = 33  # enough stops that plotly's linear interpolation between them looks smooth


def power_colorscale(name: str, gamma: float) -> str | list[list[float | str]]:
    """`name` with colour = scale(t ** gamma) at normalised value t (matplotlib's PowerNorm).

    gamma < 1 brightens small values, which diffuse heads over long prompts are made of, while the
    colour bar and the hover box still show the true values (only the colours move).
    """
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    if gamma == 1:
        return name
    t = np.linspace(0.0, 1.0, _STOPS)
    colours = pc.sample_colorscale(name, list(t**gamma))
    return [[float(ti), c] for ti, c in zip(t, colours, strict=True)]


def symmetric_range(*arrays: np.ndarray) -> float:
    """Largest finite |value| across arrays, for a diverging scale centred on zero (1.0 if none)."""
    peaks = [np.nanmax(np.abs(a[np.isfinite(a)])) for a in arrays if np.isfinite(a).any()]
    peak = float(max(peaks)) if peaks else 0.0
    return peak if peak > 0 else 1.0
