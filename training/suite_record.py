"""A finished variant's record: the recipe search, every seed, the spread, the references, and the
median seed's weights, written to <out_dir>/<variant>/ (record.json beside an fp16 checkpoint).

`VariantRecord` is the one schema the suite writes and the results table, app and tests read.
Schema 2 keeps every key schema 1 had (the shipped seed's curve, final numbers, probe statistics,
samples, fixed batch), so older readers keep working, and adds `recipe`, `seeds`, `spread`,
`references` and `mask_flip`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from model.checkpoint import load_checkpoint, save_checkpoint
from model.hook_names import hook_name
from model.safe_read import MiB, read_json
from training.config import RunConfig
from training.corpora import CorpusNotFoundError, load_corpus
from training.evaluate import evaluate
from training.induction_record import measurement_record
from training.lambada import lambada_eval
from training.lambada_record import lambada_record
from training.metrics import read_metrics
from training.ngram import fitting_orders, ngram_reference
from training.prepare import model_config_for, prepare_data
from training.probes import batch_loss, sample_statistics, samples
from training.references import context_gain, count_references, with_causal_mask
from training.reversal import accuracy_per_position, half_accuracies, reversal_batch
from training.suite import (
    RunKey,
    RunSummary,
    Suite,
    Variant,
    best_point,
    config_changes,
    summary_of,
)
from training.train import CHECKPOINT, METRICS
from training.verdict import Spread

SCHEMA_VERSION = 2
RECORD = "record.json"
SNAPSHOTS = "attention_snapshots.safetensors"
MAX_SNAPSHOTS = 5  # evaluations whose probe patterns ship (evenly spaced, the last included)
CHECKPOINT_FILES = ("model.safetensors", "config.json", "tokenizer.json", "meta.json", SNAPSHOTS)


def _spaced(n: int, k: int) -> list[int]:
    """k indices of range(n), evenly spaced, always including the last; all of them if n <= k."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


@dataclass
class GridRun:
    point: str
    seed: int
    status: str
    holdout_loss: float | None  # the selection metric
    val_loss: float | None  # reported, never used for choosing
    seconds: float


@dataclass
class SeedRun:
    seed: int
    status: str
    steps: int
    train_seconds: float
    device: str
    precision: str
    val_loss: float | None = None
    val_bpc: float | None = None
    holdout_loss: float | None = None
    mask_flipped_val_loss: float | None = None  # the same weights with the causal mask flipped
    context_gain: float | None = None  # loss at position 2 minus mean loss over the second half
    loss_by_position: list[float] = field(default_factory=list)
    first_half_accuracy: float | None = None  # reversal task
    second_half_accuracy: float | None = None


@dataclass
class VariantRecord:
    schema_version: int
    name: str
    description: str
    question: str
    changes: dict[str, Any]
    suite: str
    config: dict[str, Any]  # the shipped seed's RunConfig
    model_config: dict[str, Any]  # the config the weights were built with (vocabulary from data)
    status: str  # the shipped seed's
    message: str
    steps: int
    n_params: int
    train_seconds: float
    tokens_per_s: float
    corpus: str
    tokenizer: str
    device: str
    precision: str
    recipe: dict[str, Any]  # {"selection", "chosen", "grid": [GridRun]}
    seeds: list[SeedRun]
    shipped_seed: int
    spread: dict[str, Spread]
    references: dict[str, Any]
    mask_flip: dict[str, Any]
    curve: list[dict[str, Any]]
    final: dict[str, Any]
    probe: dict[str, Any] = field(default_factory=dict)
    lambada: dict[str, Any] | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    fixed_batch: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, Any] | None = None
    reversal: dict[str, Any] | None = None
    # seconds per training step of this model and the reference's, timed side by side when the
    # architectures differ (recorded wall times are not comparable between runs)
    speed: dict[str, Any] | None = None
    # every seed's rows at log-spaced steps, the phase change in each, and where the shipped seed's
    # attention snapshots are (training/induction_record.py); None for runs that measured nothing
    measurements: dict[str, Any] | None = None
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VariantRecord:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"record schema {data.get('schema_version')!r}; this code reads {SCHEMA_VERSION}"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["recipe"] = {
            **data["recipe"],
            "grid": [GridRun(**g) for g in data["recipe"].get("grid", [])],
        }
        kwargs["seeds"] = [SeedRun(**s) for s in data["seeds"]]
        kwargs["spread"] = {k: Spread(**v) for k, v in data["spread"].items()}
        return cls(**kwargs)

    @classmethod
    def read(cls, folder: Path) -> VariantRecord:
        return cls.from_json(read_json(folder / RECORD, 16 * MiB))

    def summary_line(self) -> str:
        s = self.spread.get("val_loss") or self.spread.get("second_half_accuracy")
        if s is None or s.mean is None:
            return f"{self.status}, recipe {self.recipe.get('chosen')}"
        std = f" ± {s.std:.3f}" if s.std is not None else ""
        return f"{s.mean:.3f}{std} over {s.n} seeds, recipe {self.recipe.get('chosen')}"


