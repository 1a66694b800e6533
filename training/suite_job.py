"""One run of the ablation suite, in its own process: train (resuming), then write run.json.

    python -m training.experiments --job baseline/lr=0.003/seed0 [--threads 1]

Besides the training loop's metrics, every evaluation of a transformer language model records the
attention's health on a fixed batch of held-out training text: mean entropy of the pattern and the
largest pre-softmax score per layer (question 2: saturation). Variants marked for snapshots also
keep the probe prompt's attention at every evaluation (snapshots.safetensors in the run folder).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from model.build import LanguageModel
from model.hook_names import hook_name
from training.lambada import held_out_passages, lambada_metrics
from training.metrics import read_metrics
from training.prepare import prepare_data
from training.probes import probe_patterns
from training.suite import RUN_SPEC, RUN_SUMMARY, RunKey, RunSummary, Suite, stale_reason
from training.train import METRICS, train

SNAPSHOTS = "snapshots.safetensors"
LOCK = ".running"


@torch.no_grad()
def attention_health(model: LanguageModel, tokens: torch.Tensor) -> dict[str, list[float]]:
    """Per layer, on tokens [batch, pos]: mean entropy of the attention rows (nats) and the largest
    score that reaches the softmax (masked cells excluded)."""
    n = model.cfg.n_layers
    names = [hook_name(kind, i) for i in range(n) for kind in ("pattern", "attn_scores")]
    was_training = model.training
    model.eval()
    _, cache = model.run_with_cache(tokens, names=names)
    model.train(was_training)
    entropy, max_logit = [], []
    for i in range(n):
        p = cache[hook_name("pattern", i)].float()  # [batch, head, q, k]
        entropy.append(float(-(p * p.clamp_min(1e-30).log()).sum(-1).mean()))
        s = cache[hook_name("attn_scores", i)].float()
        max_logit.append(float(s[torch.isfinite(s)].max()))
    return {"attn_entropy": entropy, "attn_max_logit": max_logit}


class StaleRun(ValueError):
    """The run's folder holds a run of another spec: resuming it would not be this spec's run."""


def run_job(suite: Suite, key: RunKey) -> RunSummary:
    variant = suite.variant(key.variant)
    run = suite.run_config(key)
    why = stale_reason(suite, key)
    if why is not None:
        raise StaleRun(
            f"{suite.run_dir(key)} holds a run of another spec ({why}): give the suite a new "
            "work_dir, or remove that folder to train this run afresh"
        )
    out = Path(run.train.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # what this folder is for, should the run end before its first checkpoint says so
    tmp = out / (RUN_SPEC + ".tmp")
    tmp.write_text(json.dumps(run.to_dict(), indent=1))
    os.replace(tmp, out / RUN_SPEC)
    lock = out / LOCK
    lock.write_text(str(os.getpid()))
    try:
        return _train_and_summarise(suite, variant.snapshots, run, key, out)
    finally:
        lock.unlink(missing_ok=True)


def _train_and_summarise(
    suite: Suite, snapshots: bool, run: Any, key: RunKey, out: Path
) -> RunSummary:
    t = run.train
    is_lm_transformer = t.task == "lm" and run.model.architecture == "transformer"
    probe_batch = probe_ids = None
    if is_lm_transformer:
        data = prepare_data(run)
        assert data.holdout is not None or data.train is not None
        text = data.holdout if data.holdout is not None else data.train
        n = run.model.n_ctx
        probe_batch = torch.stack(
            [torch.from_numpy(text[i * n : (i + 1) * n].astype("int64")) for i in range(4)]
        )
        probe_ids = torch.tensor([data.tokenizer.encode(suite.probe_prompt)[:n]])
    # a run on LAMBADA's training passages scores the held-out passages at every evaluation
    lambada = None
    if t.task == "lm" and t.corpus == "lambada":
        lambada = (prepare_data(run).tokenizer, held_out_passages(t.data_dir))
    snap_path = out / SNAPSHOTS
    snaps: dict[int, torch.Tensor] = {}
    if snapshots and snap_path.exists():
        saved = load_file(snap_path)
        snaps = {int(s): p for s, p in zip(saved["steps"].tolist(), saved["patterns"], strict=True)}

    def on_eval(step: int, model: LanguageModel) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if lambada is not None:
            extra |= lambada_metrics(model, *lambada)
        if probe_batch is not None:
            extra |= attention_health(model, probe_batch.to(next(model.parameters()).device))
        if snapshots and probe_ids is not None:
            for s in [s for s in snaps if s >= step]:  # a resumed run redoes these evaluations
                del snaps[s]
            snaps[step] = (
                probe_patterns(model, probe_ids.to(next(model.parameters()).device)).half().cpu()
            )
            steps = sorted(snaps)
            tmp = out / (SNAPSHOTS + ".tmp")
            save_file(
                {"patterns": torch.stack([snaps[s] for s in steps]), "steps": torch.tensor(steps)},
                tmp,
            )
            os.replace(tmp, snap_path)
        model.train()
        return extra

    result = train(run, resume=True, on_eval=on_eval, name=str(key))
    holdout, val = None, result.val_loss
    for rec in read_metrics(out / METRICS) if (out / METRICS).exists() else []:
        if (
            rec.get("step") == result.step and "val_loss" in rec
        ):  # the final, whole-split evaluation
            holdout, val = rec.get("holdout_loss"), rec["val_loss"]

    summary = RunSummary(
        status=result.status,
        steps=result.step,
        holdout_loss=holdout,
        val_loss=val,
        seconds=round(result.total_seconds, 1),  # a resumed run: with the time before
        device=device_name(),
        precision=t.precision,
        threads=torch.get_num_threads(),
        message=result.message,
    )
    tmp = out / (RUN_SUMMARY + ".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(summary), indent=1))
    os.replace(tmp, out / RUN_SUMMARY)
    return summary


def device_name() -> str:
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    import platform

    return f"cpu:{platform.processor() or platform.machine()}"


def lock_holder(run_dir: Path) -> int | None:
    """The pid of a live process training this run, else None (a stale lock from a kill is ignored)."""
    try:
        pid = int((run_dir / LOCK).read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid
