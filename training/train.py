"""The training loop and its command line.

    python -m training.train --config configs/baby_gpt_char.toml [--max_steps 500 ...] [--resume]
    torchrun --nproc_per_node 2 -m training.train --config ...      # DDP, see training/distributed.py

Writes <out_dir>/checkpoint/ (model.safetensors, config, tokenizer, meta, optimizer and RNG state)
every checkpoint_interval steps and at the end, and <out_dir>/metrics.jsonl, a record per evaluation.
A NaN or inf loss ends the run as a result, not a crash: the record says "diverged" and the last
good checkpoint stays as it was.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from model.build import LanguageModel, build_model
from model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_save_leftovers,
    save_checkpoint,
)
from model.safe_read import folder_problem
from training.batches import rank_generator
from training.cli import config_parser, run_config_from_args
from training.config import RunConfig
from training.distributed import (
    DeviceUnavailable,
    DistInfo,
    all_gather_cpu,
    all_reduce_mean,
    barrier,
    exit_process,
    init_distributed,
    shutdown,
)
from training.evaluate import evaluate
from training.measurements import language_model_measurer
from training.metrics import MetricsLog
from training.optim import build_optimizer, load_optimizer_tensors, lr_at, optimizer_tensors
from training.prepare import BatchSource, RunData, check_data_fits, model_config_for, prepare_data
from training.repeats import holdout_loss
from training.reversal import accuracy_per_position, half_accuracies
from training.snapshots import run_snapshots

CHECKPOINT = "checkpoint"
METRICS = "metrics.jsonl"
Status = Literal["completed", "diverged", "stopped"]
# called at every evaluation with (step, model); what it returns is merged into the metrics record
EvalCallback = Callable[[int, LanguageModel], dict[str, Any]]
# asked before every step; True ends the run there with a checkpoint of the steps done (the app's
# Stop button, an abandoned session); the run resumes from it as from any checkpoint
StopCheck = Callable[[], bool]


class RunRefused(ValueError):
    """A run that cannot start as asked (data, out_dir, resume); the message names the field or
    file. The command line prints it as one line and exits 2."""


class SaveFailed(OSError):
    """A checkpoint could not be written (a full disk); the previous one is intact."""


@dataclass
class TrainResult:
    status: Status
    step: int  # optimizer steps completed
    val_loss: float | None
    train_loss: float | None
    seconds: float  # this invocation's (a resumed run: since it resumed)
    tokens_per_second: float
    out_dir: Path
    message: str = ""
    seconds_before: float = 0.0  # trained before resuming, as its checkpoint recorded

    @property
    def total_seconds(self) -> float:
        return self.seconds_before + self.seconds


def grad_norms_by_layer(model: nn.Module) -> dict[str, float]:
    """Gradient norm of each block's (or LSTM layer's) parameters, the embeddings and the rest.

    With shared layers one tensor serves every depth; its gradient is the sum over depths, so it is
    reported once, under the first block's name.
    """
    sums: dict[str, float] = {}
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        parts = name.split(".")
        group = ".".join(parts[:2]) if parts[0] in ("blocks", "layers") else parts[0]
        sums[group] = sums.get(group, 0.0) + p.grad.detach().float().pow(2).sum().item()
    norms = {k: math.sqrt(v) for k, v in sums.items()}
    norms["total"] = math.sqrt(sum(sums.values()))
    return norms


def _rng_extras(generator: torch.Generator, info: DistInfo) -> dict[str, dict[str, torch.Tensor]]:
    """RNG state to resume from: "rng" (rank 0's) and, under DDP, "rng_rank{r}" for every rank,
    whose batch generators differ. Every rank must call this (it gathers)."""
    batches = all_gather_cpu(generator.get_state(), info)
    torch_states = all_gather_cpu(torch.get_rng_state(), info)
    extras = {"rng": {"batches": batches[0], "torch": torch_states[0]}}
    if info.enabled:
        for r, (b, t) in enumerate(zip(batches, torch_states, strict=True)):
            extras[f"rng_rank{r}"] = {"batches": b, "torch": t}
    return extras


def train(
    run: RunConfig,
    resume: bool = False,
    on_eval: EvalCallback | None = None,
    name: str | None = None,
    overwrite: bool = False,
    should_stop: StopCheck | None = None,
    on_measure: EvalCallback | None = None,
) -> TrainResult:
    """Train as `run` says; with resume=True continue from <out_dir>/checkpoint if there is one.

    An out_dir that already holds a run (a checkpoint or metrics) is refused (RunRefused) unless
    resume=True continues it or overwrite=True deletes it first, so a fresh run never replaces a
    finished one's checkpoint and metrics without a word.

    should_stop is asked before every step (see StopCheck); on_measure(step, model) is called at
    the measurement steps (TrainConfig.measure_steps), after the loop's own measurements."""
    if resume and overwrite:
        raise RunRefused(
            "--resume continues the run in out_dir and --overwrite deletes it: give one"
        )
    try:
        info = init_distributed(run.train.device)
    except DeviceUnavailable as e:  # before anything is read or written
        raise RunRefused(str(e)) from None
    try:
        return _train(run, info, resume, on_eval, name, overwrite, should_stop, on_measure)
    finally:
        shutdown(info)


def _train(
    run: RunConfig,
    info: DistInfo,
    resume: bool,
    on_eval: EvalCallback | None,
    name: str | None,
    overwrite: bool,
    should_stop: StopCheck | None = None,
    on_measure: EvalCallback | None = None,
) -> TrainResult:
    t = run.train
    if t.threads:
        torch.set_num_threads(t.threads)
    out_dir = Path(t.out_dir)
    for field, folder in (("out_dir", out_dir), ("cache_dir", t.cache_dir)):
        problem = folder_problem(folder)  # before a token cache or a checkpoint is written
        if problem is not None:
            raise RunRefused(f"{field}: {problem}")
    ckpt_dir = out_dir / CHECKPOINT
    log = MetricsLog(out_dir / METRICS, enabled=info.is_main)
    if info.is_main:
        # a save killed before its renames left a temporary folder; one killed between them
        # left the checkpoint moved aside. Only rank 0 saves, so only it tidies, before anyone looks
        remove_save_leftovers(ckpt_dir)
    barrier(info)
    # a checkpoint folder without its weights is a damaged checkpoint to report, not to delete
    resuming = resume and ckpt_dir.exists()
    earlier = [p.name for p in (ckpt_dir, log.path) if p.exists()]
    if earlier and not resume and not overwrite:
        raise RunRefused(
            f"{out_dir} already holds a run ({', '.join(earlier)}): --resume continues it, "
            "--overwrite replaces it"
        )
    try:
        data = prepare_data(run)
    except (OSError, ValueError) as e:  # a missing corpus, an unreadable or empty file
        raise RunRefused(f"corpus {t.corpus!r}: {e}" if t.task == "lm" else str(e)) from e
    run = model_config_for(run, data)
    try:
        check_data_fits(run, data, info.world_size)
    except ValueError as e:
        raise RunRefused(str(e)) from None
    if not resuming and info.is_main:  # checked all there is to check: clear the earlier run
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        log.path.unlink(missing_ok=True)
    barrier(info)
    torch.manual_seed(t.seed)
    model = build_model(run.model).to(info.device)
    optimizer = build_optimizer(model, t)
    generator = rank_generator(t.seed, info.rank)
    start_step, elapsed_before = 0, 0.0
    if resuming:
        start_step, elapsed_before = _resume(ckpt_dir, run, model, optimizer, generator, info)
        log.truncate_after(start_step)
        if info.is_main:
            print(f"resuming {ckpt_dir} at step {start_step}", file=sys.stderr)
    measurer = None
    if t.measure_steps and t.task == "lm" and info.is_main:
        measurer = language_model_measurer(run, data)
        measurer.truncate_after(start_step)  # a fresh run clears an earlier run's rows

    train_model: nn.Module = model
    if info.enabled:
        train_model = DistributedDataParallel(
            model, device_ids=[info.device.index] if info.device.type == "cuda" else None
        )
    if t.compile:
        train_model = torch.compile(train_model)
    autocast = (
        torch.autocast(info.device.type, dtype=torch.bfloat16)
        if t.precision == "bfloat16"
        else nullcontext()
    )
    batches = BatchSource(run, data, generator, info.rank, info.world_size, start_step)
    tokens_per_step = t.batch_size * run.model.n_ctx * info.world_size
    if run.train.task == "reversal":
        tokens_per_step = t.batch_size * 2 * t.reversal_len * info.world_size

    def save(step: int, extra_meta: dict[str, Any]) -> None:
        rng = _rng_extras(generator, info)
        if not info.is_main:
            return
        meta = {
            "name": name or out_dir.name,
            "step": step,
            "run": run.to_dict(),
            "corpus": data.corpus_source,
            "elapsed_s": elapsed_before + time.perf_counter() - t0,
            "n_params": model.n_params(),
            **extra_meta,
        }
        extras = {"optimizer": optimizer_tensors(optimizer), **rng}
        try:
            save_checkpoint(ckpt_dir, model, data.tokenizer, meta, extras=extras)
        except (OSError, SafetensorError) as e:  # ENOSPC comes from safetensors as its own type
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            kept = "the previous checkpoint is kept" if saved_step else "no checkpoint was written"
            raise SaveFailed(f"{ckpt_dir}: saving step {step} failed ({reason}); {kept}") from e

    t0 = time.perf_counter()
    bar = tqdm(
        range(start_step, t.max_steps),
        initial=start_step,
        total=t.max_steps,
        disable=not (t.progress and info.is_main),
        dynamic_ncols=True,
    )
    last_loss, last_val = None, None
    status: Status = "completed"
    message = ""
    step = start_step
    saved_step = start_step if start_step else None  # the checkpoint a divergence leaves
    done = start_step

    def diverge(at_step: int, why: str, record: dict[str, Any]) -> None:
        nonlocal status, message
        status = "diverged"
        kept = (
            f"The last good checkpoint ({ckpt_dir}, step {saved_step}) is kept"
            if saved_step is not None
            else "No checkpoint was written"
        )
        message = (
            f"training diverged at step {at_step}: {why}. "
            f"{kept}; try a lower --lr or a different switch."
        )
        elapsed = elapsed_before + time.perf_counter() - t0
        log.write({"step": at_step, "event": "diverged", **record, "elapsed_s": elapsed})

    model.train()
    for step in bar:
        if should_stop is not None and _stop_agreed(should_stop(), info):
            status = "stopped"
            if saved_step != step and info.is_main:  # the steps since the last save are kept
                # the stopped weights' own validation loss, so the checkpoint can be checked by it
                record = {"step": step, "event": "stopped", "train_loss": last_loss}
                record |= _validate(model, run, data, info)
                last_val = record.get("val_loss")
                log.write(record | {"elapsed_s": elapsed_before + time.perf_counter() - t0})
            if saved_step != step:
                save(step, {"val_loss": last_val, "train_loss": last_loss, "stopped": True})
                saved_step = step
            break
        lr = lr_at(step, t)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = batches.next()
        x, y = x.to(info.device), y.to(info.device)
        step_t0 = time.perf_counter()
        with autocast:
            logits = train_model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        if t.grad_clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        else:
            grad_norm = torch.sqrt(
                sum(p.grad.pow(2).sum() for p in model.parameters() if p.grad is not None)
            )
        loss_value = all_reduce_mean(loss.detach(), info).item()
        if not (math.isfinite(loss_value) and math.isfinite(float(grad_norm))):
            diverge(
                step,
                f"loss {loss_value}, gradient norm {float(grad_norm)}",
                {"train_loss": loss_value, "grad_norm": float(grad_norm), "lr": lr},
            )
            break
        is_eval = (step + 1) % t.eval_interval == 0 or step + 1 == t.max_steps
        layer_norms = grad_norms_by_layer(model) if is_eval else None
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        last_loss = loss_value
        if measurer is not None and measurer.due(done):
            measurer(done, model)
            if on_measure is not None:  # the caller's own measurements at the same steps
                on_measure(done, model)
        dt = time.perf_counter() - step_t0
        bar.set_postfix(
            loss=f"{loss_value:.3f}",
            lr=f"{lr:.2e}",
            tok_s=f"{tokens_per_step / max(dt, 1e-9):,.0f}",
        )

        if is_eval:
            barrier(info)
            if info.is_main:
                record = {
                    "step": step + 1,
                    "train_loss": loss_value,
                    "lr": lr,
                    "grad_norm": float(grad_norm),
                    "grad_norm_by_layer": layer_norms,
                    "elapsed_s": elapsed_before + time.perf_counter() - t0,
                    "tokens_per_s": tokens_per_step
                    * (step + 1 - start_step)
                    / (time.perf_counter() - t0),
                }
                record |= _validate(model, run, data, info, final=step + 1 == t.max_steps)
                last_val = record.get("val_loss")
                if on_eval is not None:
                    record |= on_eval(step + 1, model)
                log.write(record)
                bar.write(
                    f"step {step + 1}: train {loss_value:.4f}"
                    + (f" val {last_val:.4f}" if last_val is not None else "")
                )
            barrier(info)
            # a finite loss checks the weights before the step, not after it: an absurd step can
            # leave weights whose outputs are NaN, which must not become the "last good" checkpoint
            val_bad = last_val is not None and not math.isfinite(last_val)
            if all_reduce_mean(torch.tensor(float(val_bad), device=info.device), info).item():
                diverge(step + 1, "validation loss is not finite", {"train_loss": loss_value})
                break
        if (step + 1) % t.checkpoint_interval == 0 or step + 1 == t.max_steps:
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                diverge(step + 1, "weights are not finite", {"train_loss": loss_value})
                break
            save(step + 1, {"val_loss": last_val, "train_loss": last_loss})
            saved_step = step + 1
            barrier(info)
    bar.close()
    seconds = time.perf_counter() - t0
    if status == "diverged" and info.is_main:
        print(message, file=sys.stderr)
    tps = tokens_per_step * max(done - start_step, 0) / max(seconds, 1e-9)
    return TrainResult(
        status, done, last_val, last_loss, seconds, tps, out_dir, message, elapsed_before
    )


def _stop_agreed(mine: bool, info: DistInfo) -> bool:
    """Under DDP every rank must stop at the same step (a save gathers from all of them)."""
    if not info.enabled:
        return mine
    return all_reduce_mean(torch.tensor(float(mine), device=info.device), info).item() > 0


def _resume(
    ckpt_dir: Path,
    run: RunConfig,
    model: LanguageModel,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    info: DistInfo,
) -> tuple[int, float]:
    """Load weights, optimizer and RNG state; returns (step, seconds trained before). Everything
    that can be wrong with the folder is a RunRefused naming the file."""
    try:
        ckpt = load_checkpoint(ckpt_dir, device=info.device, extras=True)
    except CheckpointError as e:
        raise RunRefused(f"cannot resume: {e}") from None
    if ckpt.config != run.model:
        saved, now = ckpt.config.to_dict(), run.model.to_dict()
        changed = [f"{k} {saved[k]!r} -> {now[k]!r}" for k in saved if saved[k] != now[k]]
        raise RunRefused(
            f"{ckpt_dir}: saved for a different model config ({', '.join(changed)}); resume with "
            "the config it was trained with, or --overwrite to start afresh"
        )
    rng_group = f"rng_rank{info.rank}" if f"rng_rank{info.rank}" in ckpt.extras else "rng"
    for group in ("optimizer", rng_group):
        if group not in ckpt.extras:
            raise RunRefused(
                f"{ckpt_dir / (group + '.safetensors')}: missing; resuming needs the optimizer "
                "and RNG state saved with the weights"
            )
    step, elapsed = ckpt.meta.get("step"), ckpt.meta.get("elapsed_s", 0.0)
    if type(step) is not int or step < 0 or not isinstance(elapsed, int | float):
        raise RunRefused(f"{ckpt_dir / 'meta.json'}: no valid step and elapsed_s to resume at")
    model.load_state_dict(ckpt.model.state_dict())
    try:
        load_optimizer_tensors(optimizer, ckpt.extras["optimizer"])
        generator.set_state(ckpt.extras[rng_group]["batches"])
        torch.set_rng_state(ckpt.extras[rng_group]["torch"])
    except (KeyError, ValueError, RuntimeError) as e:
        raise RunRefused(
            f"{ckpt_dir}: optimizer or RNG state does not fit this run "
            f"({type(e).__name__}: {e}); --overwrite starts afresh"
        ) from None
    return step, float(elapsed)


def _validate(
    model: LanguageModel, run: RunConfig, data: RunData, info: DistInfo, final: bool = False
) -> dict[str, Any]:
    """Validation metrics; eval_max_tokens caps the evaluations along the way, never the last."""
    t = run.train
    cap = None if final else t.eval_max_tokens
    if t.task == "reversal":
        acc = accuracy_per_position(model, t.reversal_len, t.reversal_vocab)
        first, second = half_accuracies(acc, t.reversal_len)
        return {
            "accuracy_per_position": acc,
            "first_half_accuracy": first,
            "second_half_accuracy": second,
        }
    assert data.val is not None
    result = evaluate(
        model, data.val, run.model.n_ctx, t.eval_batch_size, cap, info.device, detail=final
    )
    record: dict[str, Any] = {
        "val_loss": result.loss,
        "val_bpc": result.bits_per_char_of_split(data.val_chars, len(data.val) - 1),
        "val_tokens": result.n_tokens,
    }
    if data.holdout is not None:  # the recipe-selection metric: training text never trained on
        record["holdout_loss"] = holdout_loss(model, run, data.holdout, cap, info.device)
    if final:  # the seed's "loss per token": by position in the window and by target token id
        record["val_loss_per_position"] = result.per_position
        record["val_loss_per_token"] = {str(i): v for i, v in result.per_token.items()}
    return record


def main(argv: list[str] | None = None) -> int:
    parser = config_parser("Train a transformer (or the LSTM baseline) as configured.")
    parser.add_argument("--resume", action="store_true", help="continue from <out_dir>/checkpoint")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in an out_dir holding an earlier run, deleting its checkpoint and metrics",
    )
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error("--resume continues the run in out_dir and --overwrite deletes it: give one")
    try:
        run = run_config_from_args(args)
    except (ValueError, TypeError, OSError) as e:
        parser.error(str(e))
    is_main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    try:
        # with measurement steps, the CLI's runs keep snapshots the app's step scrubber reads
        on_measure = (
            run_snapshots(run) if run.train.measure_steps and run.train.task == "lm" else None
        )
        result = train(run, resume=args.resume, overwrite=args.overwrite, on_measure=on_measure)
    except (RunRefused, SaveFailed) as e:
        if is_main:
            print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, RunRefused) else 1
    if not is_main:
        return 0
    if result.status == "diverged":
        print(f"result: diverged at step {result.step} (recorded in {result.out_dir / METRICS})")
    else:
        print(
            f"result: {result.step} steps in {result.total_seconds:.1f} s, val loss {result.val_loss}, "
            f"{result.tokens_per_second:,.0f} tokens/s"
        )
    return 0


if __name__ == "__main__":
    exit_process(main())  # not sys.exit: see exit_process on gloo's threads after DDP
