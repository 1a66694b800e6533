"""Take training snapshots: the probe prompt's activations at chosen steps, in `training.snapshot_format`'
format (that module says what is stored, and why activations rather than weights).

A `SnapshotWriter` is a callable (step, model): the training loop's measurement callback calls it
at the measurement steps. Each step is one file written atomically, then the index is rewritten;
a resumed run first drops the steps after its checkpoint, which it is about to redo.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from analysis.capture import Capture, capture
from interp.detectors import detect_heads
from model.build import LanguageModel
from model.switches import Switches
from model.tokenizers import Tokenizer
from training.config import RunConfig
from training.snapshot_format import INDEX, SCHEMA_VERSION, SNAPSHOT_DIR, SnapshotIndex, step_file

DETECTOR_PROBES = 4  # repeated-random-token sequences the head detectors are scored on
# the suite's probe prompt: a run's snapshots read like the shipped variants'
DEFAULT_PROBE = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun."


@torch.no_grad()
def snapshot_arrays(
    model: LanguageModel, tokenizer: Tokenizer, ids: tuple[int, ...]
) -> tuple[dict[str, np.ndarray], Capture, list[str]]:
    """One step's arrays (fp16; top_ids int32), the capture they came from, the detector names.

    The capture is the app's own (`analysis.capture.capture`), so a view drawn from a snapshot
    shows what it would show of the weights at that step."""
    was_training = model.training
    model.eval()
    try:
        cap = capture(model, tokenizer, ids, Switches())
        detectors: list[str] = []
        out = {
            "resid_norms": cap.resid_norms,
            "losses": cap.losses,
            "top_ids": cap.top_ids.astype(np.int32),
            "top_probs": cap.top_probs,
        }
        if cap.patterns is not None:
            out["patterns"] = cap.patterns
            scores = detect_heads(model, n_probe=DETECTOR_PROBES)  # type: ignore[arg-type]
            detectors, stacked = scores.stacked()
            out["detectors"] = stacked.numpy()
        if cap.ln_mean is not None and cap.ln_std is not None:
            out["ln_mean"], out["ln_std"] = cap.ln_mean, cap.ln_std
    finally:
        model.train(was_training)
    arrays = {k: v if k == "top_ids" else v.astype(np.float16) for k, v in out.items()}
    return arrays, cap, detectors


class SnapshotWriter:
    """Writes <folder>/snapshots/: call it with (step, model) at each measurement step."""

    def __init__(self, folder: Path, tokenizer: Tokenizer, prompt: str, n_ctx: int) -> None:
        ids = tuple(tokenizer.encode(prompt)[:n_ctx])
        if not ids:
            raise ValueError("the snapshot probe prompt encodes to no tokens")
        self.dir = Path(folder) / SNAPSHOT_DIR
        self.tokenizer, self.prompt, self.ids = tokenizer, prompt, ids
        self.steps: list[int] = []
        self.last: Capture | None = None  # the newest step's capture, for a live view

    def resume_at(self, step: int) -> None:
        """Keep the snapshots up to `step` (a resumed run's checkpoint), drop the later ones."""
        if not self.dir.is_dir():
            return
        kept = []
        for f in sorted(self.dir.glob("step_*.safetensors")):
            s = int(f.stem.removeprefix("step_"))
            if s > step:
                f.unlink()
            else:
                kept.append(s)
        self.steps = kept

    def __call__(self, step: int, model: LanguageModel) -> None:
        arrays, cap, detectors = snapshot_arrays(model, self.tokenizer, self.ids)
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / (step_file(step) + ".tmp")
        save_file(arrays, str(tmp))
        os.replace(tmp, self.dir / step_file(step))
        self.steps = sorted({*self.steps, step})
        self.last = cap
        index = index_for(self.prompt, cap, arrays, detectors, tuple(self.steps))
        write_index(index, self.dir / INDEX)


def index_for(
    prompt: str,
    cap: Capture,
    arrays: dict[str, np.ndarray],
    detectors: list[str],
    steps: tuple[int, ...],
) -> SnapshotIndex:
    return SnapshotIndex(
        prompt=prompt,
        ids=tuple(int(i) for i in cap.ids),
        tokens=tuple(cap.tokens),
        steps=steps,
        fields=tuple(sorted(arrays)),
        stream_labels=tuple(cap.stream_labels),
        ln_labels=tuple(cap.ln_labels),
        detectors=tuple(detectors),
        causal=cap.causal,
        schema_version=SCHEMA_VERSION,
    )


def write_index(index: SnapshotIndex, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(index.to_json()))
    os.replace(tmp, path)


def run_snapshots(
    run: RunConfig, prompt: str = DEFAULT_PROBE
) -> Callable[[int, LanguageModel], dict]:
    """The training loop's on_measure for a run of the CLI: snapshots in <out_dir>/snapshots/.
    The tokenizer is the run's own, read on the first call (the loop has prepared it by then, so
    the tokenized corpus comes from the cache); a resumed run first drops the later steps."""
    writer: SnapshotWriter | None = None

    def on_measure(step: int, model: LanguageModel) -> dict:
        nonlocal writer
        if writer is None:
            from training.prepare import prepare_data

            tokenizer = prepare_data(run).tokenizer
            writer = SnapshotWriter(Path(run.train.out_dir), tokenizer, prompt, run.model.n_ctx)
            writer.resume_at(step - 1)
        writer(step, model)
        return {}

    return on_measure
