"""LAMBADA last-word prediction: accuracy and loss of a checkpoint.

    python -m training.lambada --checkpoint checkpoints/baseline [--split val|all] [--data_dir ...]

For each passage the target is its last word (everything after the final space). The model reads
the context and scores the tokens of " " + word. Accuracy is the fraction of passages where the
greedy (argmax) prediction reproduces every token of the word: exactly what greedy decoding would
emit, however many tokens the word takes. Loss is the word's total negative log-likelihood in
nats, averaged over passages. Passages the tokenizer cannot encode (a character model meeting a
character Shakespeare never used) are skipped and counted, never silently.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.tokenizers import Tokenizer, UnencodableTextError
from training.corpora import load_corpus, split_last_word


@dataclass
class LambadaResult:
    accuracy: float  # share of scored passages whose last word is predicted exactly
    loss: float  # mean last-word negative log-likelihood, nats per word
    n_scored: int
    n_skipped: int  # passages with characters the tokenizer cannot encode


def _examples(
    tokenizer: Tokenizer, passages: list[str] | tuple[str, ...], n_ctx: int
) -> tuple[list[tuple[list[int], int]], int]:
    """(ids, n_target) per passage: context and word ids cut to the last n_ctx + 1 tokens."""
    out, skipped = [], 0
    for passage in passages:
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
        out.append((ids, len(word_ids)))
    return out, skipped


@torch.no_grad()
def lambada_eval(
    model: nn.Module,
    tokenizer: Tokenizer,
    passages: list[str] | tuple[str, ...],
    batch_size: int = 32,
) -> LambadaResult:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    examples, skipped = _examples(tokenizer, passages, model.cfg.n_ctx)
    correct, total_loss = 0, 0.0
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        width = max(len(ids) for ids, _ in chunk) - 1
        x = torch.zeros(len(chunk), width, dtype=torch.long)
        mask = torch.zeros(len(chunk), width, dtype=torch.bool)
        for row, (ids, _) in enumerate(chunk):
            x[row, : len(ids) - 1] = torch.tensor(ids[:-1])
            mask[row, : len(ids) - 1] = True
        logits = model(x.to(device), attention_mask=mask.to(device)).float().cpu()
        for row, (ids, n_target) in enumerate(chunk):
            n = len(ids) - 1  # predictions for ids[1:] sit at positions 0 .. n-1
            positions = torch.arange(n - n_target, n)
            targets = torch.tensor(ids[-n_target:])
            row_logits = logits[row, positions]
            total_loss += F.cross_entropy(row_logits, targets, reduction="sum").item()
            correct += int(torch.equal(row_logits.argmax(-1), targets))
    model.train(was_training)
    n = len(examples)
    return LambadaResult(
        correct / n if n else 0.0, total_loss / n if n else float("nan"), n, skipped
    )


def main(argv: list[str] | None = None) -> int:
    from model.checkpoint import CheckpointError, load_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder")
    parser.add_argument(
        "--split", choices=["val", "all"], default="val", help="held-out passages or all 5,153"
    )
    parser.add_argument(
        "--data_dir",
        default=None,
        help="folder with lambada_test.jsonl (else $ATTENTION_LAB_DATA, else the hub)",
    )
    parser.add_argument("--limit", type=int, default=None, help="score only the first N passages")
    args = parser.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        corpus = load_corpus("lambada", args.data_dir)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    assert corpus.val_passages is not None and corpus.train_passages is not None
    passages = (
        corpus.val_passages if args.split == "val" else corpus.train_passages + corpus.val_passages
    )
    result = lambada_eval(ckpt.model, ckpt.tokenizer, passages[: args.limit])
    print(
        json.dumps({"checkpoint": str(ckpt.path), "split": args.split, **asdict(result)}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
