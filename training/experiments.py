"""The ablation suite: train every variant of a spec file, record what happened, ship the results.

    python -m training.experiments [--suite configs/suite.toml] [--only baseline no_residual] [--jobs 2]

Variants share data, token budget and seed and differ in the switches their spec sets. A variant
whose record says it is complete is skipped, so an interrupted suite picks up where it stopped.
Each variant ends as <out_dir>/<name>/: a checkpoint folder (fp16 weights) plus record.json, and for
the variants listed under `snapshot_variants`, attention_snapshots.safetensors (the probe prompt's
patterns at every evaluation).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from model.build import LanguageModel
from model.checkpoint import load_checkpoint, save_checkpoint
from training.config import RunConfig
from training.corpora import load_corpus
from training.evaluate import evaluate
from training.lambada import lambada_eval
from training.metrics import read_metrics
from training.prepare import model_config_for, prepare_data
from training.probes import batch_loss, probe_patterns, sample_statistics, samples
from training.reversal import accuracy_per_position, reversal_batch
from training.train import CHECKPOINT, METRICS, train

RECORD = "record.json"
SNAPSHOTS = "attention_snapshots.safetensors"


@dataclass
class Variant:
    name: str
    description: str
    run: RunConfig
    snapshots: bool = False
    changes: dict[str, Any] = field(default_factory=dict)  # what differs from the base, for tables


@dataclass
class Suite:
    name: str
    out_dir: Path
    work_dir: Path
    probe_prompt: str
    sample_prompts: list[str]
    sample_tokens: int
    variants: list[Variant]


def read_suite(path: str | Path) -> Suite:
    spec = tomllib.loads(Path(path).read_text())
    meta = spec["suite"]
    base = spec.get("base", {})
    snap = set(meta.get("snapshot_variants", []))
    variants = []
    for v in spec["variant"]:
        data = {
            "model": {**base.get("model", {}), **v.get("model", {})},
            "train": {**base.get("train", {}), **v.get("train", {})},
        }
        data["train"]["out_dir"] = str(Path(meta["work_dir"]) / v["name"])
        changes = {**v.get("model", {}), **v.get("train", {})}
        variants.append(
            Variant(
                v["name"],
                v.get("description", ""),
                RunConfig.from_dict(data),
                v["name"] in snap,
                changes,
            )
        )
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate variant names")
    return Suite(
        meta["name"],
        Path(meta["out_dir"]),
        Path(meta["work_dir"]),
        meta["probe_prompt"],
        list(meta["sample_prompts"]),
        int(meta.get("sample_tokens", 80)),
        variants,
    )


def is_complete(suite: Suite, variant: Variant) -> bool:
    path = suite.out_dir / variant.name / RECORD
    if not path.is_file():
        return False
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return bool(record.get("complete")) and record.get("config") == variant.run.to_dict()


def run_variant(suite: Suite, variant: Variant, data_dir: str | None) -> dict[str, Any]:
    run = variant.run
    if data_dir is not None and run.train.task == "lm":
        run = RunConfig(run.model, dataclasses.replace(run.train, data_dir=data_dir))
    data = prepare_data(run)
    sized = model_config_for(run, data)
    lm = run.train.task == "lm"
    lambada_val = None
    if lm:
        corpus = load_corpus("lambada", run.train.data_dir)
        lambada_val = corpus.val_passages
    probe_ids = None
    if lm and sized.model.architecture == "transformer":
        probe_ids = torch.tensor([data.tokenizer.encode(suite.probe_prompt)[: sized.model.n_ctx]])
    snapshots: list[torch.Tensor] = []
    snapshot_steps: list[int] = []

    def on_eval(step: int, model: LanguageModel) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if lambada_val is not None:
            # a fixed 200-passage subset keeps evaluation cheap; the record's final figure uses all
            res = lambada_eval(model, data.tokenizer, lambada_val[:200])
            extra |= {"lambada_loss": res.loss, "lambada_accuracy": res.accuracy}
        if variant.snapshots and probe_ids is not None:
            snapshots.append(probe_patterns(model, probe_ids).half())
            snapshot_steps.append(step)
        model.train()
        return extra

    t0 = time.perf_counter()
    result = train(run, resume=True, on_eval=on_eval, name=variant.name)
    seconds = time.perf_counter() - t0

    dest = suite.out_dir / variant.name
    work = Path(run.train.out_dir)
    curve = read_metrics(work / METRICS)
    ckpt = load_checkpoint(work / CHECKPOINT)
    record: dict[str, Any] = {
        "name": variant.name,
        "description": variant.description,
        "changes": variant.changes,
        "suite": suite.name,
        "config": variant.run.to_dict(),
        "model_config": sized.model.to_dict(),  # the config the weights were built with (vocabulary from the data)
        "status": result.status,
        "message": result.message,
        "steps": result.step,
        "n_params": ckpt.model.n_params(),
        "train_seconds": round(float(ckpt.meta.get("elapsed_s", seconds)), 1),
        "tokens_per_s": round(result.tokens_per_second, 1),
        "corpus": data.corpus_source,
        "tokenizer": data.tokenizer.kind,
        "curve": curve,
    }
    evals = [r for r in curve if "val_loss" in r or "second_half_accuracy" in r]
    if evals:
        last = evals[-1]
        record["final"] = {
            k: last[k]
            for k in (
                "val_loss",
                "val_bpc",
                "lambada_loss",
                "lambada_accuracy",
                "first_half_accuracy",
                "second_half_accuracy",
            )
            if k in last
        }
    model = ckpt.model
    if lm:
        assert data.val is not None and lambada_val is not None
        full = evaluate(model, data.val, sized.model.n_ctx, run.train.eval_batch_size)
        record["final"] = {
            **record.get("final", {}),
            "val_loss": full.loss,
            "val_bpc": full.bits_per_char(data.val_chars),
            "val_tokens": full.n_tokens,
        }
        n = sized.model.n_ctx
        fixed = torch.from_numpy(data.val[: 8 * n + 1].astype("int64"))
        windows = torch.stack([fixed[i * n : i * n + n + 1] for i in range(8)])
        record["probe"] = sample_statistics(model, windows[:, :-1])
        lam = lambada_eval(model, data.tokenizer, lambada_val)
        record["lambada"] = lam.__dict__
        record["final"] |= {"lambada_loss": lam.loss, "lambada_accuracy": lam.accuracy}
        record["samples"] = samples(
            model, data.tokenizer, suite.sample_prompts, suite.sample_tokens, seed=0
        )
    else:
        t = run.train
        record["reversal"] = {
            "accuracy_per_position": accuracy_per_position(model, t.reversal_len, t.reversal_vocab),
            "length": t.reversal_len,
            "symbols": t.reversal_vocab,
            "chance": 1.0 / t.reversal_vocab,
        }
        x, y = reversal_batch(8, t.reversal_len, t.reversal_vocab, torch.Generator().manual_seed(0))
        windows = torch.cat([x, y[:, -1:]], dim=1)
        _, cache = model.run_with_cache(x[:1], names=lambda s: s.endswith("hook_pattern"))
        pats = torch.stack(
            [cache[f"blocks.{i}.attn.hook_pattern"][0] for i in range(model.cfg.n_layers)]
        )
        record["probe"] = {
            "tokens": x[0].tolist(),
            "patterns": pats.numpy().round(3).tolist(),
            "future_attention": sample_statistics(model, x)["future_attention"],
        }

    save_checkpoint(
        dest, model, ckpt.tokenizer, {**ckpt.meta, "name": variant.name}, dtype=torch.float16
    )
    shipped = load_checkpoint(dest)
    record["fixed_batch"] = {"tokens": windows.tolist(), "loss": batch_loss(shipped.model, windows)}
    if snapshots:
        save_file(
            {"patterns": torch.stack(snapshots), "steps": torch.tensor(snapshot_steps)},
            dest / SNAPSHOTS,
        )
        record["snapshots"] = {
            "file": SNAPSHOTS,
            "steps": snapshot_steps,
            "prompt": suite.probe_prompt,
            "tokens": shipped.tokenizer.token_strings(probe_ids[0].tolist())
            if probe_ids is not None
            else [],
        }
    record["complete"] = True
    tmp = dest / (RECORD + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, dest / RECORD)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train every variant of an ablation suite and record the results."
    )
    parser.add_argument("--suite", default="configs/suite.toml", help="suite spec (TOML)")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads for this process"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="variants trained at once (each in its own process, one thread)",
    )
    parser.add_argument(
        "--data_dir",
        default=None,
        help="folder with the corpora (else $ATTENTION_LAB_DATA, else the hub)",
    )
    parser.add_argument("--force", action="store_true", help="retrain variants already complete")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    suite = read_suite(args.suite)
    todo = [v for v in suite.variants if (not args.only or v.name in args.only)]
    unknown = set(args.only or []) - {v.name for v in suite.variants}
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}")
    todo = [v for v in todo if args.force or not is_complete(suite, v)]
    print(f"{len(todo)} variant(s) to train: {[v.name for v in todo]}", flush=True)
    if args.jobs > 1 and len(todo) > 1:
        return _run_parallel(args, todo)
    for v in todo:
        print(f"== {v.name}", flush=True)
        record = run_variant(suite, v, args.data_dir)
        print(
            f"== {v.name}: {record['status']} {record.get('final', {})} in {record['train_seconds']} s",
            flush=True,
        )
    return 0


def _run_parallel(args: argparse.Namespace, todo: list[Variant]) -> int:
    """One process per variant, `jobs` at a time, one thread each (2 cores: two at once)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pending = list(todo)
    running: list[tuple[Variant, subprocess.Popen[bytes]]] = []
    failed = []
    while pending or running:
        while pending and len(running) < args.jobs:
            v = pending.pop(0)
            cmd = [
                sys.executable,
                "-m",
                "training.experiments",
                "--suite",
                args.suite,
                "--only",
                v.name,
                "--threads",
                "1",
            ]
            if args.data_dir:
                cmd += ["--data_dir", args.data_dir]
            if args.force:
                cmd.append("--force")
            log_path = Path(v.run.train.out_dir).parent / f"{v.name}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "wb")  # noqa: SIM115 - closed when the process ends
            running.append(
                (v, subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
            )
            print(f"started {v.name}", flush=True)
        time.sleep(2)
        for item in list(running):
            v, proc = item
            if proc.poll() is not None:
                running.remove(item)
                print(f"finished {v.name}: exit {proc.returncode}", flush=True)
                if proc.returncode:
                    failed.append(v.name)
    if failed:
        print(f"failed: {failed} (see their .log files)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
