"""Strict field types and ranges for the config dataclasses, read from their own annotations.

Configs arrive as data from outside (TOML, JSON, a checkpoint's config.json) and a dataclass does
not check what it is given: `causal_mask = "false"` is a truthy string, so it trained a causal
model; `n_layers = 2.0` and `lr = "1e-3"` got as far as a RuntimeError deep inside torch. Every
config (ModelConfig, TrainConfig) checks its values here, against the annotations it already has,
so a new field is checked the day it is added.

What counts as a value of a type is stricter than `isinstance`: a bool is not an int (True == 1),
and a float is not an int (2.0 layers). An int is a float (TOML writes `lr = 1` as an int), as
PEP 484 has it. Floats must be finite: NaN compares false with every bound.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # resolves the string annotations of `from __future__ import annotations` once per class
    return get_type_hints(cls)


def _expected(tp: Any, value: Any) -> str | None:
    """None when `value` is a value of `tp`; otherwise what was expected, in words."""
    if get_origin(tp) in (Union, types.UnionType):
        arms = get_args(tp)
        if any(_expected(arm, value) is None for arm in arms):
            return None
        return " or ".join(_describe(arm) for arm in arms)
    if tp is type(None):
        return None if value is None else "None"
    if get_origin(tp) is Literal:
        # type(...) is compared too: 1 == True, so `in` alone would let a bool through
        choices = get_args(tp)
        ok = any(type(value) is type(c) and value == c for c in choices)
        return None if ok else _describe(tp)
    if tp is bool:
        return None if type(value) is bool else _describe(tp)
    if tp is int:
        return None if isinstance(value, int) and type(value) is not bool else _describe(tp)
    if tp is float:
        number = isinstance(value, int | float) and type(value) is not bool
        return None if number and math.isfinite(value) else _describe(tp)
    if tp is str:
        return None if isinstance(value, str) else _describe(tp)
    raise TypeError(f"field_types: no rule for the annotation {tp!r}; add one")


def _describe(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(c) for c in get_args(tp))
    return {
        bool: "true or false",
        int: "a whole number",
        float: "a finite number",
        str: "a string",
        type(None): "None",
    }.get(tp, repr(tp))


def check_types(cls: type, values: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first field of dataclass `cls` whose value in `values` is not
    of its annotated type. Fields absent from `values` are not checked (they take defaults)."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        expected = _expected(hints[f.name], value)
        if expected is not None:
            raise ValueError(f"{cls.__name__}.{f.name}={value!r}: expected {expected}")


@dataclass(frozen=True)
class Bounds:
    """The allowed range of a numeric field. `high` is a sanity limit where there is no natural
    one: a config is data from anywhere, and one claiming 100,000 layers must be refused before
    anything is built from it, not after a minute of allocation."""

    low: int | float | None = None
    high: int | float | None = None
    low_open: bool = False  # low < value instead of low <= value
    high_open: bool = False  # value < high instead of value <= high


def check_bounds(obj: Any, bounds: Mapping[str, Bounds]) -> None:
    """Raise ValueError naming the first field of `obj` outside its Bounds (None is left alone:
    optional fields say so in their type)."""
    owner = type(obj).__name__
    for name, b in bounds.items():
        value = getattr(obj, name)
        if value is None:
            continue
        if b.low is not None and (value <= b.low if b.low_open else value < b.low):
            raise ValueError(f"{owner}.{name} must be {_above(b, value)}, got {value!r}")
        if b.high is not None and (value >= b.high if b.high_open else value > b.high):
            relation = "below" if b.high_open else "at most"
            raise ValueError(f"{owner}.{name} must be {relation} {_number(b.high)}, got {value!r}")


def _above(b: Bounds, value: Any) -> str:
    positive = (b.low == 0 and b.low_open) or (b.low == 1 and isinstance(value, int))
    if positive:
        return "positive"
    return f"{'above' if b.low_open else 'at least'} {_number(b.low)}"


def _number(x: int | float | None) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"
