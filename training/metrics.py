"""The JSONL metrics log: one record per evaluation (and one per event such as divergence)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from model.safe_read import parse_json


class MetricsLog:
    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """On resume: drop records later than the checkpoint, so the log reads as one run."""
        if not self.enabled or not self.path.exists():
            return
        kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= step]
        # a new file renamed over the old one: rewriting in place, a kill mid-write loses records
        # the checkpoint still needs (20 of 30 in a probe); a rename leaves the old or the new
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in kept))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(_finite(record)) + "\n")


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf; a diverged loss is recorded as a string so the log stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                records.append(parse_json(line, path))  # depth-checked: never a RecursionError
            except ValueError:
                break  # a line cut short by a kill: everything before it is intact
    return records
