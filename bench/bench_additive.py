"""The additive score's forward + backward pass: the d_head loop vs the compiled fused kernels.

Contenders, timed side by side in one run (see `bench/_timing.py`), at the suite's shape by
default (batch 12, 4 heads, 128 positions, d_head 32):

    broadcast  the direct form: a [batch, head, q_pos, k_pos, d_head] tensor, autograd keeps it
    loop       `loop_forward` / `loop_backward`: one d_head coordinate at a time
    fused      `fused_forward` / `fused_backward` through torch.compile
    causal     `AdditiveScore` as a causal model trains it: the fused kernels on the 10 of 16
               blocks on or below the diagonal only (the mask hides the rest)

Gradients of all three are checked against each other before any timing. For the whole training
step against the baseline's, see `bench/bench_suite_steps.py --only additive`.

    .venv/bin/python -m bench.bench_additive --threads 1
"""

from __future__ import annotations

import argparse

import torch

from bench._timing import CLOCKS, add_timing_args, apply_timing_args, interleaved, print_table
from model.additive_score import (
    AdditiveScore,
    fused_backward,
    fused_forward,
    loop_backward,
    loop_forward,
)


def broadcast(q, k, w, g):
    q, k, w = (x.detach().requires_grad_() for x in (q, k, w))
    with torch.enable_grad():
        s = (torch.tanh(q[..., :, None, :] + k[..., None, :, :]) * w[None, :, None, None, :]).sum(
            -1
        )
        s.backward(g)
    return s.detach(), q.grad, k.grad, w.grad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape", type=int, nargs=4, default=[12, 4, 128, 32], metavar=("B", "H", "T", "D")
    )
    add_timing_args(parser, repeats=7, warmup=2)
    args = parser.parse_args(argv)
    print(apply_timing_args(args))
    batch, heads, n_pos, d_head = args.shape
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(batch, heads, n_pos, d_head, generator=gen)
    k = torch.randn(batch, heads, n_pos, d_head, generator=gen)
    w = torch.randn(heads, d_head, generator=gen) / d_head**0.5
    g = torch.randn(batch, heads, n_pos, n_pos, generator=gen)
    fwd, bwd = (
        torch.compile(fused_forward, dynamic=False),
        torch.compile(fused_backward, dynamic=False),
    )
    visible = torch.ones(n_pos, n_pos, dtype=torch.bool).tril()
    g_causal = g * visible  # what reaches the scores through a causal mask and softmax

    def causal():
        q_, k_, w_ = (x.detach().requires_grad_() for x in (q, k, w))
        with torch.enable_grad():
            s = AdditiveScore.apply(q_, k_, w_, True, True)
            s.backward(g_causal)
        return s.detach() * visible, q_.grad, k_.grad, w_.grad

    contenders = {
        "broadcast": lambda: broadcast(q, k, w, g),
        "loop": lambda: (loop_forward(q, k, w), *loop_backward(q, k, w, g)),
        "fused": lambda: (fwd(q, k, w), *bwd(q, k, w, g)),
        "causal": causal,
    }
    reference = contenders["broadcast"]()
    s, *grads = broadcast(q, k, w, g_causal)
    references = {"loop": reference, "fused": reference, "causal": (s * visible, *grads)}
    for name, want_all in references.items():
        for got, want, what in zip(
            contenders[name](), want_all, ("S", "dq", "dk", "dw"), strict=True
        ):
            err = (got - want).abs().max().item() / want.abs().max().item()
            print(f"  {name:6s} {what:2s} max relative difference from broadcast: {err:.1e}")
            assert err < 1e-4, f"{name} disagrees with the broadcast form on {what}"
    timings = interleaved(
        contenders, args.repeats, args.warmup, args.inner, clock=CLOCKS[args.clock]
    )
    print(f"forward + backward, shape {tuple(args.shape)}:")
    print_table(timings, baselines=("broadcast", "loop", "fused"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
