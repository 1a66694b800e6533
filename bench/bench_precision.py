"""A training step of the suite's baseline in fp32 and under bf16 autocast, side by side.

    python -m bench.bench_precision --threads 1 --clock cpu

The suite trains with `precision = "bfloat16"` (CPU autocast: matmuls in bf16, weights and AdamW
state in fp32) because it is faster on processors with AVX-512 BF16 or AMX; on processors without
them bf16 is emulated and far slower. This prints the ratio on the machine it runs on, for the
suite's step ([12, 128]) and nanoGPT's baby GPT step ([12, 64]), so the choice is measured.

A third contender runs the attention kernel as autocast would choose it, in bfloat16: the model
instead hands PyTorch's CPU flash-attention kernel float32 copies (model/attention.py,
CPU_AUTOCAST_SDPA_FLOAT32), because its bfloat16 version is the slower one at these shapes.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from bench._timing import CLOCKS, add_timing_args, apply_timing_args, interleaved, print_table
from model import attention
from model.build import build_model
from model.config import ModelConfig

BASE = ModelConfig(
    vocab_size=65,
    n_ctx=128,
    d_model=128,
    n_layers=4,
    n_heads=4,
    d_head=32,
    d_mlp=512,
    pos_encoding="learned",
    bias=False,
    gelu="exact",
    tied_embeddings=True,
)


def step_fn(batch: int, n_ctx: int, bf16: bool, sdpa_float32: bool = True):
    torch.manual_seed(0)
    model = build_model(BASE.replace(n_ctx=n_ctx))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    x = torch.randint(0, BASE.vocab_size, (batch, n_ctx))

    def step() -> None:
        attention.CPU_AUTOCAST_SDPA_FLOAT32 = sdpa_float32
        with torch.enable_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_timing_args(parser, repeats=15)
    args = parser.parse_args(argv)
    print(apply_timing_args(args))
    default = attention.CPU_AUTOCAST_SDPA_FLOAT32
    try:
        for batch, n_ctx in ((12, 128), (12, 64)):
            print(f"\ntraining step [{batch}, {n_ctx}]")
            timings = interleaved(
                {
                    "fp32": step_fn(batch, n_ctx, False),
                    "bf16 autocast": step_fn(batch, n_ctx, True),
                    "bf16 autocast, bf16 attention kernel": step_fn(batch, n_ctx, True, False),
                },
                repeats=args.repeats,
                warmup=args.warmup,
                clock=CLOCKS[args.clock],
            )
            print_table(timings, ("fp32", "bf16 autocast"))
    finally:
        attention.CPU_AUTOCAST_SDPA_FLOAT32 = default
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
