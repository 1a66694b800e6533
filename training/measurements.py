"""Measurements at log-spaced steps of any run: how a mechanism forms, not only where it ends.

With TrainConfig.measure_steps = N > 0 the training loop calls a `Measurer` after each of the N
steps `log_spaced_steps(max_steps, N)`. Each call appends one row to <out_dir>/measurements.jsonl
and, for transformers, the probe prompt's attention to <out_dir>/measurements.safetensors:

    steps     int64 [snapshot]                          the step of each snapshot
    patterns  float16 [snapshot, layer, head, q_pos, k_pos]  the probe prompt's attention
    tokens    int64 [q_pos]                              the probe prompt's token ids

A row holds (language models):

    val_loss                      plain validation text (its first VAL_TOKENS targets)
    first_copy_loss / second_copy_loss
                                  held-out repeated text: validation windows in which a stretch of
                                  COPY_LEN tokens recurs; loss on each copy's targets after its
                                  first token (the first cannot be known from the copy)
    copy_gain                     first minus second: what reading the earlier copy is worth
    second_copy_loss_by_distance  the second copy's loss by distance between the copies
    induction / previous_token    every head's score [layer][head] on repeated random tokens
                                  (interp/detectors.py), transformers only
    best_induction                the largest induction score of any head

A resumed run first drops rows and snapshots after its checkpoint's step (`truncate_after`), so
the file reads as one uninterrupted run: no row is lost or written twice.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Int
from safetensors.torch import load_file, save_file
from torch import Tensor

from model.build import LanguageModel
from training.evaluate import evaluate
from training.metrics import MetricsLog, read_metrics
from training.repeats import Repeat, plant

ROWS = "measurements.jsonl"
SNAPSHOTS = "measurements.safetensors"
COPY_LEN = 16  # tokens in each held-out copy
PER_BIN = 16  # held-out sequences per distance bin
VAL_TOKENS = 8192  # plain validation targets per measurement
N_RANDOM = 4  # repeated random-token sequences the head scores are read on
# a sentence said twice: the prompt whose attention is kept at every measurement
PROBE_PROMPT = (
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse thy name.\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse thy name."
)

Measure = Callable[[int, LanguageModel], dict[str, Any]]


def log_spaced_steps(max_steps: int, count: int) -> list[int]:
    """`count` distinct steps in [1, max_steps], spaced evenly in log(step), max_steps last: every
    step when count >= max_steps, none when count is 0. Dense early, where a small model changes
    fastest, and still reaching the end."""
    if max_steps < 1 or count < 0:
        raise ValueError(
            f"log_spaced_steps needs max_steps >= 1 and count >= 0, got {max_steps}, {count}"
        )
    if count == 0:
        return []
    if count >= max_steps:
        return list(range(1, max_steps + 1))
    if count == 1:
        return [max_steps]
    # rounding merges neighbours at the small end: ask for more points until count are distinct
    n = count
    while True:
        steps = sorted({round(s) for s in np.geomspace(1, max_steps, n)})
        if len(steps) >= count:
            break
        n += 1
    # the surplus (at most a few) is dropped from the dense early end, keeping step 1 and the last
    while len(steps) > count:
        gaps = [steps[i + 1] - steps[i - 1] for i in range(1, len(steps) - 1)]
        del steps[1 + int(np.argmin(gaps))]
    return steps


def distance_bins(n_ctx: int, copy_len: int = COPY_LEN) -> list[tuple[int, int]]:
    """Doubling [low, high) ranges of the distance between two copies that fit a window of n_ctx + 1
    tokens: [L, 2L), [2L, 4L), ..., the last ending at the largest distance that fits."""
    top = n_ctx + 1 - copy_len  # second copy flush with the window's end, first at its start
    if top < copy_len:
        raise ValueError(f"two copies of {copy_len} tokens do not fit a window of {n_ctx} + 1")
    bins, low = [], copy_len
    while low <= top:
        high = min(2 * low, top + 1)
        bins.append((low, high))
        low = high
    return bins


def copy_probe(
    val: np.ndarray, n_ctx: int, copy_len: int = COPY_LEN, per_bin: int = PER_BIN, seed: int = 0
) -> tuple[Int[Tensor, "batch pos"], list[Repeat], list[tuple[int, int]]]:
    """Validation windows (x, n_ctx + 1 tokens) each holding one copy, `per_bin` per distance bin,
    drawn from a fixed seed so every run and step reads the same sequences."""
    bins = distance_bins(n_ctx, copy_len)
    n_windows = (len(val) - 1) // (n_ctx + 1)
    need = per_bin * len(bins)
    if n_windows < 1:
        raise ValueError(f"the validation split ({len(val)} tokens) is shorter than one window")
    gen = torch.Generator().manual_seed(seed)
    rows, repeats = [], []
    for i in range(need):
        low, high = bins[i // per_bin]
        start = (i % n_windows) * (n_ctx + 1)
        seq = torch.from_numpy(val[start : start + n_ctx + 1].astype(np.int64))
        distance = int(torch.randint(low, high, (1,), generator=gen))
        first = int(torch.randint(0, n_ctx + 1 - copy_len - distance + 1, (1,), generator=gen))
        rep = Repeat(first, first + distance, copy_len)
        plant(seq, rep)
        rows.append(seq)
        repeats.append(rep)
    return torch.stack(rows), repeats, bins


@torch.no_grad()
def copy_losses(
    model: LanguageModel,
    seqs: Int[Tensor, "batch pos"],
    repeats: list[Repeat],
    bins: list[tuple[int, int]],
) -> dict[str, Any]:
    """Mean loss on each copy's targets after its first token, and the second copy's by distance."""
    device = next(model.parameters()).device
    logits = model(seqs[:, :-1].to(device)).float().cpu()
    losses = F.cross_entropy(logits.transpose(1, 2), seqs[:, 1:], reduction="none")  # [batch, pos]
    first, second = [], []
    for row, rep in enumerate(repeats):
        # the target at sequence index t is scored at input position t - 1
        first.append(losses[row, rep.first : rep.first + rep.length - 1].mean().item())
        second.append(losses[row, rep.second : rep.second + rep.length - 1].mean().item())
    by_bin: dict[str, float] = {}
    for low, high in bins:
        inside = [s for s, r in zip(second, repeats, strict=True) if low <= r.distance < high]
        by_bin[f"{low}-{high - 1}"] = float(np.mean(inside))
    f, s = float(np.mean(first)), float(np.mean(second))
    return {
        "first_copy_loss": f,
        "second_copy_loss": s,
        "copy_gain": f - s,
        "second_copy_loss_by_distance": by_bin,
    }


def head_scores(model: LanguageModel, n_random: int = N_RANDOM) -> dict[str, Any]:
    """Every head's induction and previous-token score on repeated random tokens (the detectors'
    own probe), and the best induction score."""
    from interp.detectors import detect_heads

    scores = detect_heads(model, detectors=["induction", "previous_token"], n_probe=n_random).scores  # type: ignore[arg-type]
    induction = scores["induction"]
    return {
        "induction": _grid(induction),
        "previous_token": _grid(scores["previous_token"]),
        "best_induction": round(float(induction.max()), 4),
    }


def _grid(scores: Tensor) -> list[list[float]]:
    """[layer][head] as JSON numbers with four decimals (a float32's tolist carries noise digits)."""
    return [[round(float(v), 4) for v in row] for row in scores]


class Measurer:
    """Rows (and attention snapshots) at the run's log-spaced steps; see the module docstring."""

    def __init__(
        self,
        out_dir: str | Path,
        steps: list[int],
        measures: list[Measure],
        probe_ids: Int[Tensor, " pos"] | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.steps = frozenset(steps)
        self.measures = measures
        self.probe_ids = probe_ids
        self.rows = MetricsLog(self.out_dir / ROWS)
        self._snaps: dict[int, Tensor] | None = None

    def due(self, step: int) -> bool:
        return step in self.steps

    def truncate_after(self, step: int) -> None:
        """On resume: forget rows and snapshots later than the checkpoint's step."""
        self.rows.truncate_after(step)
        snaps = self._snapshots()
        for s in [s for s in snaps if s > step]:
            del snaps[s]
        self._write_snapshots()

    @torch.no_grad()
    def __call__(self, step: int, model: LanguageModel) -> dict[str, Any]:
        was_training = model.training
        model.eval()
        row: dict[str, Any] = {"step": step}
        for measure in self.measures:
            row |= measure(step, model)
        if self.probe_ids is not None and model.has_attention:
            from training.probes import probe_patterns

            device = next(model.parameters()).device
            pats = probe_patterns(model, self.probe_ids[None].to(device))
            self._snapshots()[step] = pats.half().cpu()
            self._write_snapshots()
        model.train(was_training)
        # a row already there for this step (a resumed run's redo) is replaced, never doubled
        if any(r.get("step") == step for r in read_metrics(self.rows.path)):
            self.rows.truncate_after(step - 1)
        self.rows.write(row)
        return row

    def _snapshots(self) -> dict[int, Tensor]:
        if self._snaps is None:
            self._snaps = {}
            path = self.out_dir / SNAPSHOTS
            if path.exists():
                saved = load_file(path)
                pairs = zip(saved["steps"].tolist(), saved["patterns"], strict=True)
                self._snaps = {int(s): p for s, p in pairs}
        return self._snaps

    def _write_snapshots(self) -> None:
        snaps = self._snapshots()
        path = self.out_dir / SNAPSHOTS
        if not snaps or self.probe_ids is None:
            path.unlink(missing_ok=True)
            return
        steps = sorted(snaps)
        tensors = {
            "steps": torch.tensor(steps, dtype=torch.int64),
            "patterns": torch.stack([snaps[s] for s in steps]).contiguous(),
            "tokens": self.probe_ids.to(torch.int64).contiguous(),
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, tmp)
        os.replace(tmp, path)


def probe_tokens(tokenizer: Any, val: np.ndarray, n_ctx: int) -> Int[Tensor, " pos"]:
    """PROBE_PROMPT's ids; a vocabulary that cannot spell it (a character set without some of its
    letters) gets a stretch of validation text said twice instead."""
    try:
        ids = tokenizer.encode(PROBE_PROMPT)
    except ValueError:
        half = val[: min(32, n_ctx // 2)].astype(np.int64).tolist()
        ids = half + half
    return torch.tensor(ids[:n_ctx], dtype=torch.int64)


def language_model_measurer(run: Any, data: Any) -> Measurer:
    """The measurements every language-model run records (see the module docstring)."""
    t, n_ctx = run.train, run.model.n_ctx
    assert data.val is not None
    seqs, repeats, bins = copy_probe(data.val, n_ctx)
    val = data.val

    def losses(step: int, model: LanguageModel) -> dict[str, Any]:
        device = next(model.parameters()).device
        plain = evaluate(model, val, n_ctx, t.eval_batch_size, VAL_TOKENS, device).loss
        out = {"val_loss": plain, **copy_losses(model, seqs, repeats, bins)}
        return {k: _rounded(v) for k, v in out.items()}

    measures: list[Measure] = [losses]
    probe_ids = None
    if run.model.architecture == "transformer":
        measures.append(lambda step, model: head_scores(model))
        probe_ids = probe_tokens(data.tokenizer, data.val, n_ctx)
    steps = log_spaced_steps(t.max_steps, t.measure_steps)
    return Measurer(t.out_dir, steps, measures, probe_ids)


def _rounded(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 5) if math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    return v
