"""What the Train page offers, without Streamlit: the training-time fields of `ModelConfig` (from
the dataclass, so a switch added there appears on the page), presets from the suite's variants, and
the `LiveSpec` a choice becomes.

The run is the suite's recipe (configs/suite.toml's base, the variant's chosen rate where its record
says one) on Tiny Shakespeare's characters, cut to the page's budget: evaluations often enough for
the curve to move (about 25 per run, each capped at EVAL_TOKENS), snapshots at log-spaced steps.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from analysis.catalog import REPO, checkpoint_root
from model.config import ModelConfig
from training.config import RunConfig
from training.live_worker import LiveSpec
from training.snapshots import DEFAULT_PROBE

SUITE = REPO / "configs" / "suite.toml"
PROBE_PROMPT = DEFAULT_PROBE  # the suite's, so a run's snapshots read like the variants'
EVAL_TOKENS = 4096  # validation tokens per evaluation along the way (the last one reads them all)
EVALS_PER_RUN = 25
SNAPSHOT_STEPS = 30  # log-spaced snapshot steps of an app run
MIN_STEPS, MAX_STEPS = 10, 5000
# what the data decides, or what does not change how the model trains
NOT_OFFERED = frozenset({"vocab_size"})
# the page's bounds on sizes: a run must finish on this machine in minutes
SIZE_LIMITS: dict[str, tuple[int, int]] = {
    "n_ctx": (8, 256),
    "d_model": (8, 256),
    "n_layers": (1, 8),
    "n_heads": (1, 16),
    "d_head": (4, 128),
    "d_mlp": (8, 1024),
}


@dataclass(frozen=True)
class FormField:
    name: str
    kind: Literal["bool", "choice", "int", "float"]
    default: Any
    choices: tuple[Any, ...] = ()
    help: str = ""


def form_fields() -> list[FormField]:
    """Every ModelConfig field a user can set before training, typed from its annotation."""
    hints = typing.get_type_hints(ModelConfig)
    out = []
    for f in dataclasses.fields(ModelConfig):
        if f.name in NOT_OFFERED:
            continue
        tp = hints[f.name]
        if get_origin(tp) is Literal:
            out.append(FormField(f.name, "choice", f.default, get_args(tp)))
        elif tp is bool:
            out.append(FormField(f.name, "bool", f.default))
        elif tp is int:
            out.append(FormField(f.name, "int", f.default))
        else:
            out.append(FormField(f.name, "float", f.default))
    return out


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: dict[str, Any]  # ModelConfig fields but vocab_size
    lr: float


def presets() -> list[Preset]:
    """The suite's language-model variants, each at its recorded best rate (else the base's)."""
    from training.suite import read_suite

    suite = read_suite(SUITE)
    out = []
    for v in suite.variants:
        if v.run.train.task != "lm" or v.run.train.tokenizer != "char":
            continue
        model = {k: x for k, x in v.run.model.to_dict().items() if k not in NOT_OFFERED}
        out.append(Preset(v.name, v.description, model, _recorded_lr(v.name, v.run.train.lr)))
    return out


def _recorded_lr(name: str, fallback: float) -> float:
    try:
        record = json.loads((checkpoint_root() / name / "record.json").read_text())
        chosen = record["recipe"]["chosen"]
        return float(chosen.removeprefix("lr="))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return fallback


def live_spec(
    model_fields: dict[str, Any],
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    out_dir: Path,
    heartbeat_timeout_s: float,
    threads: int = 1,
) -> LiveSpec:
    """The run a form's values describe; ValueError (with the field named) for bad values."""
    from training.suite import read_suite

    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between {MIN_STEPS} and {MAX_STEPS}, got {steps}")
    for name, (low, high) in SIZE_LIMITS.items():
        value = model_fields.get(name)
        if isinstance(value, int) and not low <= value <= high:
            raise ValueError(f"{name} must be between {low} and {high} on this page, got {value}")
    base = read_suite(SUITE).variant("baseline").run.train
    model = ModelConfig.from_dict(model_fields)
    train = dataclasses.replace(
        base,
        max_steps=steps,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        warmup_steps=min(base.warmup_steps, steps // 10),
        eval_interval=max(1, steps // EVALS_PER_RUN),
        eval_max_tokens=EVAL_TOKENS,
        checkpoint_interval=max(1, steps // 5),
        out_dir=str(out_dir),
        progress=False,
        threads=threads,
        measure_steps=min(SNAPSHOT_STEPS, steps),
    )
    return LiveSpec(RunConfig(model, train), PROBE_PROMPT, heartbeat_timeout_s)
