"""What a view's builder returns, item by item, for the Explore page to lay out top to bottom.

Kept apart from `views.registry` so that view modules can build items without importing the
registry that lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import plotly.graph_objects as go


@dataclass(frozen=True)
class Chart:
    key: str  # widget key, unique on the page
    figure: go.Figure
    # "head": a click on a point whose customdata is [layer, head] focuses that head
    pick: str = ""


@dataclass(frozen=True)
class SideBySide:
    charts: tuple[Chart, ...]


@dataclass(frozen=True)
class Html:
    html: str
    javascript: bool = False  # it carries a script of ours (never user text) that must run


@dataclass(frozen=True)
class Table:
    key: str
    rows: list[dict]


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class Callout:
    """A sentence the reader must not miss (drawn as a coloured box, not a caption)."""

    text: str
    level: Literal["warning", "info"] = "info"


Item = Chart | SideBySide | Html | Table | Note | Callout
