"""Run question 1's recall experiment: a 2-layer and a 1-layer transformer and an LSTM with the
2-layer transformer's parameter count, each at its best learning rate, several seeds.

    python -m training.recall_experiment [--out checkpoints/curriculum/q1_recall] [--steps 1500]

Each learning rate of the grid is tried with the first seed and scored on held-out sequences (a
generator seed used for nothing else); the winner is trained with the other seeds; accuracy by
distance is reported on a third, test seed. Finished runs are kept as results in runs.json, so an
interrupted experiment resumes at run granularity (each run takes about a minute). The record
(record.json) holds every run; the median seed's 2-layer transformer ships (fp16) for the page's
live attention view.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from model.build import LanguageModel, build_model
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.hook_names import hook_name
from model.tokenizers import CharTokenizer
from training.config import TrainConfig
from training.optim import build_optimizer, lr_at
from training.recall import IGNORE, RecallTask, recall_batch
from training.suite import widen_ladder

SELECT_SEED, TEST_SEED = 10_001, 20_002  # generator seeds of the held-out and the test sequences


@dataclass(frozen=True)
class Spec:
    # 16 pairs, each one token, behind 0-128 filler tokens: distances from 1 to 175
    task: RecallTask = RecallTask(n_pairs=16, n_keys=16, n_values=16, max_gap=128, fused=True)
    steps: int = 1500
    batch: int = 32
    warmup: int = 50
    # the suite's ladder rule (training/suite.py, widen_ladder): start at `start`, widen one rung
    # past an end that wins (a model at chance everywhere widens only while noise puts its best
    # at an end)
    lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    start: tuple[float, ...] = (3e-3, 1e-2)
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_sequences: int = 512


def model_configs(task: RecallTask) -> dict[str, ModelConfig]:
    tf = ModelConfig(
        vocab_size=task.vocab,
        n_ctx=task.n_ctx,
        d_model=64,
        n_layers=2,
        n_heads=4,
        d_head=16,
        d_mlp=256,
        pos_encoding="learned",
        bias=False,
        gelu="exact",
    )
    n_tf = build_model(tf).n_params()
    # the LSTM's hidden width that gives it the 2-layer transformer's parameter count
    hidden = min(
        range(16, 512),
        key=lambda h: abs(
            build_model(
                tf.replace(architecture="lstm", n_layers=1, d_model=h, bias=True)
            ).n_params()
            - n_tf
        ),
    )
    return {
        "transformer_2l": tf,
        "transformer_1l": tf.replace(n_layers=1),
        "lstm": tf.replace(architecture="lstm", n_layers=1, d_model=hidden, bias=True),
    }


@torch.no_grad()
def evaluate_recall(model: LanguageModel, task: RecallTask, n: int, seed: int) -> dict[str, Any]:
    """Loss, accuracy, and accuracy per distance bin on n fresh sequences from `seed`."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    hits = torch.zeros(len(task.bins()))
    counts = torch.zeros(len(task.bins()))
    loss_sum, total = 0.0, 0
    for start in range(0, n, 128):
        x, y, dist = recall_batch(task, min(128, n - start), g)
        logits = model(x)
        scored = y != IGNORE
        loss_sum += F.cross_entropy(logits[scored], y[scored], reduction="sum").item()
        correct = logits.argmax(-1) == y
        total += int(scored.sum())
        for b, (lo, hi) in enumerate(task.bins()):
            sel = scored & (dist >= lo) & (dist < hi)
            hits[b] += correct[sel].sum()
            counts[b] += sel.sum()
    model.train()
    acc = [float(h / c) if c else None for h, c in zip(hits, counts, strict=True)]
    return {
        "loss": loss_sum / total,
        "accuracy": float(hits.sum() / counts.sum()),
        "accuracy_by_distance": acc,
        "count_by_distance": [int(c) for c in counts],
    }


