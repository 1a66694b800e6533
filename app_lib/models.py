"""Which checkpoints the app offers: the shipped variants under one root, plus any folder typed in.

A variant is a checkpoint folder (model.safetensors, config.json, tokenizer.json, meta.json) that
may also hold `record.json`, the experiment's recorded metrics. Every key of a record is optional:
the app shows what is there and skips what is not.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENV_ROOT = "ATTENTION_LAB_CHECKPOINTS"  # tests point this at a temp dir of tiny checkpoints
DEFAULT_VARIANT = "baseline"
RECORD = "record.json"


def checkpoint_root() -> Path:
    """Where shipped variants live: $ATTENTION_LAB_CHECKPOINTS, else <repo>/checkpoints."""
    env = os.environ.get(ENV_ROOT)
    return Path(env).expanduser() if env else REPO / "checkpoints"


@dataclass(frozen=True)
class Variant:
    name: str  # folder name, shown in the model picker
    path: Path


def list_variants(root: Path | None = None) -> list[Variant]:
    """Checkpoint folders directly under root (those with a config.json), baseline first."""
    root = checkpoint_root() if root is None else root
    if not root.is_dir():
        return []
    found = [
        Variant(p.name, p)
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.name.startswith(".") and (p / "config.json").is_file()
    ]
    # the landing page should open on the reference model, whatever the alphabet says
    return sorted(found, key=lambda v: (v.name != DEFAULT_VARIANT, v.name))


def checkpoint_stamp(path: Path) -> float:
    """Latest modification time of the folder's files: retraining into the same folder
    changes it, so a cache keyed on (path, stamp) never serves stale weights."""
    try:
        times = [f.stat().st_mtime for f in path.iterdir() if f.is_file()]
    except OSError:
        return 0.0
    return max(times, default=0.0)


def read_record(path: Path) -> dict[str, Any] | None:
    """The variant's record.json as a dict; None when missing or unreadable (never raises)."""
    try:
        data = json.loads((path / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def record_curve(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's training curve: a list of {"step", "train_loss", "val_loss", ...} dicts."""
    curve = record.get("curve")
    if not isinstance(curve, list):
        return []
    return [point for point in curve if isinstance(point, dict)]


def scalar_metrics(record: dict[str, Any]) -> dict[str, float]:
    """Top-level numeric entries of a record, plus one level of nesting ("lambada.accuracy")."""
    out: dict[str, float] = {}
    for key, value in record.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[key] = float(value)
        elif isinstance(value, dict):
            for sub, inner in value.items():
                if isinstance(inner, int | float) and not isinstance(inner, bool):
                    out[f"{key}.{sub}"] = float(inner)
    return out
