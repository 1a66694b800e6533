"""The LAMBADA part of a variant record, for models trained on LAMBADA's training passages.

Every evaluation of such a run scored all held-out passages (`training.suite_job`), so each seed's
metrics already hold the benchmark over training: accuracy with its 95% Wilson interval, word
loss, and accuracy by copy distance. This gathers them per seed, spreads the final numbers over
seeds, and adds the baselines scored on the same passages (`training.lambada_baselines`), so that
the record alone regenerates the figure and the table.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.corpora import load_corpus
from training.lambada_baselines import fit_ngram, lambada_baselines

CURVE_KEYS = ("lambada_accuracy", "lambada_accuracy_low", "lambada_accuracy_high", "lambada_loss")
SPLIT = (
    "LAMBADA's 5,153 test passages split by passage (a hash of the text): 90% train the models, "
    "the other 10% are only scored; BookCorpus, the benchmark's own training text, cannot be "
    "fetched here"
)


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """{"mean", "std", "n"} over seeds, as `training.suite_record.Spread` stores it."""
    xs = [float(v) for v in values if v is not None]
    return {
        "mean": statistics.fmean(xs) if xs else None,
        "std": statistics.stdev(xs) if len(xs) > 1 else None,
        "n": len(xs),
    }


def seed_curve(metrics: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluations of one run that scored LAMBADA: step, accuracy, interval, loss."""
    out = []
    for r in metrics:
        if "step" in r and all(k in r for k in CURVE_KEYS):
            out.append(
                {"step": r["step"], **{k.removeprefix("lambada_"): r[k] for k in CURVE_KEYS}}
            )
    return out


def seed_final(metrics: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The run's last LAMBADA evaluation, with its accuracy by copy distance."""
    for r in reversed(metrics):
        if "lambada_accuracy" in r and "step" in r:
            return {
                "step": r["step"],
                "accuracy": r["lambada_accuracy"],
                "accuracy_low": r["lambada_accuracy_low"],
                "accuracy_high": r["lambada_accuracy_high"],
                "loss": r["lambada_loss"],
                "n": r["lambada_n"],
                "by_distance": r["lambada_by_distance"],
            }
    return None


def copying(checkpoint: Path, val: np.ndarray) -> dict[str, Any]:
    """Whether a trained model copies from context, by the induction experiment's definitions
    (`training.measurements`): loss on the first and second copy of repeated held-out text and
    their difference (copy gain), and for a transformer the best head's induction score on
    repeated random tokens."""
    from model.checkpoint import load_checkpoint
    from training.measurements import copy_losses, copy_probe, head_scores

    model = load_checkpoint(checkpoint).model.eval()
    seqs, repeats, bins = copy_probe(val, model.cfg.n_ctx)
    out = copy_losses(model, seqs, repeats, bins)
    if model.cfg.architecture == "transformer":
        out["best_induction"] = head_scores(model)["best_induction"]
    return out


def lambada_record(
    run: Any,
    data: Any,
    curves: Sequence[Sequence[dict[str, Any]]],
    seeds: Sequence[int],
    checkpoints: Sequence[Path] = (),
) -> dict[str, Any]:
    """The record's "benchmark" section: per seed curves, finals and (given each seed's
    checkpoint) copying measures, their spreads, and the baselines."""
    corpus = load_corpus("lambada", run.train.data_dir)
    assert corpus.train_passages is not None and corpus.val_passages is not None
    finals = [seed_final(c) for c in curves]
    per_seed = [
        {"seed": s, "curve": seed_curve(c), "final": f}
        for s, c, f in zip(seeds, curves, finals, strict=True)
    ]
    if checkpoints and data.val is not None:
        for row, ckpt in zip(per_seed, checkpoints, strict=True):
            row["copying"] = copying(ckpt, data.val)
    baselines = []
    if data.train is not None and data.holdout is not None:
        ngram = fit_ngram(data.train, data.holdout, data.tokenizer.n_vocab)
        results = lambada_baselines(
            corpus.train_passages, corpus.val_passages, data.tokenizer, data.train, ngram
        )
        baselines = [dataclasses.asdict(b) for b in results]
    return {
        "split": SPLIT,
        "n_train_passages": len(corpus.train_passages),
        "n_held_out": len(corpus.val_passages),
        "interval": "95% Wilson score interval of each seed's accuracy",
        "per_seed": per_seed,
        "spread": {
            "accuracy": spread([f["accuracy"] if f else None for f in finals]),
            "loss": spread([f["loss"] if f else None for f in finals]),
            **{
                k: spread([r["copying"].get(k) for r in per_seed if "copying" in r])
                for k in ("copy_gain", "best_induction")
            },
        },
        "baselines": baselines,
    }
