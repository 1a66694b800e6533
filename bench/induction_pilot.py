"""Pilot for configs/induction.toml: time a training step of each model, or train one briefly.

    python bench/induction_pilot.py time                      # median s/step of each model, 1 thread
    python bench/induction_pilot.py train NAME LR STEPS SHARE VOCAB [FIELD=VALUE ...]
    python bench/induction_pilot.py summary [runs/pilot]     # each pilot's steps and best numbers

Prints medians side by side; the training mode prints the measurement rows (copy gain, best
induction score) so a recipe can be checked before the suite is launched.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
import torch.nn.functional as F

from model.build import build_model
from model.config import ModelConfig
from training.config import RunConfig, TrainConfig
from training.measurements import ROWS
from training.metrics import read_metrics
from training.prepare import BatchSource, model_config_for, prepare_data

BASE = dict(
    n_ctx=256,
    d_model=128,
    n_heads=4,
    d_head=32,
    d_mlp=512,
    dropout=0.0,
    tied_embeddings=True,
    bias=False,
    gelu="exact",
    norm="pre",
    pos_encoding="learned",
)
MODELS = {
    "attn1": dict(BASE, n_layers=1, n_heads=8, mlp=False),
    "attn2": dict(BASE, n_layers=2, mlp=False),
    "mlp2": dict(BASE, n_layers=2, d_model=96, d_head=24, d_mlp=384),
    "lstm2": dict(
        BASE, architecture="lstm", n_layers=2, d_model=80, tied_embeddings=False, bias=True
    ),
}


def train_config(**kw) -> TrainConfig:
    base = dict(
        corpus="shakespeare",
        tokenizer="bpe",
        bpe_vocab_size=2048,
        holdout_tokens=20000,
        holdout_at="start",
        batch_size=16,
        max_steps=1000,
        lr=1e-3,
        min_lr=0.0,
        decay="linear",
        warmup_steps=50,
        weight_decay=0.0,
        eval_interval=250,
        eval_max_tokens=8192,
        checkpoint_interval=500,
        precision="bfloat16",
        progress=False,
        repeat_share=0.5,
        repeat_min_len=8,
        repeat_max_len=128,
        threads=1,
    )
    return TrainConfig(**{**base, **kw})


def time_models(steps: int = 12) -> None:
    torch.set_num_threads(1)
    t = train_config()
    data = prepare_data(RunConfig(ModelConfig(**MODELS["attn2"]), t))
    for name, m in MODELS.items():
        run = model_config_for(RunConfig(ModelConfig(**m), t), data)
        torch.manual_seed(0)
        model = build_model(run.model)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        src = BatchSource(run, data, torch.Generator().manual_seed(0), 0, 1, 0)
        times = []
        for _ in range(steps):
            x, y = src.next()
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(x)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
            opt.step()
            opt.zero_grad()
            times.append(time.perf_counter() - t0)
        print(
            f"{name:6s} params {model.n_params():,}  median {statistics.median(times[2:]):.4f} s/step"
        )


def train_one(name: str, lr: float, steps: int, share: float, vocab: int, extra: dict) -> None:
    from training.train import train

    out = f"runs/pilot/{name}_lr{lr:g}_s{steps}_share{share:g}_v{vocab}_{'_'.join(f'{k}{v}' for k, v in extra.items())}"
    model = {
        **MODELS[name],
        **{k: v for k, v in extra.items() if k in ModelConfig.__dataclass_fields__},
    }
    tk = {k: v for k, v in extra.items() if k not in ModelConfig.__dataclass_fields__}
    run = RunConfig(
        ModelConfig(**model),
        train_config(
            lr=lr,
            max_steps=steps,
            repeat_share=share,
            measure_steps=20,
            out_dir=out,
            eval_interval=steps,
            bpe_vocab_size=vocab,
            **tk,
        ),
    )
    t0 = time.perf_counter()
    r = train(run, overwrite=True)
    print(
        f"{name} lr {lr} share {share}: {r.step} steps in {time.perf_counter() - t0:.0f} s, "
        f"val {r.val_loss:.3f}"
    )
    for row in read_metrics(f"{out}/{ROWS}"):
        print(
            f"  step {row['step']:5d} val {row['val_loss']:.3f} first {row['first_copy_loss']:.3f} "
            f"second {row['second_copy_loss']:.3f} gain {row['copy_gain']:+.3f} "
            f"ind {row.get('best_induction', float('nan')):.3f}"
        )


def summary(root: str = "runs/pilot") -> None:
    """One line per pilot run: the steps it reached and the best it measured."""
    from pathlib import Path

    for rows_path in sorted(Path(root).glob(f"*/{ROWS}")):
        rows = read_metrics(rows_path)
        if not rows:
            continue
        best = max(r.get("best_induction", 0.0) for r in rows)
        prev = max(max(max(h) for h in r["previous_token"]) for r in rows if "previous_token" in r)
        last = rows[-1]
        print(
            f"{rows_path.parent.name}: step {last['step']}, best induction {best:.4f}, "
            f"best previous-token {prev:.3f}, copy gain {last['copy_gain']:+.3f}, "
            f"val {last['val_loss']:.3f}"
        )


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(*sys.argv[2:])
    elif sys.argv[1] == "time":
        time_models()
    else:
        import ast

        extra = {k: ast.literal_eval(v) for k, v in (a.split("=") for a in sys.argv[7:])}
        train_one(
            sys.argv[2],
            float(sys.argv[3]),
            int(sys.argv[4]),
            float(sys.argv[5]),
            int(sys.argv[6]),
            extra,
        )
