"""A model folder's training history as the scrubber reads it: its loss curve, its measurement rows
and the phase change the mechanisms experiment's rule (`interp.phase`) finds in them.

A folder saved from the Train page holds metrics.jsonl and measurements.jsonl; a shipped variant
holds record.json, whose `curve` is the same records. Files are untrusted: what does not parse is
left out, never raised.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.catalog import read_record_json, record_curve

METRICS = "metrics.jsonl"
MEASUREMENTS = "measurements.jsonl"


def _json_lines(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and type(row.get("step")) is int:
            out.append(row)
    return out


def loss_curve(folder: Path) -> list[dict[str, Any]]:
    """step, train_loss, val_loss... records: metrics.jsonl, else record.json's curve."""
    rows = _json_lines(folder / METRICS)
    if rows:
        return rows
    record = read_record_json(folder)
    return record_curve(record) if record is not None else []


def measurement_rows(folder: Path) -> list[dict[str, Any]]:
    """The run's rows at its measurement steps: measurements.jsonl, else (a shipped model) its
    record's rows of the shipped seed."""
    rows = _json_lines(folder / MEASUREMENTS)
    if rows:
        return rows
    record = read_record_json(folder) or {}
    try:
        seed_rows = record["measurements"]["rows"][str(record["shipped_seed"])]
    except (KeyError, TypeError):
        return []
    if not isinstance(seed_rows, list):
        return []
    return [r for r in seed_rows if isinstance(r, dict) and type(r.get("step")) is int]


MEASURED_DETECTORS = ("induction", "previous_token")  # every head's score in each row


def measured_detector_lines(folder: Path) -> tuple[list[int], dict[str, np.ndarray]]:
    """(steps, detector -> [step, layer, head]) from the measurement rows' per-head scores; rows
    whose scores do not form one [layer][head] table are left out."""
    steps: list[int] = []
    tables: dict[str, list[np.ndarray]] = {d: [] for d in MEASURED_DETECTORS}
    shape = None
    for row in measurement_rows(folder):
        try:
            found = {d: np.asarray(row[d], dtype=np.float32) for d in MEASURED_DETECTORS}
        except (KeyError, TypeError, ValueError):
            continue
        shape = shape or found["induction"].shape
        if any(t.ndim != 2 or t.shape != shape for t in found.values()):
            continue
        steps.append(row["step"])
        for d, table in found.items():
            tables[d].append(table)
    if not steps:
        return [], {}
    return steps, {d: np.stack(t) for d, t in tables.items()}


@dataclass(frozen=True)
class PhaseReading:
    """The rule's verdict on a folder, or why it could not be read."""

    start: int | None  # the step range of the phase change (None: none found)
    end: int | None
    reason: str


def phase_reading(folder: Path) -> PhaseReading:
    """The phase change in a run's measurements: the rule reads the second copy's loss minus the
    first's, with the best induction score beside it (as the mechanisms experiment does)."""
    rows = [
        r
        for r in measurement_rows(folder)
        if _finite(r.get("first_copy_loss")) and _finite(r.get("second_copy_loss"))
    ]
    if len(rows) < 2:
        return PhaseReading(None, None, "no copy-loss measurements to read a phase change from")
    try:
        from interp.phase import phase_change
    except ImportError:
        return PhaseReading(None, None, "the phase-change rule is not available")
    steps = [r["step"] for r in rows]
    gap = [r["second_copy_loss"] - r["first_copy_loss"] for r in rows]
    best = [float(r["best_induction"]) if _finite(r.get("best_induction")) else 0.0 for r in rows]
    try:
        found = phase_change(steps, gap, best)
    except ValueError as e:
        return PhaseReading(None, None, str(e))
    return PhaseReading(found.start, found.end, found.reason)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
