"""Training snapshots: what the views read of one probe prompt at a run's measurement steps.

Written by `training.snapshots` beside a run's checkpoint, read here by the app's step scrubber:

    snapshots/index.json            SnapshotIndex: the prompt, its tokens, labels, the steps
    snapshots/step_000250.safetensors   one file per step, fp16 (top_ids int32):
        patterns     [layer, head, q_pos, k_pos]   (absent for an LSTM)
        resid_norms  [layer_plus_1, pos]           ‖x‖ of the residual stream (LSTM: hidden states)
        ln_mean, ln_std  [ln, pos]                 LayerNorm input statistics (when the model has any)
        losses       [pos]                         next-token loss, NaN at position 0
        top_ids, top_probs  [pos, k]               the k likeliest next tokens
        detectors    [detector, layer, head]       head-detector scores (`interp.detectors`)

Activations and not weights, by measurement: the baseline's fp16 weights are 1.62 MB per step
(812k parameters) against 0.46 MB for everything above on a 120-token prompt, so 30 steps of
weights (49 MB) alone would break the 50 MB the repository ships; activations (14 MB) fit, at the
price that a view needing the weights (Q/K/V, patching, generation) cannot be drawn at a snapshot.

Two single-file formats are read too, as patterns only: the suite's (attention_snapshots.
safetensors; record.json's `snapshots` block spells the prompt) and the measurement steps'
(measurements.safetensors with the probe's ids; record.json's `measurements.snapshots` block).
Index files are untrusted JSON: anything malformed is a `SnapshotError`, never a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from model.safe_read import MiB, read_json

SNAPSHOT_DIR = "snapshots"
INDEX = "index.json"
SCHEMA_VERSION = 1
SUITE_FILE = "attention_snapshots.safetensors"  # the suite's five-step pattern snapshots
# the measurement steps' probe attention (training/measurements.py), shipped beside a record whose
# `measurements.snapshots` block spells its tokens
MEASURED_FILE = "measurements.safetensors"
FIELDS = (
    "patterns",
    "resid_norms",
    "ln_mean",
    "ln_std",
    "losses",
    "top_ids",
    "top_probs",
    "detectors",
)
_STEP_FILE = re.compile(r"step_(\d{6,})\.safetensors")


class SnapshotError(ValueError):
    """A snapshot folder or file that cannot be read as a snapshot series."""


def step_file(step: int) -> str:
    return f"step_{step:06d}.safetensors"


@dataclass(frozen=True)
class SnapshotIndex:
    """What every step of a series shares, and which steps exist."""

    prompt: str
    ids: tuple[int, ...]
    tokens: tuple[str, ...]  # printable label per position
    steps: tuple[int, ...]  # ascending
    fields: tuple[str, ...]  # which of FIELDS each step file holds
    stream_labels: tuple[str, ...] = ()
    ln_labels: tuple[str, ...] = ()
    detectors: tuple[str, ...] = ()  # row order of the `detectors` array
    causal: bool = True
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: Any) -> SnapshotIndex:
        if not isinstance(data, dict):
            raise SnapshotError("index.json is not a JSON object")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise SnapshotError(f"index.json is schema {data.get('schema_version')!r}, not 1")
        try:
            index = cls(
                prompt=_typed(data["prompt"], str),
                ids=_seq(data["ids"], int),
                tokens=_seq(data["tokens"], str),
                steps=_seq(data["steps"], int),
                fields=_seq(data["fields"], str),
                stream_labels=_seq(data.get("stream_labels", []), str),
                ln_labels=_seq(data.get("ln_labels", []), str),
                detectors=_seq(data.get("detectors", []), str),
                causal=_typed(data.get("causal", True), bool),
            )
        except KeyError as e:
            raise SnapshotError(f"index.json lacks {e}") from None
        if len(index.ids) != len(index.tokens) or list(index.steps) != sorted(set(index.steps)):
            raise SnapshotError("index.json: ids and tokens differ in length, or steps unsorted")
        if any(s < 0 for s in index.steps) or not set(index.fields) <= set(FIELDS):
            raise SnapshotError("index.json: a negative step or an unknown field")
        return index


def _typed(value: Any, tp: type) -> Any:
    if type(value) is not tp:
        raise SnapshotError(f"index.json: expected {tp.__name__}, got {type(value).__name__}")
    return value


def _seq(value: Any, tp: type) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise SnapshotError(f"index.json: expected a list of {tp.__name__}")
    return tuple(_typed(v, tp) for v in value)


@dataclass(frozen=True)
class SnapshotSeries:
    """A model's snapshots: the index, and where each step's arrays are."""

    index: SnapshotIndex
    folder: Path
    one_file: str | None = None  # one file holding every step's patterns (the suite's, ...)

    @property
    def steps(self) -> tuple[int, ...]:
        return self.index.steps

    def arrays(self, step: int) -> dict[str, np.ndarray]:
        """The arrays at one step, as float32 (top_ids int64); SnapshotError if unreadable."""
        if step not in self.index.steps:
            raise SnapshotError(f"no snapshot at step {step}; steps: {list(self.index.steps)}")
        try:
            if self.one_file is not None:
                data = load_file(self.folder / self.one_file)
                at = list(data["steps"]).index(step)
                raw = {"patterns": data["patterns"][at]}
            else:
                raw = load_file(self.folder / step_file(step))
        except (OSError, SafetensorError, KeyError, ValueError) as e:
            raise SnapshotError(f"step {step}: {type(e).__name__}: {e}") from None
        out = {k: v.astype(np.int64 if k == "top_ids" else np.float32) for k, v in raw.items()}
        _check_shapes(out, self.index)
        return out

    def detector_lines(self) -> dict[str, np.ndarray]:
        """Detector name -> [step, layer, head] scores over the series (steps lacking them: NaN)."""
        if "detectors" not in self.index.fields or not self.index.detectors:
            return {}
        rows = []
        for step in self.index.steps:
            try:
                rows.append(self.arrays(step)["detectors"])
            except (SnapshotError, KeyError):
                rows.append(None)
        shape = next((r.shape for r in rows if r is not None), None)
        if shape is None:
            return {}
        stacked = np.stack([r if r is not None else np.full(shape, np.nan) for r in rows])
        return {d: stacked[:, i] for i, d in enumerate(self.index.detectors)}


def _check_shapes(arrays: dict[str, np.ndarray], index: SnapshotIndex) -> None:
    n = len(index.ids)
    pat = arrays.get("patterns")
    if pat is not None and (pat.ndim != 4 or pat.shape[-2:] != (n, n)):
        raise SnapshotError(f"patterns of shape {pat.shape} do not fit a {n}-token prompt")
    for key in ("resid_norms", "ln_mean", "ln_std"):
        if key in arrays and (arrays[key].ndim != 2 or arrays[key].shape[1] != n):
            raise SnapshotError(f"{key} of shape {arrays[key].shape} do not fit {n} tokens")
    if "losses" in arrays and arrays["losses"].shape != (n,):
        raise SnapshotError(f"losses of shape {arrays['losses'].shape} do not fit {n} tokens")


def read_series(folder: Path) -> SnapshotSeries | None:
    """The snapshot series of a checkpoint folder (or a run folder holding one); None when it has
    none. Raises SnapshotError for one that exists but cannot be read."""
    folder = Path(folder)
    index_file = folder / SNAPSHOT_DIR / INDEX
    if index_file.is_file():
        try:
            data = read_json(index_file, 16 * MiB)  # bounded: a typed folder is untrusted
        except (OSError, ValueError) as e:
            raise SnapshotError(f"{INDEX}: {type(e).__name__}: {e}") from None
        index = SnapshotIndex.from_json(data)
        present = [s for s in index.steps if (folder / SNAPSHOT_DIR / step_file(s)).is_file()]
        index = SnapshotIndex(**{**index.__dict__, "steps": tuple(present)})
        return SnapshotSeries(index, folder / SNAPSHOT_DIR) if present else None
    if (folder / SUITE_FILE).is_file():
        return _one_file_series(folder, SUITE_FILE, ("snapshots",))
    if (folder / MEASURED_FILE).is_file() and (folder / "record.json").is_file():
        return _one_file_series(folder, MEASURED_FILE, ("measurements", "snapshots"))
    return None


def _one_file_series(folder: Path, file: str, path: tuple[str, ...]) -> SnapshotSeries | None:
    """Steps and patterns in one file; prompt and tokens in the record.json block at `path`."""
    try:
        record = read_json(folder / "record.json", 16 * MiB)
        block = record
        for key in path:
            block = block[key]
        data = load_file(folder / file)
        steps = tuple(int(s) for s in data["steps"].tolist())
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        raise SnapshotError(f"{file}: {type(e).__name__}: {e}") from None
    if not isinstance(block, dict):
        raise SnapshotError(f"record.json's {'.'.join(path)} is not an object")
    tokens = _seq(block.get("tokens"), str)
    n = int(data["patterns"].shape[-1])
    if len(tokens) != n:
        raise SnapshotError(f"record.json names {len(tokens)} tokens for {n}-token patterns")
    ids = data["tokens"].tolist() if "tokens" in data else list(range(n))  # the suite kept none
    index = SnapshotIndex(
        prompt=_typed(block.get("prompt", ""), str),
        ids=tuple(int(i) for i in ids),
        tokens=tokens,
        steps=tuple(sorted(steps)),
        fields=("patterns",),
        causal=bool(record.get("model_config", {}).get("causal_mask", True)),
    )
    return SnapshotSeries(index, folder, one_file=file)


def nearest_at_or_before(steps: tuple[int, ...], step: int) -> int | None:
    """The latest snapshot step not after `step` (Compare's shared axis); None before the first."""
    earlier = [s for s in steps if s <= step]
    return earlier[-1] if earlier else None
