"""The baby-GPT bar end to end: our training command vs nanoGPT's recipe on stock PyTorch layers.

Each contender is a whole command, timed from launch to exit (Python start-up, imports, data,
model, optimizer, the training loop, its evaluations and its final save), one after the other and
alternating over rounds; the ratio is the median of per-round ratios.

- reference: nanoGPT's CPU baby-GPT recipe (2000 iterations, lr 1e-3, warmup 100, cosine to 1e-4,
  AdamW 0.9/0.99, weight decay 0.1 on matrices, clip 1.0, batch 12 x 64, an estimate of train and
  val loss on 20 batches each every 250 iterations) on bench_train's ReferenceGPT: the same network
  built from nn.TransformerEncoderLayer, no hook points. It stands in for nanoGPT itself, which is
  not vendored here. It saves its weights and exits; its full-split val loss is computed
  afterwards, by this script, outside any clock.
- ours: `python -m training.train --config configs/baby_gpt_char_tuned.toml`, hook points in place;
  its clock includes its own final full-split evaluation and checkpoint writes. It evaluates the
  val split only (15,360 tokens every 250 steps, all 111,539 at the end); the reference
  estimates train and val loss (2 x 15,360 tokens every 250 steps), as nanoGPT does.
- with --nanogpt-recipe, also ours on nanoGPT's exact recipe (configs/baby_gpt_char.toml).

    python -m bench.bench_baby_gpt [--rounds 2] [--nanogpt-recipe]     # ~5 min a round

Needs the Tiny Shakespeare file: $ATTENTION_LAB_DATA or --data_dir (see docs/usage.md, "Training").
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NANOGPT = REPO / "configs" / "baby_gpt_char.toml"
TUNED = REPO / "configs" / "baby_gpt_char_tuned.toml"


def reference_run(data_dir: str | None, result_path: Path) -> None:
    """nanoGPT's training loop, written plainly, on the stock-layer model. Writes its results."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_model

    from bench.bench_train import ReferenceGPT
    from model.config import ModelConfig
    from model.tokenizers import CharTokenizer
    from training.config import TrainConfig, read_config_file
    from training.corpora import load_corpus
    from training.optim import build_optimizer, lr_at

    config = read_config_file(NANOGPT)
    cfg = ModelConfig.from_dict(config["model"])
    t = TrainConfig(**config["train"])
    corpus = load_corpus("shakespeare", data_dir)
    tok = CharTokenizer.train(corpus.train)
    train_ids = torch.from_numpy(np.asarray(tok.encode(corpus.train), dtype=np.int64))
    val_ids = torch.from_numpy(np.asarray(tok.encode(corpus.val), dtype=np.int64))
    torch.manual_seed(t.seed)
    model = ReferenceGPT(cfg.replace(vocab_size=tok.n_vocab))
    opt = build_optimizer(model, t)

    def get_batch(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(len(ids) - cfg.n_ctx, (t.batch_size,))
        x = torch.stack([ids[s : s + cfg.n_ctx] for s in starts])
        y = torch.stack([ids[s + 1 : s + 1 + cfg.n_ctx] for s in starts])
        return x, y

    @torch.no_grad()
    def estimate(ids: torch.Tensor) -> float:
        model.eval()
        losses = []
        for _ in range(20):
            x, y = get_batch(ids)
            losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
        model.train()
        return sum(losses) / len(losses)

    estimates = []
    for step in range(t.max_steps + 1):
        if step % t.eval_interval == 0:
            estimates.append((step, estimate(train_ids), estimate(val_ids)))
        if step == t.max_steps:
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(step, t)
        x, y = get_batch(train_ids)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    save_model(model, str(result_path.with_suffix(".safetensors")))  # tied: one copy
    result_path.write_text(json.dumps({"estimates": estimates, "vocab_size": tok.n_vocab}))


def reference_val_loss(result_path: Path, data_dir: str | None) -> float:
    """The saved reference model's loss over the whole val split, as ours is measured."""
    import numpy as np
    from safetensors.torch import load_model

    from bench.bench_train import ReferenceGPT
    from model.config import ModelConfig
    from model.tokenizers import CharTokenizer
    from training.config import read_config_file
    from training.corpora import load_corpus
    from training.evaluate import evaluate

    cfg = ModelConfig.from_dict(read_config_file(NANOGPT)["model"])
    corpus = load_corpus("shakespeare", data_dir)
    tok = CharTokenizer.train(corpus.train)
    model = ReferenceGPT(cfg.replace(vocab_size=tok.n_vocab))
    load_model(model, str(result_path.with_suffix(".safetensors")))
    val = np.asarray(tok.encode(corpus.val), dtype=np.int64)
    return evaluate(model, val, cfg.n_ctx).loss


def seconds_to_exit(argv: list[str], env: dict[str, str]) -> float:
    """Wall-clock seconds from launching the command to its exit."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def run_reference(env: dict[str, str], data_dir: str | None, work: Path) -> tuple[float, float]:
    out = work / "reference.json"
    argv = [sys.executable, "-m", "bench.bench_baby_gpt", "--reference-run", str(out)]
    seconds = seconds_to_exit(argv + (["--data_dir", data_dir] if data_dir else []), env)
    return seconds, reference_val_loss(out, data_dir)


def run_ours(
    env: dict[str, str], config: Path, data_dir: str | None, work: Path
) -> tuple[float, float]:
    out = work / config.stem
    argv = [sys.executable, "-m", "training.train", "--config", str(config), "--overwrite"]
    argv += ["--out_dir", str(out), "--progress", "false", "--cache_dir", str(work / "cache")]
    seconds = seconds_to_exit(argv + (["--data_dir", data_dir] if data_dir else []), env)
    last = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]
    # a diverged run ends on a record without val_loss: it misses the goal, it does not crash
    return seconds, float(last.get("val_loss", math.inf))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--nanogpt-recipe", action="store_true", help="also time ours on it")
    parser.add_argument("--data_dir", default=None, help="folder holding tinyshakespeare.txt")
    parser.add_argument("--reference-run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_run:
        reference_run(args.data_dir, args.reference_run)
        return 0

    env = dict(os.environ)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load}; {args.rounds} rounds, whole commands")
    contenders = ["reference", "ours (tuned)"] + (
        ["ours (nanoGPT recipe)"] if args.nanogpt_recipe else []
    )
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    losses: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for round_ in range(args.rounds):
            shift = round_ % len(contenders)
            for name in contenders[shift:] + contenders[:shift]:
                if name == "reference":
                    s, loss = run_reference(env, args.data_dir, work)
                else:
                    config = TUNED if name == "ours (tuned)" else NANOGPT
                    s, loss = run_ours(env, config, args.data_dir, work)
                seconds[name].append(s)
                losses[name].append(loss)
                print(
                    f"  round {round_ + 1}: {name:22s} {s:7.1f} s  full-split val loss {loss:.4f}"
                )
    print(f"  {'contender':22s}  median s  val loss  time vs reference (median of rounds)")
    for name in contenders:
        ratios = [a / b for a, b in zip(seconds[name], seconds["reference"], strict=True)]
        print(
            f"  {name:22s}  {statistics.median(seconds[name]):8.1f}  "
            f"{statistics.median(losses[name]):8.4f}  {statistics.median(ratios):.2f}x"
        )
    tuned = statistics.median(losses["ours (tuned)"])
    ratio = statistics.median(
        a / b for a, b in zip(seconds["ours (tuned)"], seconds["reference"], strict=True)
    )
    met = tuned <= 1.80 and ratio <= 1.0 and math.isfinite(tuned)
    print(
        f"goal: val loss <= 1.80 in no more time than the reference: {'met' if met else 'missed'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
