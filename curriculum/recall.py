"""Question 1's isolating experiment, read from its record (training/recall_experiment.py): recall
accuracy by distance for a 2-layer and a 1-layer transformer and an LSTM of equal parameters, and
which heads of the shipped 2-layer transformer do the retrieval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from curriculum.evidence import Evidence, Finding, compare
from training.recall import RecallTask, recall_batch
from training.suite_record import Spread

TRANSFORMER, SHALLOW, LSTM = "transformer_2l", "transformer_1l", "lstm"


@dataclass(frozen=True)
class RecallModel:
    name: str
    n_params: int
    lr: float
    n_seeds: int
    accuracy: Spread  # test accuracy over seeds
    by_distance: list[Spread]  # one per distance bin
    counts: list[int]  # test queries per bin (the fewest over seeds): a bin of 1 query says little
    tried: tuple[float, ...] = ()  # the learning rates its search tried
    tried_accuracy: tuple[float | None, ...] = ()  # held-out accuracy at each of them


# a model whose test accuracy stays under this multiple of chance has not learned the task: its
# "difference" from one that has is learned against not learned, not a measured gap
CHANCE_MULTIPLE = 1.5


@dataclass(frozen=True)
class HeadRoles:
    """Mean attention, over scored queries, of each [layer, head] of the shipped transformer."""

    retrieval: np.ndarray  # on the token holding the recalled value
    pair_key: np.ndarray  # on the pair's key (the token before the value)
    previous_token: np.ndarray  # on the previous position, over all queries
    shipped: str  # which run's weights


@dataclass(frozen=True)
class Recall:
    bins: list[tuple[int, int]]  # distance bins [lo, hi)
    models: dict[str, RecallModel]
    roles: HeadRoles | None


def _counts(seeds: list[dict], n_bins: int) -> list[int]:
    per_seed = [s.get("test", {}).get("count_by_distance") for s in seeds]
    per_seed = [c for c in per_seed if isinstance(c, list) and len(c) == n_bins]
    return [min(col) for col in zip(*per_seed, strict=True)] if per_seed else [0] * n_bins


def _spread(d: dict | None) -> Spread:
    d = d or {}
    return Spread(d.get("mean"), d.get("std"), int(d.get("n") or 0))


def read_recall(ev: Evidence) -> Recall | None:
    """The record as typed values; None when it is absent or not in the expected shape."""
    r = ev.recall
    if r is None:
        return None
    try:
        bins = [(int(lo), int(hi)) for lo, hi in r["bins"]]
        models = {
            name: RecallModel(
                name,
                int(m["n_params"]),
                float(m["lr"]),
                len(m["seeds"]),
                _spread(m["test_accuracy"]),
                [_spread(s) for s in m["accuracy_by_distance"]],
                _counts(m["seeds"], len(bins)),
                tuple(float(g["lr"]) for g in m.get("grid", []) if "lr" in g),
                tuple(g.get("select_accuracy") for g in m.get("grid", []) if "lr" in g),
            )
            for name, m in r["models"].items()
        }
        roles = None
        tf = r["models"].get(TRANSFORMER, {})
        if "head_roles" in tf:
            h = tf["head_roles"]
            roles = HeadRoles(
                np.asarray(h["retrieval"], dtype=float),
                np.asarray(h["pair_key"], dtype=float),
                np.asarray(h["previous_token"], dtype=float),
                str(tf.get("shipped", "")),
            )
    except (KeyError, TypeError, ValueError):
        return None
    return Recall(bins, models, roles)


MIN_QUERIES = 30  # per seed: below this a bin's accuracy is a handful of coin flips


def comparable_bins(rec: Recall, a: RecallModel, b: RecallModel) -> list[int]:
    """Bins where both models have seeds and every seed saw at least MIN_QUERIES test queries."""
    return [
        i
        for i in range(len(rec.bins))
        if a.by_distance[i].n
        and b.by_distance[i].n
        and min(a.counts[i], b.counts[i]) >= MIN_QUERIES
    ]


def _bin(b: tuple[int, int]) -> str:
    return f"distance {b[0]}" if b[1] - b[0] == 1 else f"distances {b[0]}–{b[1] - 1}"


def recall_findings(ev: Evidence) -> list[Finding]:
    rec = read_recall(ev)
    if rec is None:
        return []
    out: list[Finding] = []
    tf, lstm, shallow = (rec.models.get(n) for n in (TRANSFORMER, LSTM, SHALLOW))
    failed = untrained(ev, lstm) if lstm is not None else None
    if tf is not None and lstm is not None and failed is not None:
        # no distance-by-distance verdicts against a model that learned nothing
        sentence = failed[0].upper() + failed[1:] + "."
        out.append(
            Finding(
                "recall accuracy, lstm against chance",
                lstm.accuracy,
                None,
                None,
                sentence,
                LSTM,
                "neither",
            )
        )
    elif tf is not None and lstm is not None:
        out.append(
            compare(
                f"recall accuracy over all distances, {tf.n_params:,} vs {lstm.n_params:,} parameters",
                TRANSFORMER,
                tf.accuracy,
                LSTM,
                lstm.accuracy,
                unit="",
                better="higher",
            )
        )
        shared = comparable_bins(rec, tf, lstm)
        for i in sorted({shared[0], shared[-1]} if shared else set()):
            out.append(
                compare(
                    f"recall accuracy at {_bin(rec.bins[i])}",
                    TRANSFORMER,
                    tf.by_distance[i],
                    LSTM,
                    lstm.by_distance[i],
                    unit="",
                    better="higher",
                )
            )
    if tf is not None and shallow is not None:
        out.append(
            compare(
                "recall accuracy over all distances",
                SHALLOW,
                shallow.accuracy,
                TRANSFORMER,
                tf.accuracy,
                unit="",
                better="higher",
            )
        )
    if rec.roles is not None and rec.roles.retrieval.size:
        task = recall_task(ev)
        out.append(_roles_finding(rec.roles, task is None or not task.fused))
    return out


def _roles_finding(roles: HeadRoles, two_token_pairs: bool) -> Finding:
    layer, head = retrieval_head(roles)
    top = float(roles.retrieval[layer, head])
    prev_l, prev_h = np.unravel_index(
        int(np.argmax(roles.previous_token)), roles.previous_token.shape
    )
    prev = float(roles.previous_token[prev_l, prev_h])
    # a previous-token head matters only when key and value are two tokens (induction)
    previous = (
        f"; the strongest previous-token head is L{prev_l}.H{prev_h} ({prev:.0%} of its "
        "attention on the position just before)"
        if two_token_pairs
        else ""
    )
    sentence = (
        f"In the shipped 2-layer transformer ({roles.shipped or 'median seed'}), head "
        f"L{layer}.H{head} puts {top:.0%} of its attention on the token holding the recalled value"
        f"{previous}. One model, so no seed spread."
    )
    return Finding(
        "retrieval head of the shipped transformer",
        Spread(top, None, 1),
        None,
        None,
        sentence,
        TRANSFORMER,
        "neither",
    )


def chance(ev: Evidence) -> float | None:
    """Test accuracy of guessing among the task's values."""
    task = recall_task(ev)
    return 1.0 / task.n_values if task is not None and task.n_values else None


