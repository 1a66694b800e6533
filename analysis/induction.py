"""The induction experiment's findings, read from its shipped records (checkpoints/induction_*).

Pure reading: no model is run. The Curriculum (question 1) and docs/induction.md take their numbers here,
each with its spread over seeds, so no sentence carries a number the records do not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.suite_record import RECORD, Spread, VariantRecord

PREFIX = "induction_"


@dataclass(frozen=True)
class InductionFinding:
    """One model of the experiment, over its seeds (final measurement of each)."""

    name: str
    description: str
    n_params: int
    layers: int
    attention: bool  # False: the LSTM (no heads to score)
    mlp: bool
    lr: str  # the ladder's choice
    best_induction: Spread  # the largest induction score of any head
    copy_gain: Spread  # first copy's loss minus the second's, nats per token
    second_copy_loss: Spread
    val_loss: Spread  # plain validation text
    second_copy_by_distance: dict[str, Spread]  # distance bin -> the second copy's loss
    phases: dict[int, dict[str, Any]]  # seed -> the phase rule's result
    rows: dict[int, list[dict[str, Any]]] = field(repr=False)  # seed -> measurement rows
    shipped_seed: int = 0

    @property
    def phase_found_in(self) -> int:
        return sum(bool(p.get("found")) for p in self.phases.values())


def induction_records(root: str | Path = "checkpoints") -> list[VariantRecord]:
    """Every induction_* record under root, in name order; unreadable records are skipped."""
    out = []
    for folder in sorted(Path(root).glob(f"{PREFIX}*")):
        if (folder / RECORD).exists():
            try:
                out.append(VariantRecord.read(folder))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return out


def finding(record: VariantRecord) -> InductionFinding:
    m = record.measurements or {}
    spread = m.get("spread") or {}
    finals = list((m.get("final") or {}).values())
    bins = sorted(
        {b for f in finals for b in (f.get("second_copy_loss_by_distance") or {})},
        key=lambda b: int(b.split("-")[0]),
    )
    by_distance = {
        b: Spread.of([(f.get("second_copy_loss_by_distance") or {}).get(b) for f in finals])
        for b in bins
    }
    cfg = record.model_config

    def s(key: str) -> Spread:
        return Spread(**spread[key]) if key in spread else Spread(None, None, 0)

    return InductionFinding(
        name=record.name,
        description=record.description,
        n_params=record.n_params,
        layers=int(cfg.get("n_layers", 0)),
        attention=cfg.get("architecture", "transformer") == "transformer",
        mlp=bool(cfg.get("mlp", True)),
        lr=str(record.recipe.get("chosen")),
        best_induction=s("best_induction"),
        copy_gain=s("copy_gain"),
        second_copy_loss=s("second_copy_loss"),
        val_loss=s("val_loss"),
        second_copy_by_distance=by_distance,
        phases={int(k): v for k, v in (m.get("phase") or {}).items()},
        rows={int(k): v for k, v in (m.get("rows") or {}).items()},
        shipped_seed=record.shipped_seed,
    )


def findings(root: str | Path = "checkpoints") -> list[InductionFinding]:
    return [finding(r) for r in induction_records(root)]


def figure_inputs(
    found: list[InductionFinding],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """What viz.induction.induction_over_training draws: each model's shipped seed's rows and
    phase."""
    runs = {f.name: f.rows.get(f.shipped_seed, []) for f in found}
    phases = {f.name: f.phases.get(f.shipped_seed, {}) for f in found}
    return runs, phases
