"""The ablation suite's plan: which runs exist, where they live, and which recipe each variant won.

A suite spec (TOML, see configs/suite.toml) names a base RunConfig, a learning-rate grid, seeds and
variants that each change a few fields of the base. Every variant is trained

1. at every grid point with the first seed (the recipe search), then
2. at the grid point with the lowest held-out *training* loss (`selection`) with the other seeds.

With `[suite.grid_start]`, the grid is a ladder of values on one axis (learning rates) and the search
starts at the listed run of it; while the best point is at an end of what has been searched, the
next rung beyond that end is trained too (a winner at the edge is not known to be the best). Every
variant follows the same rule on the same ladder.

This module is pure planning: no training, no files written. `training.experiments` runs the plan.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from model.safe_read import MiB, read_json, read_toml
from training.config import RunConfig, task_context

RUN_SUMMARY = "run.json"  # written by a finished run, beside its checkpoint/ and metrics.jsonl
# the run's saved config: training.train.CHECKPOINT / model.checkpoint.META (not imported: this
# module reads folders without torch)
SAVED_RUN = Path("checkpoint") / "meta.json"
# written by each job before it trains: the run config it was started for, for a run that ends
# (diverges) before its first checkpoint
RUN_SPEC = "spec.json"
# What a run folder or a record may differ in from the spec that asks for it and still be the same
# experiment: where it lives and reads its data, and how this machine runs it (device, threads,
# compiled or not, when it saves, in what batches it evaluates: the same trajectory up to
# rounding). The vocabulary size is set by the tokenizer when the data is prepared, and the
# context by the task (`task_context`).
LOCAL_TRAIN_FIELDS = frozenset(
    {
        "out_dir",
        "data_dir",
        "cache_dir",
        "progress",
        "threads",
        "device",
        "compile",
        "checkpoint_interval",
        "eval_batch_size",
    }
)
DERIVED_MODEL_FIELDS = frozenset({"vocab_size"})
Selection = Literal["holdout_loss"]


@dataclass(frozen=True)
class RunKey:
    """One training run of the suite: a variant at a grid point with a seed."""

    variant: str
    point: str  # e.g. "lr=0.003"; "fixed" for variants without a grid
    seed: int

    def __str__(self) -> str:
        return f"{self.variant}/{self.point}/seed{self.seed}"

    @classmethod
    def parse(cls, text: str) -> RunKey:
        parts = text.split("/")
        if len(parts) != 3 or not parts[2].startswith("seed"):
            raise ValueError(f"run key {text!r}: expected VARIANT/POINT/seedN")
        return cls(parts[0], parts[1], int(parts[2][4:]))


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    question: str  # which curriculum question it answers ("Q1".."Q4", "mask", "reference")
    run: RunConfig  # the base with this variant's changes; grid point and seed not yet applied
    changes: dict[str, Any] = field(default_factory=dict)  # what differs from the base
    grid: bool = True  # False: one fixed recipe (synthetic tasks with no held-out text)
    snapshots: bool = False  # save the probe prompt's attention at every evaluation
    ship_weights: bool = True  # False: only record.json ships (keeps the shipped folder small)


@dataclass(frozen=True)
class Suite:
    name: str
    out_dir: Path
    work_dir: Path
    seeds: tuple[int, ...]
    grid: dict[str, tuple[Any, ...]]  # train field -> values; points are the cartesian product
    selection: Selection
    probe_prompt: str
    sample_prompts: tuple[str, ...]
    sample_tokens: int
    variants: tuple[Variant, ...]
    # where the search starts on a one-axis ladder grid (None: search the whole grid at once)
    grid_start: tuple[Any, ...] | None = None

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"no variant {name!r} in suite {self.name!r}")

    def points(self, variant: Variant) -> list[dict[str, Any]]:
        if not variant.grid:
            return [{}]
        axes = list(self.grid)
        return [
            dict(zip(axes, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]

    def run_dir(self, key: RunKey) -> Path:
        return self.work_dir / key.variant / key.point / f"seed{key.seed}"

    def run_config(self, key: RunKey) -> RunConfig:
        variant = self.variant(key.variant)
        point = self.point_of(variant, key.point)
        train = variant.run.train
        changes = {**point, "seed": key.seed, "out_dir": str(self.run_dir(key))}
        return RunConfig(variant.run.model, dataclasses.replace(train, **changes))

    def point_of(self, variant: Variant, label: str) -> dict[str, Any]:
        for p in self.points(variant):
            if point_label(p) == label:
                return p
        raise KeyError(f"{variant.name}: no grid point {label!r}")

    def search_runs(self, variant: Variant) -> list[RunKey]:
        """The recipe-search runs this variant needs as far as the finished ones show: the whole
        grid, or on a ladder the start points widened one rung past any end that wins."""
        first = self.seeds[0]
        if not variant.grid or self.grid_start is None:
            return [RunKey(variant.name, point_label(p), first) for p in self.points(variant)]
        ((axis, ladder),) = self.grid.items()
        lo, hi = ladder.index(self.grid_start[0]), ladder.index(self.grid_start[-1])
        while True:
            keys = [
                RunKey(variant.name, point_label({axis: v}), first) for v in ladder[lo : hi + 1]
            ]
            summaries = [summary_of(self, k) for k in keys]
            if any(s is None for s in summaries):
                return keys
            wider = widen_ladder(
                [s.score() for s in summaries if s is not None], lo, hi, len(ladder)
            )
            if wider is None:
                return keys
            lo, hi = wider

    def seed_runs(self, variant: Variant, point: str) -> list[RunKey]:
        return [RunKey(variant.name, point, s) for s in self.seeds]


def widen_ladder(scores: list[float], lo: int, hi: int, rungs: int) -> tuple[int, int] | None:
    """The ladder rule, one step: `scores` (lower is better, inf for a failed run) of rungs lo..hi;
    the range widened one rung past each end that holds the best score, or None when the best is
    inside (or the ladder has no rung left there). An end that ties the best widens too; if every
    rung failed, smaller rates are tried."""
    low = min(scores)
    up = scores[-1] == low and hi + 1 < rungs and not math.isinf(low)
    down = scores[0] == low and lo > 0
    return (lo - down, hi + up) if up or down else None


def point_label(point: dict[str, Any]) -> str:
    if not point:
        return "fixed"
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


@dataclass(frozen=True)
class RunSummary:
    """What a finished run reports (run.json): enough to choose a recipe without reloading it."""

    status: str  # "completed" | "diverged"
    steps: int
    holdout_loss: float | None  # on the train split's held-out tail, whole slice
    val_loss: float | None
    seconds: float
    device: str
    precision: str
    threads: int
    message: str = ""

    def score(self) -> float:
        """Selection score: held-out loss; a run that diverged or produced no number ranks last."""
        if self.status != "completed" or self.holdout_loss is None:
            return math.inf
        return self.holdout_loss if math.isfinite(self.holdout_loss) else math.inf

    @classmethod
    def read(cls, path: Path) -> RunSummary | None:
        try:
            data = read_json(path)
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def summary_of(suite: Suite, key: RunKey) -> RunSummary | None:
    """The finished run's summary; None while it has not finished, or when its folder holds a run
    of another spec (`stale_reason`): that is not a result of this one."""
    summary = RunSummary.read(suite.run_dir(key) / RUN_SUMMARY)
    if summary is None or stale_reason(suite, key) is not None:
        return None
    return summary


def config_changes(saved: Any, now: RunConfig) -> list[str]:
    """'field saved -> now' for every field in which a stored run config (a RunConfig, or its
    to_dict() as checkpoints and records keep it) differs from `now`, beyond the local and derived
    fields."""
    try:
        old = saved if isinstance(saved, RunConfig) else RunConfig.from_dict(saved)
    except (ValueError, TypeError, KeyError) as e:
        return [f"unreadable config ({e})"]
    skip = {"model": DERIVED_MODEL_FIELDS, "train": LOCAL_TRAIN_FIELDS}
    changes: list[str] = []
    for part in ("model", "train"):
        a, b = getattr(old, part), getattr(now, part)
        if part == "model" and (old.train.task, now.train.task) != ("lm", "lm"):
            # as built: a checkpoint holds the context its task needed
            a, b = a.replace(n_ctx=task_context(old)), b.replace(n_ctx=task_context(now))
        for f in dataclasses.fields(b):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if f.name not in skip[part] and x != y:
                changes.append(f"{f.name} {x!r} -> {y!r}")
    return changes


class _Unreadable:
    """A saved config that does not parse (say, a field this code does not know)."""

    def __init__(self, why: str) -> None:
        self.why = why


# file -> (its stat signature, the config saved in it): parsed once, not at every poll. A
# checkpoint save renames a new folder into place, so the inode changes with every save.
_saved_runs: dict[Path, tuple[tuple[int, int, int], RunConfig | _Unreadable]] = {}


def _saved_run(path: Path, key: str | None) -> RunConfig | _Unreadable | None:
    """The run config in a JSON file (under `key`, or the whole file); None if there is no file."""
    try:
        st = path.stat()
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
    if path not in _saved_runs or _saved_runs[path][0] != stamp:
        try:
            data = read_json(path, 16 * MiB)  # a checkpoint's meta.json or a summary
            saved: RunConfig | _Unreadable = RunConfig.from_dict(data[key] if key else data)
        except (OSError, ValueError, TypeError, KeyError) as e:
            saved = _Unreadable(f"{path.name}: {type(e).__name__}: {e}")
        _saved_runs[path] = (stamp, saved)
    return _saved_runs[path][1]


def stale_reason(suite: Suite, key: RunKey) -> str | None:
    """How the run saved in this key's folder differs from what the spec asks for now (a spec
    changed, say to a longer budget, but kept its work_dir), or None. Such a folder is never
    counted as a result of this spec, and never resumed: continuing a 2,000-step run to 4,000 steps
    is not the 4,000-step run. What a folder holds is its checkpoint's config or, for a run that
    ended before its first checkpoint, the config its job was started for; a folder with neither
    has nothing to mistake."""
    folder = suite.run_dir(key)
    saved = _saved_run(folder / SAVED_RUN, "run") or _saved_run(folder / RUN_SPEC, None)
    if saved is None:
        return None
    if isinstance(saved, _Unreadable):
        return f"unreadable saved config ({saved.why})"
    changes = config_changes(saved, suite.run_config(key))
    return ", ".join(changes) if changes else None


def best_point(suite: Suite, variant: Variant) -> str | None:
    """The winning grid point once every search run has finished, else None. Ties keep grid order."""
    runs = suite.search_runs(variant)
    summaries = [summary_of(suite, k) for k in runs]
    if any(s is None for s in summaries):
        return None
    scores = [s.score() for s in summaries if s is not None]
    best = min(range(len(runs)), key=lambda i: scores[i])
    return runs[best].point


def pending_runs(suite: Suite, variants: list[Variant] | None = None) -> list[RunKey]:
    """Runs that can start now, in priority order (the spec's variant order, search before seeds).
    A variant's extra seeds appear only once its recipe search has finished."""
    todo: list[RunKey] = []
    for v in variants if variants is not None else suite.variants:
        search = [k for k in suite.search_runs(v) if summary_of(suite, k) is None]
        if search:
            todo += search
            continue
        point = best_point(suite, v)
        assert point is not None
        todo += [k for k in suite.seed_runs(v, point) if summary_of(suite, k) is None]
    return todo


def variant_done(suite: Suite, variant: Variant) -> bool:
    point = best_point(suite, variant)
    return point is not None and all(
        summary_of(suite, k) is not None for k in suite.seed_runs(variant, point)
    )


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`: tables merge key by key, anything else (lists too) is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def load_spec(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A suite spec's TOML, with `extends = "other.toml"` (relative to the file) resolved: a spec
    that changes a budget or a folder names only what differs, so it cannot drift from the suite
    it varies."""
    path = Path(path).resolve()
    if path in _seen:
        raise ValueError(f"{path}: `extends` loops back to itself")
    spec = read_toml(path)  # bounded: a regular file, at most a MiB, 64 levels deep
    for name, table in spec.items():
        if isinstance(table, dict) and "extends" in table:
            raise ValueError(f"{path}: `extends` belongs at the top of the file, not in [{name}]")
    parent = spec.pop("extends", None)
    if parent is None:
        return spec
    if not isinstance(parent, str):
        raise ValueError(f"{path}: `extends` must be a file name, got {parent!r}")
    return _merged(load_spec(path.parent / parent, (*_seen, path)), spec)


def read_suite(path: str | Path) -> Suite:
    spec = load_spec(path)
    meta = spec["suite"]
    base = spec.get("base", {})
    snap = set(meta.get("snapshot_variants", []))
    grid = {k: tuple(v) for k, v in meta.get("grid", {}).items()}
    train_fields = set(RunConfig().to_dict()["train"])
    for axis in grid:
        if axis not in train_fields or axis in ("seed", "out_dir"):
            raise ValueError(f"{path}: grid axis {axis!r} is not a train field that may vary")
    start = None
    if "grid_start" in meta:
        starts = {k: tuple(v) for k, v in meta["grid_start"].items()}
        if len(grid) != 1 or set(starts) != set(grid):
            raise ValueError(f"{path}: grid_start needs a grid of one axis, and names that axis")
        ((axis, ladder),) = grid.items()
        start = starts[axis]
        if list(ladder) != sorted(ladder) or len(set(ladder)) != len(ladder):
            raise ValueError(f"{path}: a ladder grid must be strictly increasing")
        if not start or any(v not in ladder for v in start):
            raise ValueError(f"{path}: grid_start values must be rungs of the grid")
        i = ladder.index(start[0])
        if tuple(ladder[i : i + len(start)]) != start:
            raise ValueError(f"{path}: grid_start must be consecutive rungs of the grid, in order")
    variants = []
    for v in spec["variant"]:
        data = {
            "model": {**base.get("model", {}), **v.get("model", {})},
            "train": {**base.get("train", {}), **v.get("train", {})},
        }
        variants.append(
            Variant(
                name=v["name"],
                description=v.get("description", ""),
                question=v.get("question", ""),
                run=RunConfig.from_dict(data),
                changes={**v.get("model", {}), **v.get("train", {})},
                grid=bool(v.get("grid", True)),
                ship_weights=bool(v.get("ship_weights", True)),
                snapshots=v["name"] in snap,
            )
        )
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate variant names")
    seeds = tuple(int(s) for s in meta.get("seeds", [0]))
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"{path}: seeds must be distinct and not empty")
    selection = meta.get("selection", "holdout_loss")
    if selection != "holdout_loss":
        raise ValueError(f"{path}: selection must be 'holdout_loss' (never a validation metric)")
    for v in variants:
        if v.grid and v.run.train.holdout_tokens <= 0:
            raise ValueError(
                f"{path}: variant {v.name} has a grid but no holdout_tokens to choose on"
            )
    return Suite(
        name=meta["name"],
        out_dir=Path(meta["out_dir"]),
        work_dir=Path(meta["work_dir"]),
        seeds=seeds,
        grid=grid,
        selection=selection,
        probe_prompt=meta["probe_prompt"],
        sample_prompts=tuple(meta["sample_prompts"]),
        sample_tokens=int(meta.get("sample_tokens", 80)),
        variants=tuple(variants),
        grid_start=start,
    )