def train_one(
    cfg: ModelConfig, spec: Spec, lr: float, seed: int
) -> tuple[LanguageModel, dict[str, Any]]:
    torch.manual_seed(seed)
    model = build_model(cfg)
    tc = TrainConfig(
        lr=lr, min_lr=0.0, decay="linear", warmup_steps=spec.warmup, max_steps=spec.steps
    )
    opt = build_optimizer(model, tc)
    g = torch.Generator().manual_seed(seed)
    curve = []
    t0 = time.perf_counter()
    status = "completed"
    for step in range(spec.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, tc)
        x, y, _ = recall_batch(spec.task, spec.batch, g)
        logits = model(x)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE
        )
        if not math.isfinite(loss.item()):
            status = "diverged"
            break
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % 250 == 0:
            curve.append(
                {"step": step + 1, "train_loss": loss.item(), "elapsed_s": time.perf_counter() - t0}
            )
    result = {
        "lr": lr,
        "seed": seed,
        "status": status,
        "seconds": round(time.perf_counter() - t0, 1),
        "n_params": model.n_params(),
        "curve": curve,
        "select": evaluate_recall(model, spec.task, spec.eval_sequences, SELECT_SEED),
        "test": evaluate_recall(model, spec.task, spec.eval_sequences, TEST_SEED),
    }
    return model, result


@torch.no_grad()
def head_roles(model: LanguageModel, task: RecallTask, n: int = 64) -> dict[str, list[list[float]]]:
    """Per [layer][head]: attention mass from each query on the token holding its answer
    (retrieval), on the token before it (the pair's key, two-token format only), and on the
    previous position (previous-token score)."""
    g = torch.Generator().manual_seed(TEST_SEED)
    x, y, dist = recall_batch(task, n, g)
    names = [hook_name("pattern", i) for i in range(model.cfg.n_layers)]
    model.eval()
    _, cache = model.run_with_cache(x, names=names)
    scored = y != IGNORE
    b_idx, q_idx = scored.nonzero(as_tuple=True)
    ans = q_idx - dist[b_idx, q_idx]
    out: dict[str, list[list[float]]] = {"retrieval": [], "pair_key": [], "previous_token": []}
    pos = torch.arange(1, x.shape[1])
    for name in names:
        p = cache[name]  # [batch, head, q, k]
        out["retrieval"].append(p[b_idx, :, q_idx, ans].mean(0).tolist())
        if not task.fused:  # the key sits just before its value only in the two-token format
            out["pair_key"].append(p[b_idx, :, q_idx, ans - 1].mean(0).tolist())
        out["previous_token"].append(p[:, :, pos, pos - 1].mean((0, 2)).tolist())
    return out


def _score(result: dict[str, Any]) -> float:
    """Lower is better: held-out accuracy first, held-out loss to break ties; a failed run last."""
    if result["status"] != "completed":
        return math.inf
    return -result["select"]["accuracy"] + 1e-6 * result["select"]["loss"]


def search(spec: Spec, run_at: Callable[[float], dict[str, Any]]) -> list[dict[str, Any]]:
    """One model's learning-rate search on the ladder, first seed: the results of every rung
    tried, in ladder order."""
    lo, hi = spec.lrs.index(spec.start[0]), spec.lrs.index(spec.start[-1])
    while True:
        grid = [run_at(lr) for lr in spec.lrs[lo : hi + 1]]
        wider = widen_ladder([_score(r) for r in grid], lo, hi, len(spec.lrs))
        if wider is None:
            return grid
        lo, hi = wider


def spread(values: list[float]) -> dict[str, float | int | None]:
    return {
        "mean": statistics.fmean(values) if values else None,
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "n": len(values),
    }


