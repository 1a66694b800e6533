"""Colour scales shared by the interactive figures."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import plotly.colors as pc

PATTERN_SCALE = "Viridis"  # attention weights in [0, 1]: perceptually uniform, readable in grey
SIGNED_SCALE = "RdBu_r"  # scores, vectors, differences: red positive, blue negative, white zero
LOSS_SCALE = "Reds"  # per-token loss: darker is more surprising

# One colour per run on multi-run charts: 48 distinct qualitative colours before any other rule.
RUN_PALETTE: tuple[str, ...] = tuple(pc.qualitative.Dark24) + tuple(pc.qualitative.Light24)

_STOPS = 33  # enough stops that plotly's linear interpolation between them looks smooth


@cache
def _named(name: str) -> tuple[tuple[float, str], ...]:
    colours = [str(c) for _, c in pc.get_colorscale(name)]
    last = len(colours) - 1
    return tuple((i / last, c) for i, c in enumerate(colours))  # the validator's stops, exactly


def explicit_colorscale(name: str) -> list[list[float | str]]:
    """A named scale ('RdBu_r' included) as explicit [t, colour] stops, as plotly's validator
    would expand it: figures built without validation (viz.figure) must not ship bare names."""
    return [[t, c] for t, c in _named(name)]


def power_colorscale(name: str, gamma: float) -> list[list[float | str]]:
    """`name` with colour = scale(t ** gamma) at normalised value t (matplotlib's PowerNorm).

    gamma < 1 brightens small values, which diffuse heads over long prompts are made of, while the
    colour bar and the hover box still show the true values (only the colours move).
    """
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    if gamma == 1:
        return explicit_colorscale(name)
    t = np.linspace(0.0, 1.0, _STOPS)
    colours = pc.sample_colorscale(name, list(t**gamma))
    return [[float(ti), c] for ti, c in zip(t, colours, strict=True)]


@cache
def _stops_rgb(name: str) -> tuple[np.ndarray, np.ndarray]:
    stops = _named(name)
    rgb = pc.validate_colors([c for _, c in stops], colortype="tuple")  # floats in [0, 1]
    return np.array([t for t, _ in stops]), np.array(rgb, dtype=np.float64) * 255.0


def sample_colors(name: str, fractions: np.ndarray) -> list[str]:
    """'rgb(r, g, b)' of scale `name` at each fraction in [0, 1]: plotly.colors.sample_colorscale
    (same linear interpolation, same rounding of halves up) vectorised; plotly's version parses
    and validates every colour per call, half the time of a 256-token loss view."""
    t, rgb = _stops_rgb(name)
    f = np.clip(np.asarray(fractions, dtype=np.float64), 0.0, 1.0)
    channels = np.stack([np.interp(f, t, rgb[:, c]) for c in range(3)], axis=-1)
    return [f"rgb({r}, {g}, {b})" for r, g, b in np.floor(channels + 0.5).astype(int).tolist()]


def symmetric_range(*arrays: np.ndarray) -> float:
    """Largest finite |value| across arrays, for a diverging scale centred on zero (1.0 if none)."""
    peaks = [np.nanmax(np.abs(a[np.isfinite(a)])) for a in arrays if np.isfinite(a).any()]
    peak = float(max(peaks)) if peaks else 0.0
    return peak if peak > 0 else 1.0


def run_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per name, never reused: the palette in order, then evenly spaced hues.

    Pass every variant the app knows (not only a chart's), in a fixed order, and the same variant
    gets the same colour on every chart; a chart's legend never shows two runs in one colour.
    """
    out: dict[str, str] = {}
    unique = list(dict.fromkeys(names))
    for i, name in enumerate(unique):
        if i < len(RUN_PALETTE):
            out[name] = RUN_PALETTE[i]
        else:  # golden-angle hues never coincide, whatever the count
            hue = ((i - len(RUN_PALETTE)) * 137.508) % 360
            out[name] = f"hsl({hue:.1f}, 65%, {40 + 20 * (i % 2)}%)"
    return out
