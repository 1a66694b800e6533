"""Which checkpoints the app offers, and what their records say.

A variant is a checkpoint folder (model.safetensors, config.json, tokenizer.json, meta.json) that
may also hold `record.json`, written by the experiment suite as a `training.suite_record.
VariantRecord`. The app reads records only through that dataclass: a record of an older schema, or
one that does not parse, becomes a `RecordRead` with a note for the page instead of an exception.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.safe_read import MiB, read_json

if TYPE_CHECKING:  # the suite's module pulls in training; the Explore page never needs it
    from training.suite_record import VariantRecord

REPO = Path(__file__).resolve().parents[1]
ENV_ROOT = "ATTENTION_LAB_CHECKPOINTS"  # tests point this at a temp dir of tiny checkpoints
DEFAULT_VARIANT = "baseline"
RECORD = "record.json"
RECORD_LIMIT = 16 * MiB  # a record with its curves is ~60 KB


def checkpoint_root() -> Path:
    """Where shipped variants live: $ATTENTION_LAB_CHECKPOINTS, else <repo>/checkpoints."""
    env = os.environ.get(ENV_ROOT)
    return Path(env).expanduser() if env else REPO / "checkpoints"


USER_ENV = "ATTENTION_LAB_USER_RUNS"
USER_PREFIX = "app/"  # user-trained models' picker names: never mistaken for a shipped variant


def user_runs_root() -> Path | None:
    """Where the Train page saves models: $ATTENTION_LAB_USER_RUNS, else <repo>/runs/app; None
    when only $ATTENTION_LAB_CHECKPOINTS is set (tests pointing the app at their own
    checkpoints must not see models someone trained on this checkout)."""
    env = os.environ.get(USER_ENV)
    if env:
        return Path(env).expanduser()
    return None if os.environ.get(ENV_ROOT) else REPO / "runs" / "app"


@dataclass(frozen=True)
class Variant:
    name: str  # folder name, shown in the model picker
    path: Path


def _folders_with(file: str, root: Path | None) -> list[Variant]:
    root = checkpoint_root() if root is None else root
    if not root.is_dir():
        return []
    found = [
        Variant(p.name, p)
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.name.startswith(".") and (p / file).is_file()
    ]
    # the landing page should open on the reference model, whatever the alphabet says
    return sorted(found, key=lambda v: (v.name != DEFAULT_VARIANT, v.name))


def list_variants(root: Path | None = None) -> list[Variant]:
    """Checkpoint folders directly under root (those with a config.json), baseline first; with no
    root, the shipped ones and then the models saved from the Train page (`user_runs_root`)."""
    found = _folders_with("config.json", root)
    user = user_runs_root() if root is None else None
    if user is not None:
        found += [Variant(USER_PREFIX + v.name, v.path) for v in _folders_with("config.json", user)]
    return found


def list_hf_models() -> list[Variant]:
    """GPT-2 family models in the local Hugging Face cache, named `hf:<name>` (a read-only scan
    of the cache folders; nothing is downloaded)."""
    from model.hf import cached_gpt2_models  # the model package, only when the picker asks

    return [Variant(m.source, m.path) for m in cached_gpt2_models()]


def list_recorded(root: Path | None = None) -> list[Variant]:
    """Folders directly under root with a record.json, baseline first: the suite may record a
    variant without shipping its weights, so this can list more than `list_variants`."""
    return _folders_with(RECORD, root)


def checkpoint_stamp(path: Path) -> float:
    """Latest modification time of the folder's files: retraining into the same folder
    changes it, so a cache keyed on (path, stamp) never serves stale weights."""
    try:
        times = [f.stat().st_mtime for f in path.iterdir() if f.is_file()]
    except OSError:
        return 0.0
    return max(times, default=0.0)


# --- records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordRead:
    """A folder's record as the app can use it: the typed record, or why there is none."""

    record: VariantRecord | None
    note: str | None = None  # None with no record means the folder simply has no record.json


