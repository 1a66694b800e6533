"""The Curriculum's questions in the order the page shows them: key -> the builder of its
`Section` (records only; the page adds the live parts)."""

from __future__ import annotations

from collections.abc import Callable

from curriculum.evidence import Evidence
from views import curriculum_mask, curriculum_q1, curriculum_q2, curriculum_q3, curriculum_q4
from views.curriculum_section import Section

SECTIONS: dict[str, Callable[[Evidence], Section]] = {
    "Q1": curriculum_q1.build,
    "Q2": curriculum_q2.build,
    "Q3": curriculum_q3.build,
    "Q4": curriculum_q4.build,
    "mask": curriculum_mask.build,
}
