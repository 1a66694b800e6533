"""The measurements part of a variant's record: every seed's rows at the log-spaced steps, the phase
change the rule finds in each, the spread of the final numbers, and the shipped seed's attention
snapshots copied beside the weights.

Read by the results table (training/induction_table.py), the findings (analysis/induction.py) and
the training-dynamics views, which open `file` (see training/measurements.py for its tensors).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from interp.phase import phase_change
from training.measurements import ROWS, SNAPSHOTS
from training.metrics import read_metrics
from training.suite import RunKey, Suite
from training.verdict import Spread

FINAL_KEYS = ("copy_gain", "best_induction", "first_copy_loss", "second_copy_loss", "val_loss")


def seed_phase(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The phase rule on one seed's rows: the curve is second-copy minus first-copy loss (see
    interp.phase), the score the best head's induction score (absent for the LSTM)."""
    rows = [r for r in rows if isinstance(r.get("copy_gain"), int | float)]
    steps = [int(r["step"]) for r in rows]
    curve = [-float(r["copy_gain"]) for r in rows]
    scores = [r.get("best_induction") for r in rows]
    best = [float(s) for s in scores] if rows and all(s is not None for s in scores) else None
    return phase_change(steps, curve, best).to_json()


def measurement_record(
    suite: Suite, keys: list[RunKey], shipped: RunKey, dest: Path, tokenizer: Any
) -> dict[str, Any] | None:
    """The record's `measurements` table; None when no seed measured anything (measure_steps 0).
    Copies the shipped seed's snapshots to dest (or removes a stale copy); their probe tokens are
    spelled with `tokenizer` (the shipped checkpoint's)."""
    rows = {k.seed: read_metrics(suite.run_dir(k) / ROWS) for k in keys}
    target = dest / SNAPSHOTS
    if not any(rows.values()):
        target.unlink(missing_ok=True)
        return None
    source = suite.run_dir(shipped) / SNAPSHOTS
    snapshots = None
    if source.exists():
        shutil.copyfile(source, target)
        ids = load_file(target)["tokens"].tolist()
        snapshots = {
            "file": SNAPSHOTS,
            "prompt": tokenizer.decode(ids),
            "tokens": tokenizer.token_strings(ids),
        }
    else:
        target.unlink(missing_ok=True)
    finals = {seed: (r[-1] if r else {}) for seed, r in rows.items()}
    spread = {key: Spread.of([finals[s].get(key) for s in finals]).__dict__ for key in FINAL_KEYS}
    return {
        "what": "measured at log-spaced steps of each seed (training/measurements.py)",
        "rows": {str(seed): r for seed, r in rows.items()},
        "phase": {str(seed): seed_phase(r) for seed, r in rows.items()},
        "final": {str(seed): f for seed, f in finals.items()},
        "spread": spread,
        "snapshots": snapshots,
    }
