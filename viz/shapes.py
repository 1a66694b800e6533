"""Shape checks for figure builders: each argument's axes are named once and checked together.

A builder declares `checks.array(patterns, "layer head q_pos k_pos", "patterns")`; every named axis
is bound to a size on first sight, so a later argument that disagrees (say `tokens` of the wrong
length) raises a ValueError naming both arguments instead of failing deep inside plotly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class Shapes:
    """Binds dimension names to sizes across the arguments of one builder call."""

    def __init__(self, where: str) -> None:
        self.where = where  # the builder's name, so messages say which call was wrong
        self.sizes: dict[str, tuple[int, str]] = {}  # dim -> (size, argument that set it)

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.where}: {message}")

    def bind(self, dim: str, size: int, source: str) -> None:
        if dim in self.sizes and self.sizes[dim][0] != size:
            known, known_source = self.sizes[dim]
            raise self.error(f"{source} has {dim}={size} but {known_source} has {dim}={known}")
        self.sizes.setdefault(dim, (size, source))

    def array(self, x: Any, dims: str, name: str, *, dtype: Any = np.float64) -> np.ndarray:
        """`x` as an array whose axes are the space-separated `dims`; raises ValueError otherwise."""
        names = dims.split()
        try:
            arr = np.asarray(x, dtype=dtype)
        except (TypeError, ValueError) as e:  # ragged lists, strings, objects
            raise self.error(f"{name} must be a numeric array [{', '.join(names)}] ({e})") from None
        if arr.ndim != len(names):
            raise self.error(
                f"{name} must have shape [{', '.join(names)}] ({len(names)} axes), "
                f"got shape {tuple(arr.shape)}"
            )
        if arr.size == 0:
            raise self.error(f"{name} is empty, shape {tuple(arr.shape)}")
        for dim, size in zip(names, arr.shape, strict=True):
            self.bind(dim, size, name)
        return arr

    def tokens(self, tokens: Sequence[str], *dims: str, name: str = "tokens") -> list[str]:
        """`tokens` as a list of str, its length bound to each of `dims` (e.g. "q_pos", "k_pos")."""
        if isinstance(tokens, str):  # a bare string would silently become one token per character
            raise self.error(f"{name} must be a list of token strings, got one str")
        out = list(tokens)
        bad = [t for t in out if not isinstance(t, str)]
        if bad:
            raise self.error(f"{name} must hold str, got {type(bad[0]).__name__} ({bad[0]!r})")
        for dim in dims:
            self.bind(dim, len(out), f"{name} (len {len(out)})")
        return out

    def labels(self, labels: Sequence[str] | None, dim: str, name: str) -> list[str] | None:
        """Optional per-row labels, e.g. layer names; None passes through."""
        if labels is None:
            return None
        return self.tokens(labels, dim, name=name)
