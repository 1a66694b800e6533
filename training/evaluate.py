"""Validation: one deterministic pass, mean loss, bits per character, loss per position and token.

    python -m training.evaluate --checkpoint runs/baby_gpt_char_tuned/checkpoint [--split val]
        [--corpus shakespeare] [--max_tokens N] [--top 15] [--offsets 8] [--json report.json]

prints the split's loss and bits per character, the loss at each position of the window (how much
context helps) and the hardest and easiest tokens: the seed's "loss per token". With --offsets K
it also reads the loss by position over windows cut at K phases, which spreads the text scored
over the positions (`loss_by_position_over_offsets`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from model.tokenizers import Tokenizer
from training.batches import EVAL_IGNORE_INDEX, eval_windows
from training.references import BLOCK, context_gain, far_reading


@dataclass
class EvalResult:
    loss: float  # mean cross-entropy per token, nats
    n_tokens: int  # targets scored
    per_position: list[float] = field(default_factory=list)  # mean loss at each window position
    per_token: dict[int, float] = field(default_factory=dict)  # mean loss per target token id
    per_token_count: dict[int, int] = field(default_factory=dict)  # how often each was a target
    # the context gain of each full window on its own: their spread is how much the split's gain
    # depends on which text was scored (every seed is scored on the same windows)
    window_gains: list[float] = field(default_factory=list)

    def context_gain_se(self) -> float | None:
        """Standard error of the mean gain over full windows (the split's gain also counts a last,
        partial window); None with fewer than two. It treats windows as independent; neighbouring
        windows come from the same scene, so it is a lower bound on the text-to-text spread."""
        n = len(self.window_gains)
        return float(np.std(self.window_gains, ddof=1) / math.sqrt(n)) if n > 1 else None

    def bits_per_char(self, n_chars: int) -> float:
        """Total bits over the characters they encode: compares character and BPE models."""
        return self.loss * self.n_tokens / n_chars / math.log(2)

    def bits_per_char_of_split(self, split_chars: int, split_targets: int) -> float:
        """bits_per_char when this pass scored split_targets of a split of split_chars
        characters, or a capped share of them: the share is credited its share of the characters."""
        return self.bits_per_char(max(1, round(split_chars * self.n_tokens / split_targets)))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    tokens: np.ndarray,
    n_ctx: int,
    batch_size: int = 64,
    max_tokens: int | None = None,
    device: str | torch.device = "cpu",
    detail: bool = False,
) -> EvalResult:
    """Mean loss over every target of `tokens` (or its first max_tokens + 1), in eval mode.

    detail=True also returns the loss per window position (how context length helps) and per
    target token id (which tokens are hard): the seed's "loss per token".
    """
    was_training = model.training
    model.eval()
    if max_tokens is not None:
        tokens = tokens[: max_tokens + 1]
    total, count = 0.0, 0
    pos_sum = torch.zeros(n_ctx, dtype=torch.float64)
    pos_count = torch.zeros(n_ctx, dtype=torch.float64)
    vocab_sum: torch.Tensor | None = None
    vocab_count: torch.Tensor | None = None
    gains: list[float] = []
    for x, y in eval_windows(tokens, n_ctx, batch_size):
        x, y = x.to(device), y.to(device)
        logits = model(x).float()
        losses = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y.reshape(-1),
            reduction="none",
            ignore_index=EVAL_IGNORE_INDEX,
        ).view_as(y)
        valid = y != EVAL_IGNORE_INDEX
        total += losses[valid].double().sum().item()
        count += int(valid.sum())
        if detail:
            n = y.shape[1]
            pos_sum[:n] += (losses * valid).double().sum(0).cpu()
            pos_count[:n] += valid.double().sum(0).cpu()
            if vocab_sum is None:
                vocab_sum = torch.zeros(logits.shape[-1], dtype=torch.float64)
                vocab_count = torch.zeros(logits.shape[-1], dtype=torch.float64)
            vocab_sum.index_add_(0, y[valid].cpu(), losses[valid].double().cpu())
            vocab_count.index_add_(
                0, y[valid].cpu(), torch.ones(int(valid.sum()), dtype=torch.float64)
            )
            gains += _full_window_gains(losses, valid)
    model.train(was_training)
    result = EvalResult(loss=total / max(count, 1), n_tokens=count)
    if detail:
        seen = pos_count > 0
        result.per_position = (pos_sum[seen] / pos_count[seen]).tolist()
        assert vocab_sum is not None and vocab_count is not None
        seen_ids = torch.nonzero(vocab_count).flatten().tolist()
        result.per_token = {i: float(vocab_sum[i] / vocab_count[i]) for i in seen_ids}
        result.per_token_count = {i: int(vocab_count[i]) for i in seen_ids}
        result.window_gains = gains
    return result


def _full_window_gains(
    losses: Float[Tensor, "window pos"], valid: Bool[Tensor, "window pos"]
) -> list[float]:
    """context_gain of each window whose every target was scored (a last window that overlaps
    the one before scores only its new targets: it has no position 2 of its own)."""
    rows = losses[valid.all(1)].double().cpu().tolist()
    return [g for g in map(context_gain, rows) if g is not None]


def window_offsets(n_ctx: int, offsets: int) -> list[int]:
    """`offsets` window phases n_ctx/offsets apart: 0, n_ctx/offsets, ... Only counts that divide
    a quarter of the window: then every quarter of it sees each stretch of text equally often, and
    the far-context comparison (second half against second quarter) holds no text difference."""
    if offsets < 1 or (n_ctx // 4) % offsets or n_ctx % 4:
        raise ValueError(
            f"offsets must divide a quarter of the context ({n_ctx} / 4), got {offsets}"
        )
    step = n_ctx // offsets
    return [k * step for k in range(offsets)]


@dataclass
class OffsetsReading:
    per_position: list[float]  # mean loss at each window position over every phase
    gain_se: float | None  # standard error of the context gain from the text scored
    n_groups: int  # stretches of text (one window wide) the error is taken over


def loss_by_position_over_offsets(
    model: nn.Module,
    tokens: np.ndarray,
    n_ctx: int,
    offsets: int,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    phase_zero: EvalResult | None = None,
) -> OffsetsReading:
    """Loss at each window position, averaged over windows cut at `offsets` phases.

    With one phase every position holds the same slice of text in every evaluation (windows start
    at 0, n_ctx, ...), so a curve's ups and downs are partly that text's. Shifting the windows by
    n_ctx/offsets at a time spreads each stretch of text over `offsets` positions: what is left
    repeats every n_ctx/offsets positions (read the far context in blocks that wide,
    `references.far_reading`), and a single position still holds 1/offsets of the text. The
    gain's standard error groups the j-th full window of every phase (they start within one
    window of each other, so they share text) and treats the groups as independent. phase_zero:
    a detailed `evaluate` of the same tokens the caller already has (the windows at 0)."""
    curves, gains = [], []
    for o in window_offsets(n_ctx, offsets):
        result = (
            phase_zero
            if o == 0 and phase_zero is not None
            else evaluate(model, tokens[o:], n_ctx, batch_size, device=device, detail=True)
        )
        curves.append(result.per_position)
        gains.append(result.window_gains)
    n = min(len(c) for c in curves)
    groups = [
        float(np.mean([g[j] for g in gains if j < len(g)]))
        for j in range(max((len(g) for g in gains), default=0))
    ]
    se = float(np.std(groups, ddof=1) / math.sqrt(len(groups))) if len(groups) > 1 else None
    return OffsetsReading(
        [float(np.mean([c[i] for c in curves])) for i in range(n)], se, len(groups)
    )


def report(
    result: EvalResult, tokenizer: Tokenizer, bits_per_char: float, top: int, min_count: int = 5
) -> dict[str, Any]:
    """The JSON-ready summary the CLI prints: totals, the curve by position, tokens by loss.
    Tokens seen fewer than min_count times are left out of the rankings: one unlucky sighting of
    a rare token says little about it."""
    common = [i for i, n in result.per_token_count.items() if n >= min_count]
    ranked = sorted(common, key=result.per_token.__getitem__)

    def row(i: int) -> dict[str, Any]:
        return {
            "id": i,
            "token": tokenizer.decode([i]),
            "loss": result.per_token[i],
            "count": result.per_token_count[i],
        }

    return {
        "loss": result.loss,
        "bits_per_char": bits_per_char,
        "n_tokens": result.n_tokens,
        "loss_per_position": result.per_position,
        # the suite's measure of how much far context helps (training.references.context_gain)
        "context_gain": context_gain(result.per_position),
        "context_gain_se": result.context_gain_se(),
        "context_gain_windows": len(result.window_gains),
        "far": _far_dict(result.per_position),
        "loss_per_token": {str(i): row(i) for i in result.per_token},
        "min_count": min_count,
        "hardest_tokens": [row(i) for i in ranked[::-1][:top]],
        "easiest_tokens": [row(i) for i in ranked[:top]],
    }


def _far_dict(curve: list[float], block: int = BLOCK) -> dict[str, Any] | None:
    r = far_reading(curve, block)
    return None if r is None else dataclasses.asdict(r) | {"still_falls": r.still_falls}


def _print_report(out: dict[str, Any], header: str) -> None:
    print(header)
    print(f"loss {out['loss']:.4f} nats/token, {out['bits_per_char']:.4f} bits/char")
    curve = out["loss_per_position"]
    marks = sorted({0, *(2**k - 1 for k in range(20) if 2**k <= len(curve)), len(curve) - 1})
    print(
        "loss by position (tokens of context + 1): "
        + ", ".join(f"{p + 1}: {curve[p]:.3f}" for p in marks)
    )
    if out["context_gain"] is not None:
        print(
            f"context gain {out['context_gain']:.3f} nats "
            "(loss at position index 2, after 3 tokens, minus the mean over the window's second half)"
        )
    if out.get("context_gain_over_offsets") is not None:
        se = out.get("context_gain_over_offsets_se")
        print(
            f"context gain over windows cut at {out['offsets']} offsets "
            f"{out['context_gain_over_offsets']:.3f} nats"
            + ("" if se is None else f" (standard error {se:.3f} from the text scored)")
        )
    for key, what in (("far", "these windows"), ("far_over_offsets", "windows at every offset")):
        far = out.get(key)
        if far:
            print(
                f"past position {far['quarter']} ({what}): mean over positions {far['half']}+ "
                f"{far['second_half']:.3f} vs {far['second_quarter']:.3f} over {far['quarter']}–"
                f"{far['half'] - 1} ({far['second_half'] - far['second_quarter']:+.3f}); "
                f"{far['block']}-position blocks vary by ±{far['wobble']:.3f}: the loss "
                + ("still falls" if far["still_falls"] else "no longer falls")
            )
    if out["context_gain_se"] is not None:
        print(
            f"  standard error {out['context_gain_se']:.3f} over {out['context_gain_windows']} "
            "full windows (which text is scored; seeds scored on the same windows share it)"
        )
    for title, key in (("hardest", "hardest_tokens"), ("easiest", "easiest_tokens")):
        print(f"{title} tokens seen at least {out['min_count']} times (mean loss, times a target):")
        for r in out[key]:
            print(f"  {r['token']!r:>12} {r['loss']:7.3f} {r['count']:9,d}")


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


_positive = _at_least(1)


def main(argv: list[str] | None = None) -> int:
    from model.checkpoint import CheckpointError, load_checkpoint
    from training.batches import tokenize_cached
    from training.cli import OneLineParser
    from training.corpora import load_corpus

    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder")
    parser.add_argument("--corpus", default=None, help="default: the corpus it was trained on")
    parser.add_argument("--data_dir", default=None, help="folder of local corpus copies")
    parser.add_argument("--split", choices=["val", "train"], default="val")
    parser.add_argument("--max_tokens", type=_positive, default=None, help="score the first N")
    parser.add_argument("--batch_size", type=_positive, default=64)
    parser.add_argument("--cache_dir", default="data_cache", help="token cache folder")
    parser.add_argument(
        "--top", type=_at_least(0), default=15, help="tokens listed as hardest/easiest"
    )
    parser.add_argument(
        "--min_count", type=_at_least(1), default=5, help="rank tokens seen this often"
    )
    parser.add_argument(
        "--offsets",
        type=_positive,
        default=1,
        help="also read loss by position over windows cut at this many phases, a divisor of a "
        "quarter of the context (8: every 16 positions of a 128 window), which spreads the text "
        "scored over the positions",
    )
    parser.add_argument("--json", default=None, help="also write the full report here")
    args = parser.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        run = ckpt.meta.get("run", {}).get("train", {})
        corpus_name = args.corpus or run.get("corpus") or "shakespeare"
        if run.get("task") == "reversal" and args.corpus is None:
            raise ValueError("this checkpoint was trained on the reversal task: pass --corpus")
        corpus = load_corpus(corpus_name, args.data_dir or run.get("data_dir"))
        text = corpus.val if args.split == "val" else corpus.train
        key = f"{corpus.name}-{args.split}"
        tokens = tokenize_cached(text, ckpt.tokenizer, args.cache_dir, key)
    except (CheckpointError, OSError, ValueError) as e:  # OSError: a cache_dir that is a file
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    n_ctx = ckpt.model.n_ctx
    try:
        window_offsets(n_ctx, args.offsets)
    except ValueError as e:
        print(f"error: --{e}", file=sys.stderr)
        return 2
    result = evaluate(ckpt.model, tokens, n_ctx, args.batch_size, args.max_tokens, detail=True)
    bpc = result.bits_per_char_of_split(len(text), len(tokens) - 1)
    out = {"checkpoint": str(ckpt.path), "corpus": corpus.source, "split": args.split}
    out |= report(result, ckpt.tokenizer, bpc, args.top, args.min_count)
    if args.offsets > 1:
        scored = tokens if args.max_tokens is None else tokens[: args.max_tokens + 1]
        reading = loss_by_position_over_offsets(
            ckpt.model, scored, n_ctx, args.offsets, args.batch_size, phase_zero=result
        )
        curve = reading.per_position
        out |= {
            "offsets": args.offsets,
            "loss_per_position_over_offsets": curve,
            "context_gain_over_offsets": context_gain(curve),
            "context_gain_over_offsets_se": reading.gain_se,
            "far_over_offsets": _far_dict(curve, max(BLOCK, n_ctx // args.offsets)),
        }
    _print_report(
        out,
        f"{out['checkpoint']} on {out['corpus']} ({args.split} split, {result.n_tokens:,} targets)",
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