def spec_changes(suite: Suite, record: VariantRecord) -> list[str]:
    """How the run a record was written from differs from what the suite spec asks of that variant
    at the record's chosen point and shipped seed (empty: a result of this spec). A record of an
    earlier budget must not be compared with the spec's other records as if it were one of them."""
    try:
        key = RunKey(record.name, str(record.recipe.get("chosen")), record.shipped_seed)
        return config_changes(record.config, suite.run_config(key))
    except KeyError as e:  # not a variant of this spec, or its chosen point is not on the grid
        return [str(e).strip("'\"")]
    except (ValueError, TypeError) as e:  # a hand-edited record: a seed that is not a number
        return [f"unreadable record ({e})"]


def timed_against(suite: Suite, variant: Variant) -> Variant | None:
    """The suite's reference variant when `variant` has another architecture (an LSTM against
    the transformer baseline): their step times must then be timed side by side. Else None."""
    refs = [v for v in suite.variants if v.question == "reference"]
    if not refs or refs[0].name == variant.name or variant.run.train.task != "lm":
        return None
    same = variant.run.model.architecture == refs[0].run.model.architecture
    return None if same else refs[0]


def _speed_against_reference(
    suite: Suite, variant: Variant, run: RunConfig, data: Any
) -> dict[str, Any] | None:
    """Step times of this variant and the suite's reference, timed side by side (see
    `timed_against`)."""
    from training.step_timing import time_steps_side_by_side

    ref = timed_against(suite, variant)
    if ref is None:
        return None
    mine = model_config_for(run, data).model
    theirs = model_config_for(RunConfig(ref.run.model, run.train), data).model
    timing = time_steps_side_by_side(
        {variant.name: (mine, run.train), ref.name: (theirs, ref.run.train)}
    )
    return {
        "reference": ref.name,
        "seconds_per_step": {k: round(v, 6) for k, v in timing.seconds.items()},
        "rounds": timing.rounds,
        "steps_per_round": timing.steps_per_round,
        "threads": timing.threads,
        "device": timing.device,
        "clock": timing.clock,
    }


def run_seconds(summary: RunSummary, metrics: list[dict[str, Any]]) -> float:
    """Seconds of training the run took in all: its metrics' last elapsed_s, which a resumed run
    carries over from its checkpoint, or run.json's seconds where those are larger. Work lost
    between the last checkpoint and an interruption is not counted."""
    elapsed = [r["elapsed_s"] for r in metrics if isinstance(r.get("elapsed_s"), int | float)]
    return round(max([summary.seconds, *elapsed[-1:]]), 1)


def _seed_run(suite: Suite, key: RunKey) -> tuple[SeedRun, list[dict[str, Any]]]:
    summary = summary_of(suite, key)
    if summary is None:
        raise ValueError(f"{key}: not finished at this spec ({suite.run_dir(key)})")
    curve = read_metrics(suite.run_dir(key) / METRICS)
    last = next((r for r in reversed(curve) if "val_loss" in r or "second_half_accuracy" in r), {})
    positions = [round(x, 4) for x in last.get("val_loss_per_position", [])]
    run = SeedRun(
        seed=key.seed,
        status=summary.status,
        steps=summary.steps,
        train_seconds=run_seconds(summary, curve),
        device=summary.device,
        precision=summary.precision,
        val_loss=last.get("val_loss") if summary.status == "completed" else None,
        val_bpc=last.get("val_bpc") if summary.status == "completed" else None,
        holdout_loss=summary.holdout_loss,
        loss_by_position=positions,
        context_gain=context_gain(positions),
        first_half_accuracy=last.get("first_half_accuracy"),
        second_half_accuracy=last.get("second_half_accuracy"),
    )
    return run, curve


def _primary(run: SeedRun) -> float:
    if run.second_half_accuracy is not None:
        return -run.second_half_accuracy
    return run.val_loss if run.val_loss is not None else math.inf