def untrained(ev: Evidence, m: RecallModel) -> str | None:
    """A sentence saying that `m` never left chance at any rate it tried, or None if it did."""
    c = chance(ev)
    if c is None or m.accuracy.mean is None or m.accuracy.mean >= CHANCE_MULTIPLE * c:
        return None
    if any(a is None or a >= CHANCE_MULTIPLE * c for a in m.tried_accuracy):
        return None  # some rate did learn (or was not scored): the chosen one is not "every"
    rates = ", ".join(f"{lr:g}" for lr in sorted(m.tried)) or f"{m.lr:g}"
    return (
        f"the {'LSTM' if m.name == LSTM else m.name} stayed at chance ({m.accuracy.mean:.0%}, "
        f"guessing among {round(1 / c)} values: {c:.0%}) at every learning rate its search tried "
        f"({rates}): at this size and training budget it did not learn the task, so its gap to a "
        "model that did is learned against not learned, not a measured difference in recall"
    )


def recall_headline(ev: Evidence) -> str:
    """The recall experiment in plain words: the transformer and the LSTM at the nearest and the
    farthest distances both have, through the verdict rule; or, when the LSTM never left chance,
    that instead."""
    rec = read_recall(ev)
    tf, lstm = (rec.models.get(n) for n in (TRANSFORMER, LSTM)) if rec else (None, None)
    if rec is None or tf is None or lstm is None:
        return ""
    if (failed := untrained(ev, lstm)) is not None:
        return f"On recall, {failed}."
    both = comparable_bins(rec, tf, lstm)
    if not both:
        return ""
    parts = []
    for i in sorted({both[0], both[-1]}):
        f = compare(
            "", TRANSFORMER, tf.by_distance[i], LSTM, lstm.by_distance[i], unit="", better="higher"
        )
        word = {
            "better": "recalls clearly more often than",
            "worse": "recalls clearly less often than",
            "same": "shows no clear difference from",
            "unknown": "has too few seeds to compare with",
        }
        a, b = tf.by_distance[i].mean or 0.0, lstm.by_distance[i].mean or 0.0
        parts.append(
            f"at {_bin(rec.bins[i])} the 2-layer transformer {word[f.standing]} the LSTM ({a:.0%} vs {b:.0%})"
        )
    text = "On recall, " + "; ".join(parts) + "."
    return text


def recall_task(ev: Evidence) -> RecallTask | None:
    """The task the record was made with (None when the record is absent or of another version)."""
    try:
        return RecallTask(**ev.recall["task"]) if ev.recall else None
    except (KeyError, TypeError, ValueError):
        return None


def recall_example(task: RecallTask, seed: int = 0) -> tuple[tuple[int, ...], list[str]]:
    """One test-style sequence's input ids and readable labels: k3 a key, v7 a value, · filler."""
    x, _, _ = recall_batch(task, 1, torch.Generator().manual_seed(seed))
    ids = tuple(int(t) for t in x[0])
    n_k, n_v = task.n_keys, task.n_values
    pairs = task.vocab - task.n_filler  # ids below this and above the values: fused (key, value)

    def label(t: int) -> str:
        if t < n_k:
            return f"k{t}"
        if t < n_k + n_v:
            return f"v{t - n_k}"
        if t < pairs:
            return f"k{(t - n_k - n_v) // n_v}v{(t - n_k - n_v) % n_v}"
        return "·"

    return ids, [label(t) for t in ids]


def retrieval_head(roles: HeadRoles) -> tuple[int, int]:
    layer, head = np.unravel_index(int(np.argmax(roles.retrieval)), roles.retrieval.shape)
    return int(layer), int(head)