def read_record_json(path: Path) -> dict[str, Any] | None:
    """record.json as a plain dict, any schema; None when missing or unreadable (never raises).
    For readers that need one field whatever the schema (the scrubber's loss curve,
    `analysis.dynamics`); everything else reads a typed record through `read_record`."""
    try:
        data = read_json(path / RECORD, RECORD_LIMIT)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_record(path: Path) -> RecordRead:
    """The folder's `VariantRecord`; never raises: a bad or older record becomes a note."""
    file = path / RECORD
    if not file.is_file():
        return RecordRead(None)
    try:  # the schema lives with its writer, the suite; a broken training/ must not break the page
        from training.suite_record import SCHEMA_VERSION, VariantRecord
    except Exception as e:  # noqa: BLE001 - any failure to import is reported, not raised
        return RecordRead(None, f"the record schema could not be loaded ({type(e).__name__}: {e})")
    try:
        data = read_json(file, RECORD_LIMIT)  # bounded: a hostile record cannot stall the page
    except (OSError, ValueError) as e:
        return RecordRead(None, f"its {RECORD} cannot be read ({type(e).__name__}: {e})")
    if not isinstance(data, dict):
        return RecordRead(None, f"its {RECORD} is not a JSON object")
    version = data.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        return RecordRead(
            None,
            f"its {RECORD} is schema {version}, written before the re-designed suite; this app "
            f"reads schema {SCHEMA_VERSION} (retrain it with the suite to compare its numbers)",
        )
    try:
        return RecordRead(VariantRecord.from_json(data))
    except (TypeError, KeyError, ValueError, AttributeError) as e:
        return RecordRead(
            None, f"its {RECORD} does not match schema {SCHEMA_VERSION} ({type(e).__name__}: {e})"
        )


def record_curve(record: Any) -> list[dict[str, Any]]:
    """A record's training curve: a list of {"step", "train_loss", "val_loss", ...} dicts.
    Takes a `VariantRecord` or a plain dict (the Curriculum page's)."""
    curve = record.get("curve") if isinstance(record, dict) else getattr(record, "curve", None)
    if not isinstance(curve, list):
        return []
    return [point for point in curve if isinstance(point, dict)]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# Metrics whose unit is nats per token: they compare across models only with the same tokenizer.
PER_TOKEN = ("val_loss", "holdout_loss", "lambada_loss", "mask_flipped_val_loss")
# The loss that compares across tokenizers: bits per character of the same text.
PER_CHAR = "val_bpc"


def record_metrics(record: VariantRecord) -> dict[str, float]:
    """The numbers Compare can chart for one record: the shipped seed's final metrics, the mean
    over seeds of each spread metric ("val_loss (seed mean)"), and the run's size and cost."""
    out: dict[str, float] = {}
    for key, value in record.final.items():
        if (v := _finite(value)) is not None:
            out[key] = v
    for key, spread in record.spread.items():
        if (v := _finite(spread.mean)) is not None:
            out[f"{key} (seed mean)"] = v  # one key whatever the seed count, so records align
    for key in ("n_params", "steps", "train_seconds", "tokens_per_s"):
        if (v := _finite(getattr(record, key))) is not None:
            out[key] = v
    return out


def seed_std(record: VariantRecord, metric: str) -> float | None:
    """The standard deviation over seeds behind a "(seed mean)" metric; None for other metrics
    or a single seed."""
    key = metric.removesuffix(" (seed mean)")
    spread = record.spread.get(key) if key != metric else None
    return _finite(spread.std) if spread is not None else None


def default_metric(metrics: list[str], tokenizers: set[str]) -> str | None:
    """Compare opens on validation loss, in bits per character when the tokenizers differ
    (nats per token of a BPE model and of a char model measure different things)."""
    preferred = [PER_CHAR, "val_loss"] if len(tokenizers) > 1 else ["val_loss", PER_CHAR]
    preferred += ["second_half_accuracy"]  # the reversal task has no loss on text
    return next((m for m in preferred if m in metrics), metrics[0] if metrics else None)


def is_per_token(metric: str) -> bool:
    """Whether a metric of `record_metrics` is measured in nats per token."""
    return any(metric in (m, f"{m} (seed mean)") for m in PER_TOKEN)