def write_variant_record(suite: Suite, variant: Variant) -> VariantRecord:
    point = best_point(suite, variant)
    if point is None:
        raise ValueError(f"{variant.name}: the recipe search has not finished")
    grid = []
    for key in suite.search_runs(variant):
        s = summary_of(suite, key)
        if s is None:
            raise ValueError(f"{key}: not finished at this spec ({suite.run_dir(key)})")
        seconds = run_seconds(s, read_metrics(suite.run_dir(key) / METRICS))
        grid.append(GridRun(key.point, key.seed, s.status, s.holdout_loss, s.val_loss, seconds))
    keys = suite.seed_runs(variant, point)
    runs, curves = zip(*(_seed_run(suite, k) for k in keys), strict=True)
    runs, curves = list(runs), list(curves)
    # the shipped weights are the median seed's (by the primary metric; diverged seeds sort last)
    order = sorted(range(len(runs)), key=lambda i: _primary(runs[i]))
    median = order[(len(order) - 1) // 2]
    shipped_key = keys[median]
    run_config = suite.run_config(shipped_key)
    data = prepare_data(run_config)
    sized = model_config_for(run_config, data)
    lm = run_config.train.task == "lm"

    references: dict[str, Any] = {}
    mask_flip: dict[str, Any] = {}
    for key, run in zip(keys, runs, strict=True):
        ckpt_dir = suite.run_dir(key) / CHECKPOINT
        if not lm or run.status != "completed" or sized.model.architecture != "transformer":
            continue
        model = load_checkpoint(ckpt_dir).model
        flipped = with_causal_mask(model, not model.cfg.causal_mask)
        assert data.val is not None
        run.mask_flipped_val_loss = evaluate(flipped, data.val, sized.model.n_ctx).loss
    if lm and sized.model.architecture == "transformer":
        trained_causal = sized.model.causal_mask
        mask_flip = {
            "what": "validation loss of the same weights with the causal mask "
            + ("removed at inference" if trained_causal else "put back at inference"),
            "trained_with_mask": trained_causal,
            "spread": Spread.of([r.mask_flipped_val_loss for r in runs]),
        }
    if lm:
        assert data.train is not None and data.val is not None
        refs = count_references(data.train, data.holdout, data.val, data.tokenizer.n_vocab)
        references = {
            "split": "validation",
            "fitted_on": "the tokens the models trained on (train split minus the held-out slice)",
            "unigram_loss": refs.unigram_loss,
            "bigram_loss": refs.bigram_loss,
            "bigram_alpha": refs.bigram_alpha,
            "unigram_bpc": refs.bpc(refs.unigram_loss, data.val_chars),
            "bigram_bpc": refs.bpc(refs.bigram_loss, data.val_chars),
        }
        if data.holdout is not None:  # how far counting alone gets with more context
            orders = fitting_orders(data.tokenizer.n_vocab)
            n_ctx = sized.model.n_ctx
            ngram = ngram_reference(
                data.train, data.holdout, data.val, data.tokenizer.n_vocab, orders, n_ctx
            )
            references |= {
                "ngram": "interpolated Kneser-Ney, order chosen on the held-out slice",
                "ngram_order": ngram.order,
                "ngram_loss": ngram.loss,
                "ngram_bpc": refs.bpc(ngram.loss, data.val_chars),
                "ngram_by_order": {str(n): list(v) for n, v in ngram.by_order.items()},
                # at each position of the models' evaluation windows: a model has fewer than
                # order-1 tokens of context at its first positions, the count model never does
                "ngram_loss_by_position": ngram.by_position,
            }

    metrics = ["val_loss", "val_bpc", "holdout_loss", "context_gain", "mask_flipped_val_loss"]
    if not lm:
        metrics = ["first_half_accuracy", "second_half_accuracy"]
    spread = {m: Spread.of([getattr(r, m) for r in runs]) for m in metrics}

    shipped = runs[median]
    ckpt = load_checkpoint(suite.run_dir(shipped_key) / CHECKPOINT)
    model = ckpt.model.eval()
    curve = curves[median]
    final = {
        k: v
        for k, v in {
            "val_loss": shipped.val_loss,
            "val_bpc": shipped.val_bpc,
            "holdout_loss": shipped.holdout_loss,
            "first_half_accuracy": shipped.first_half_accuracy,
            "second_half_accuracy": shipped.second_half_accuracy,
        }.items()
        if v is not None
    }
    dest = suite.out_dir / variant.name
    dest.mkdir(parents=True, exist_ok=True)
    probe: dict[str, Any] = {}
    lambada = None
    sample_list: list[dict[str, Any]] = []
    reversal = None
    if lm:
        assert data.val is not None
        n = sized.model.n_ctx
        fixed = torch.from_numpy(data.val[: 8 * n + 1].astype("int64"))
        windows = torch.stack([fixed[i * n : i * n + n + 1] for i in range(8)])
        probe = sample_statistics(model, windows[:, :-1])
        try:
            passages = load_corpus("lambada", run_config.train.data_dir).val_passages
        except CorpusNotFoundError as e:  # no LAMBADA here: the record says so instead
            lambada = {"missing": str(e)}
        else:
            lam = lambada_eval(model, data.tokenizer, passages)
            lambada = lam.__dict__
            final |= {"lambada_loss": lam.loss, "lambada_accuracy": lam.accuracy}
            if run_config.train.corpus == "lambada":  # trained on the other passages: a benchmark
                seeds = [r.seed for r in runs]
                dirs = [suite.run_dir(k) / CHECKPOINT for k in keys]
                lambada["benchmark"] = lambada_record(run_config, data, curves, seeds, dirs)
        sample_list = samples(
            model, data.tokenizer, list(suite.sample_prompts), suite.sample_tokens, seed=0
        )
    else:
        t = run_config.train
        acc = accuracy_per_position(model, t.reversal_len, t.reversal_vocab)
        first, second = half_accuracies(acc, t.reversal_len)
        reversal = {
            "accuracy_per_position": acc,
            "length": t.reversal_len,
            "symbols": t.reversal_vocab,
            "chance": 1.0 / t.reversal_vocab,
        }
        x, y = reversal_batch(8, t.reversal_len, t.reversal_vocab, torch.Generator().manual_seed(0))
        windows = torch.cat([x, y[:, -1:]], dim=1)
        _, cache = model.run_with_cache(x[:1], names=lambda s: s.endswith("hook_pattern"))
        pats = torch.stack([cache[hook_name("pattern", i)][0] for i in range(model.cfg.n_layers)])
        probe = {
            "tokens": x[0].tolist(),
            "patterns": pats.numpy().round(3).tolist(),
            "future_attention": sample_statistics(model, x)["future_attention"],
        }

    fixed_batch: dict[str, Any] = {}
    snapshots = None
    if not variant.ship_weights:
        for stale in CHECKPOINT_FILES:  # an earlier suite's weights under this name
            (dest / stale).unlink(missing_ok=True)
    else:
        save_checkpoint(
            dest, model, ckpt.tokenizer, {**ckpt.meta, "name": variant.name}, dtype=torch.float16
        )
        reloaded = load_checkpoint(dest)
        fixed_batch = {"tokens": windows.tolist(), "loss": batch_loss(reloaded.model, windows)}
    snap_src = suite.run_dir(shipped_key) / "snapshots.safetensors"
    if variant.snapshots and variant.ship_weights and snap_src.exists():
        saved = load_file(snap_src)
        keep = _spaced(len(saved["steps"]), MAX_SNAPSHOTS)
        save_file({k: v[keep].contiguous() for k, v in saved.items()}, dest / SNAPSHOTS)
        ids = data.tokenizer.encode(suite.probe_prompt)[: sized.model.n_ctx]
        snapshots = {
            "file": SNAPSHOTS,
            "steps": saved["steps"][keep].tolist(),
            "prompt": suite.probe_prompt,
            "tokens": ckpt.tokenizer.token_strings(ids),
        }
    elif (dest / SNAPSHOTS).exists():
        (dest / SNAPSHOTS).unlink()

    measurements = measurement_record(suite, keys, shipped_key, dest, ckpt.tokenizer)
    speed = _speed_against_reference(suite, variant, run_config, data)
    evals = [r for r in curve if "step" in r]
    tps = next((r["tokens_per_s"] for r in reversed(evals) if "tokens_per_s" in r), 0.0)
    record = VariantRecord(
        schema_version=SCHEMA_VERSION,
        name=variant.name,
        description=variant.description,
        question=variant.question,
        changes=variant.changes,
        suite=suite.name,
        config=run_config.to_dict(),
        model_config=sized.model.to_dict(),
        status=shipped.status,
        message=summary_of(suite, shipped_key).message,  # type: ignore[union-attr]
        steps=shipped.steps,
        n_params=model.n_params(),
        train_seconds=shipped.train_seconds,
        tokens_per_s=round(float(tps), 1),
        corpus=data.corpus_source,
        tokenizer=data.tokenizer.kind,
        device=shipped.device,
        precision=shipped.precision,
        recipe={"selection": suite.selection, "chosen": point, "grid": grid},
        seeds=runs,
        shipped_seed=shipped.seed,
        spread=spread,
        references=references,
        mask_flip=mask_flip,
        curve=curve,
        final=final,
        probe=probe,
        lambada=lambada,
        samples=sample_list,
        fixed_batch=fixed_batch,
        snapshots=snapshots,
        reversal=reversal,
        speed=speed,
        measurements=measurements,
        complete=True,
    )
    tmp = dest / (RECORD + ".tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=1))
    os.replace(tmp, dest / RECORD)
    return record
