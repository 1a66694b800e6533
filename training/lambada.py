"""LAMBADA last-word prediction: accuracy and loss of a checkpoint on the held-out passages.

    python -m training.lambada --checkpoint checkpoints/lambada_transformer [--limit N]

For each passage the target is its last word (everything after the final space). The model reads
the context and scores the tokens of " " + word. Accuracy is the fraction of passages where the
greedy (argmax) prediction reproduces every token of the word: exactly what greedy decoding would
emit, however many tokens the word takes. Loss is the word's summed negative log-likelihood in
nats, averaged over passages. Passages the tokenizer cannot encode (a character model meeting a
character Shakespeare never used) are skipped and counted, never silently.

Only the held-out passages are scored (`training.corpora.split_passages`: 10% of the 5,153,
chosen by a hash of their text): models of this project that train on LAMBADA train on the other
90%. Accuracy carries a 95% Wilson score interval (the binomial interval that stays inside [0, 1]
and keeps its coverage at accuracies near 0, where the normal approximation does not), and the
accuracy by copy distance (`training.lambada_words`) says whether a model gets the targets it
could copy from the passage.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from model.tokenizers import Tokenizer, UnencodableTextError
from training.corpora import load_corpus, split_last_word
from training.lambada_words import distance_bin, distance_bins, passage_words

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion correct / n ((0, 1) when n is 0)."""
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got {correct} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact ends where the proportion sits at a bound (rounding leaves 1e-19 there)
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == n else min(1.0, centre + half)
    return low, high


@dataclass
class PassageScore:
    index: int  # position in the passages scored
    correct: bool  # every token of the word is the greedy prediction
    loss: float  # the word's summed negative log-likelihood, nats
    n_tokens: int  # tokens the word takes


@dataclass
class LambadaResult:
    accuracy: float  # share of scored passages whose last word is predicted exactly
    loss: float  # mean last-word negative log-likelihood, nats per word
    n_scored: int
    n_skipped: int  # passages with characters the tokenizer cannot encode
    # 95% Wilson interval of the accuracy
    accuracy_low: float = 0.0
    accuracy_high: float = 1.0
    # copy-distance bin -> [passages scored, correct] (`training.lambada_words.distance_bins`)
    by_distance: dict[str, list[int]] = field(default_factory=dict)


def _examples(
    tokenizer: Tokenizer, passages: list[str] | tuple[str, ...], n_ctx: int
) -> tuple[list[tuple[int, list[int], int]], int]:
    """(index, ids, n_target) per passage: context and word ids cut to the last n_ctx + 1 tokens."""
    out, skipped = [], 0
    for index, passage in enumerate(passages):
        try:
            context, word = split_last_word(passage)
            ctx_ids, word_ids = tokenizer.encode(context), tokenizer.encode(" " + word)
        except (UnencodableTextError, ValueError):
            skipped += 1
            continue
        if not ctx_ids or len(word_ids) > n_ctx:
            skipped += 1
            continue
        ids = (ctx_ids + word_ids)[-(n_ctx + 1) :]
        out.append((index, ids, len(word_ids)))
    return out, skipped


@torch.no_grad()
def score_passages(
    model: nn.Module,
    tokenizer: Tokenizer,
    passages: list[str] | tuple[str, ...],
    batch_size: int = 32,
) -> tuple[list[PassageScore], int]:
    """Each encodable passage's outcome, and how many were skipped."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    examples, skipped = _examples(tokenizer, passages, model.cfg.n_ctx)
    scores: list[PassageScore] = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        width = max(len(ids) for _, ids, _ in chunk) - 1
        x = torch.zeros(len(chunk), width, dtype=torch.long)  # [batch, pos]
        mask = torch.zeros(len(chunk), width, dtype=torch.bool)
        for row, (_, ids, _) in enumerate(chunk):
            x[row, : len(ids) - 1] = torch.tensor(ids[:-1])
            mask[row, : len(ids) - 1] = True
        logits = model(x.to(device), attention_mask=mask.to(device)).float().cpu()
        for row, (index, ids, n_target) in enumerate(chunk):
            n = len(ids) - 1  # predictions for ids[1:] sit at positions 0 .. n-1
            positions = torch.arange(n - n_target, n)
            targets = torch.tensor(ids[-n_target:])
            row_logits = logits[row, positions]  # [n_target, vocab]
            loss = F.cross_entropy(row_logits, targets, reduction="sum").item()
            correct = bool(torch.equal(row_logits.argmax(-1), targets))
            scores.append(PassageScore(index, correct, loss, n_target))
    model.train(was_training)
    return scores, skipped


def summarise(
    scores: list[PassageScore], skipped: int, passages: list[str] | tuple[str, ...]
) -> LambadaResult:
    """Accuracy with its Wilson interval, mean word loss and accuracy by copy distance."""
    n = len(scores)
    correct = sum(s.correct for s in scores)
    low, high = wilson_interval(correct, n)
    by_distance = {label: [0, 0] for label in distance_bins()}
    for s in scores:
        cell = by_distance[distance_bin(passage_words(passages[s.index]).distance)]
        cell[0] += 1
        cell[1] += int(s.correct)
    return LambadaResult(
        accuracy=correct / n if n else 0.0,
        loss=sum(s.loss for s in scores) / n if n else float("nan"),
        n_scored=n,
        n_skipped=skipped,
        accuracy_low=low,
        accuracy_high=high,
        by_distance=by_distance,
    )


def lambada_eval(
    model: nn.Module,
    tokenizer: Tokenizer,
    passages: list[str] | tuple[str, ...],
    batch_size: int = 32,
) -> LambadaResult:
    scores, skipped = score_passages(model, tokenizer, passages, batch_size)
    return summarise(scores, skipped, passages)


def lambada_metrics(
    model: nn.Module, tokenizer: Tokenizer, passages: list[str] | tuple[str, ...]
) -> dict[str, object]:
    """The held-out LAMBADA numbers one evaluation of a training run records in its metrics."""
    r = lambada_eval(model, tokenizer, passages)
    return {
        "lambada_accuracy": r.accuracy,
        "lambada_accuracy_low": r.accuracy_low,
        "lambada_accuracy_high": r.accuracy_high,
        "lambada_loss": r.loss,
        "lambada_n": r.n_scored,
        "lambada_by_distance": r.by_distance,
    }


def held_out_passages(data_dir: str | None = None) -> tuple[str, ...]:
    """The LAMBADA passages no model of this project trains on."""
    passages = load_corpus("lambada", data_dir).val_passages
    assert passages is not None  # a passage corpus always keeps its passages
    return passages


def main(argv: list[str] | None = None) -> int:
    from model.checkpoint import CheckpointError, load_checkpoint
    from training.cli import OneLineParser

    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder")
    parser.add_argument(
        "--data_dir",
        default=None,
        help="folder with lambada_test.jsonl (else $ATTENTION_LAB_DATA, else the hub)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="score only the first N held-out passages"
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        ckpt = load_checkpoint(args.checkpoint)
        passages = held_out_passages(args.data_dir)[: args.limit]
    except (CheckpointError, OSError, ValueError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    result = lambada_eval(ckpt.model, ckpt.tokenizer, passages)
    out = {
        "checkpoint": str(ckpt.path),
        "passages": "held-out",
        "interval": "95% Wilson score",
        **asdict(result),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