def run(out: Path, spec: Spec, work: Path | None = None) -> dict[str, Any]:
    """Train what is missing, then write out/record.json and out/transformer_2l (shipped); every
    run's result (runs.json) and the 2-layer transformers' weights stay in `work` (default: out)."""
    work = out if work is None else work
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    runs_path = work / "runs.json"
    done: dict[str, Any] = json.loads(runs_path.read_text()) if runs_path.exists() else {}
    configs = model_configs(spec.task)
    models: dict[str, dict[int, LanguageModel]] = {}

    def get(name: str, lr: float, seed: int) -> dict[str, Any]:
        key = f"{name}/lr={lr:g}/seed{seed}"
        if key not in done:
            model, result = train_one(configs[name], spec, lr, seed)
            models.setdefault(name, {})[seed] = model
            if name == "transformer_2l":
                save_checkpoint(
                    work / "runs" / key.replace("/", "_"),
                    model,
                    _tokenizer(spec.task),
                    {"run": key},
                )
            done[key] = result
            tmp = runs_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(done, indent=1))
            os.replace(tmp, runs_path)
            print(
                f"{key}: select acc {result['select']['accuracy']:.3f} in {result['seconds']} s",
                flush=True,
            )
        return done[key]

    record: dict[str, Any] = {
        "experiment": "q1_recall",
        "task": dataclasses.asdict(spec.task),
        "bins": spec.task.bins(),
        "spec": {k: v for k, v in dataclasses.asdict(spec).items() if k != "task"},
        "selection": f"accuracy on held-out sequences (generator seed {SELECT_SEED}); "
        f"test on seed {TEST_SEED}",
        "models": {},
    }
    for name in configs:
        grid = search(spec, lambda lr, name=name: get(name, lr, spec.seeds[0]))
        best = min(grid, key=_score)
        seeds = [get(name, best["lr"], s) for s in spec.seeds]
        by_bin = list(zip(*[r["test"]["accuracy_by_distance"] for r in seeds], strict=True))
        record["models"][name] = {
            "config": configs[name].to_dict(),
            "n_params": seeds[0]["n_params"],
            "lr": best["lr"],
            "grid": [
                {"lr": r["lr"], "status": r["status"], "select_accuracy": r["select"]["accuracy"]}
                for r in grid
            ],
            "seeds": seeds,
            "test_accuracy": spread([r["test"]["accuracy"] for r in seeds]),
            "accuracy_by_distance": [spread([v for v in col if v is not None]) for col in by_bin],
            "seconds_per_run": spread([r["seconds"] for r in seeds]),
        }
    # the shipped 2-layer transformer: the median seed's, with its heads' roles
    tf = record["models"]["transformer_2l"]
    order = sorted(tf["seeds"], key=lambda r: r["test"]["accuracy"])
    median = order[(len(order) - 1) // 2]
    from model.checkpoint import load_checkpoint

    key = f"transformer_2l/lr={median['lr']:g}/seed{median['seed']}"
    ckpt = load_checkpoint(work / "runs" / key.replace("/", "_"))
    save_checkpoint(
        out / "transformer_2l", ckpt.model, ckpt.tokenizer, {"run": key}, dtype=torch.float16
    )
    tf["shipped"] = key
    tf["head_roles"] = head_roles(ckpt.model, spec.task)
    tmp = out / "record.json.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, out / "record.json")
    return record


def _tokenizer(task: RecallTask) -> CharTokenizer:
    # one printable symbol per id, so the app can label tokens: keys a.., values after them
    symbols = "".join(chr(0x100 + i) for i in range(task.vocab))
    return CharTokenizer.train(symbols)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="checkpoints/curriculum/q1_recall")
    parser.add_argument("--work", default="runs/q1_recall", help="every run's results and weights")
    parser.add_argument("--steps", type=int, default=Spec.steps)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = Spec(steps=args.steps)
    record = run(Path(args.out), spec, Path(args.work))
    for name, m in record["models"].items():
        acc = m["test_accuracy"]
        print(f"{name}: lr {m['lr']:g}, test accuracy {acc['mean']:.3f} ± {acc['std'] or 0:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
