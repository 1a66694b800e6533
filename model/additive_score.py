"""Bahdanau's additive score w . tanh(q + k) for every (query, key) pair, without the 5-D tensor.

    S[b, h, i, j] = sum_d  w[h, d] * tanh(q[b, h, i, d] + k[b, h, j, d])

The direct form broadcasts q and k into a [batch, head, q_pos, k_pos, d_head] tensor and autograd
keeps it (and its tanh) for the backward pass: d_head times the memory of a score matrix, which
made this variant 20x slower than the others to train. Two ways round it, same arithmetic:

- the loop: sum over d_head one coordinate at a time, holding one [batch, head, q_pos, k_pos]
  slice; the backward pass recomputes each slice's tanh from q and k instead of storing it.
  Runs anywhere, no compiler; what evaluation and the app use (their prompts vary in length, and
  a compiled kernel would recompile for each new one).
- the fused kernels: the same sums written as reductions over the 5-D index space and handed to
  `torch.compile`, which generates loops that never materialise the 5-D tensor. The forward pass
  is one tanh per (b, h, i, j, d); the backward pass two (one reduction over keys for dq and dw,
  one over queries for dk). About 1.8x the loop's speed on a CPU core (bench/bench_additive.py).
  Used when a model in training mode needs gradients, for its first few input shapes (training
  has one); if the compiler is missing or fails, the loop takes over with one warning, so a
  machine without a C++ toolchain still trains, only slower.

A causal model masks every key after its query, so in training the fused kernels skip what the
mask would hide: the window is cut into CAUSAL_BLOCKS x CAUSAL_BLOCKS blocks and only the blocks on
or below the diagonal (10 of 16) are computed, stacked along the batch so that they are one
compiled shape. Scores above the diagonal then come back 0; the mask replaces them.

The backward identities, with t = tanh(q_i + k_j) and g = dL/dS:
    dq[i, d] = w_d * sum_j g_ij (1 - t_ijd^2)      dk[j, d] = w_d * sum_i g_ij (1 - t_ijd^2)
    dw[d]    = sum_{b, i, j} g_ij t_ijd
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import no_type_check

import torch
from jaxtyping import Float
from torch import Tensor
from torch.autograd.function import once_differentiable

Q = Float[Tensor, "batch head q_pos d_head"]
K = Float[Tensor, "batch head k_pos d_head"]
W = Float[Tensor, "head d_head"]
Scores = Float[Tensor, "batch head q_pos k_pos"]

# "loop" forces the loop everywhere (for comparing the two, or a machine where compiling is unwanted)
KERNEL_ENV = "ATTENTION_LAB_ADDITIVE_KERNEL"


# no_type_check: torch.compile traces these, and a runtime shape checker (the tests' jaxtyping
# hook) wrapped around them would be traced too; the autograd Function below is still checked
@no_type_check
def _tanh_sum(q: Q, k: K) -> Float[Tensor, "batch head q_pos k_pos d_head"]:
    # only ever traced by torch.compile, which fuses this into the reductions that consume it
    return torch.tanh(q[..., :, None, :] + k[..., None, :, :])


@no_type_check
def fused_forward(q: Q, k: K, w: W) -> Scores:
    return (_tanh_sum(q, k) * w[None, :, None, None, :]).sum(-1)


@no_type_check
def fused_backward(q: Q, k: K, w: W, g: Scores) -> tuple[Q, K, W]:
    t = _tanh_sum(q, k)
    gt = g[..., None] * t  # [batch, head, q_pos, k_pos, d_head]
    # 1 - t^2 summed against g: sum(g) - sum(g t t), so both reductions share the g*t product
    dq = g.sum(-1)[..., None] - (gt * t).sum(-2)
    dk = g.sum(-2)[..., None] - (gt * t).sum(-3)
    wv = w[None, :, None, :]
    return dq * wv, dk * wv, gt.sum(-2).sum((0, 2))


def loop_forward(q: Q, k: K, w: W) -> Scores:
    out = q.new_zeros(*q.shape[:-1], k.shape[-2])
    wv = w[None, :, None, None, :]  # [1, head, 1, 1, d_head]
    for d in range(q.shape[-1]):
        out += torch.tanh(q[..., d, None] + k[..., None, :, d]) * wv[..., d]
    return out


def loop_backward(q: Q, k: K, w: W, g: Scores) -> tuple[Q, K, W]:
    dq, dk, dw = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(w)
    for d in range(q.shape[-1]):
        t = torch.tanh(q[..., d, None] + k[..., None, :, d])  # [batch, head, q_pos, k_pos]
        dw[:, d] = (g * t).sum((0, 2, 3))
        gd = g * (1 - t * t) * w[None, :, None, None, d]
        dq[..., d] = gd.sum(-1)
        dk[..., d] = gd.sum(-2)
    return dq, dk, dw


# (query block, key block) pairs on or below the diagonal: 10 of 16 blocks, 62.5% of the pairs
CAUSAL_BLOCKS = 4


def _stack_blocks(x: Q, index: Tensor) -> Float[Tensor, "pair_batch head block d_head"]:
    """The blocks `index` of x's positions, stacked along the batch (pair-major)."""
    b, h, t, d = x.shape
    blocks = x.view(b, h, CAUSAL_BLOCKS, t // CAUSAL_BLOCKS, d)[:, :, index]
    return blocks.movedim(2, 0).reshape(len(index) * b, h, t // CAUSAL_BLOCKS, d)


def _scatter_scores(s: Tensor, qi: Tensor, ki: Tensor, b: int, t: int) -> Scores:
    """Stacked block scores back into [batch, head, q_pos, k_pos]; blocks not computed are 0."""
    n, bs, h = CAUSAL_BLOCKS, t // CAUSAL_BLOCKS, s.shape[1]
    out = s.new_zeros(b, h, n, n, bs, bs)  # [batch, head, q_block, k_block, q_in, k_in]
    out[:, :, qi, ki] = s.view(len(qi), b, h, bs, bs).permute(1, 2, 0, 3, 4)
    return out.transpose(3, 4).reshape(b, h, t, t)


def _gather_scores(
    g: Scores, qi: Tensor, ki: Tensor
) -> Float[Tensor, "pair_batch head block block"]:
    b, h, t, _ = g.shape
    n, bs = CAUSAL_BLOCKS, t // CAUSAL_BLOCKS
    blocks = g.view(b, h, n, bs, n, bs).transpose(3, 4)[:, :, qi, ki]  # [b, h, pair, bs, bs]
    return blocks.movedim(2, 0).reshape(len(qi) * b, h, bs, bs).contiguous()


def _scatter_rows(x: Tensor, index: Tensor, like: Tensor) -> Tensor:
    """Sum the stacked blocks' gradients back onto the positions they came from."""
    b, h, t, d = like.shape
    out = like.new_zeros(b, h, CAUSAL_BLOCKS, t // CAUSAL_BLOCKS, d)
    out.index_add_(2, index, x.view(len(index), b, h, t // CAUSAL_BLOCKS, d).permute(1, 2, 0, 3, 4))
    return out.view(b, h, t, d)


def _causal_pairs(q: Q, k: K) -> tuple[Tensor, Tensor] | None:
    """The block pairs on or below the diagonal, or None where the window cannot be cut."""
    t = q.shape[-2]
    if k.shape[-2] != t or t % CAUSAL_BLOCKS or t < 4 * CAUSAL_BLOCKS:
        return None
    qi, ki = torch.tril_indices(CAUSAL_BLOCKS, CAUSAL_BLOCKS, device=q.device)
    return qi, ki


_compiled: dict[str, Callable] | None = None
_compile_failed = False
# Each new input shape is a new compile, and past torch's recompile limit dynamo would quietly run
# the formulas eagerly: five-dimensional tensors, the very thing this module avoids. Training has
# one shape; past a few, the loop takes every new one.
MAX_COMPILED_SHAPES = 4
_compiled_shapes: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()


def _admit(q: Q, k: K) -> bool:
    """Whether this (q, k) shape may use the compiled kernels: a shape seen before, or room for one."""
    key = (tuple(q.shape), tuple(k.shape))
    if key not in _compiled_shapes:
        if len(_compiled_shapes) >= MAX_COMPILED_SHAPES:
            return False
        _compiled_shapes.add(key)
    return True


def _kernels() -> dict[str, Callable] | None:
    """The compiled pair, built on first use; None where compiling is switched off or failed."""
    global _compiled
    if _compile_failed or os.environ.get(KERNEL_ENV) == "loop":
        return None
    if _compiled is None:
        _compiled = {
            "forward": torch.compile(fused_forward, dynamic=False),
            "backward": torch.compile(fused_backward, dynamic=False),
        }
    return _compiled


def _run(name: str, loop: Callable, *args: Tensor):
    """The compiled kernel `name` if it works here, else the loop (warning once)."""
    global _compile_failed
    kernels = _kernels()
    if kernels is not None:
        try:
            return kernels[name](*args)
        except Exception as e:  # no C++ compiler, an unsupported backend: the loop is always there
            _compile_failed = True
            warnings.warn(
                f"additive score: torch.compile failed ({type(e).__name__}: {e}); "
                "using the slower d_head loop",
                RuntimeWarning,
                stacklevel=3,
            )
    return loop(*args)


class AdditiveScore(torch.autograd.Function):
    """S = w . tanh(q + k) with a backward pass that recomputes tanh instead of storing it.

    Computed in float32 whatever the autocast dtype (a sum of d_head bounded terms loses the
    small ones in bfloat16); gradients come back in the inputs' dtypes.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, q: Q, k: K, w: W, training: bool = False, masked_above_diagonal: bool = False
    ) -> Scores:
        """masked_above_diagonal: the caller hides every key after its query, so scores there
        may come back 0 (see ScoreFunction.raw)."""
        dtypes = (q.dtype, k.dtype, w.dtype)
        q, k, w = (
            x.to(torch.promote_types(x.dtype, torch.float32)).contiguous() for x in (q, k, w)
        )
        ctx.save_for_backward(q, k, w)
        ctx.dtypes = dtypes
        # fused only for training: its shapes are fixed, so one compile pays back over thousands
        # of steps; gradients outside training (the app's attribution, a record's probes) come
        # at prompt lengths that vary, where each new length would be a new compile
        fused = training and any(ctx.needs_input_grad[:3])
        ctx.pairs = _causal_pairs(q, k) if fused and masked_above_diagonal else None
        if ctx.pairs is not None:
            qs, ks = _stack_blocks(q, ctx.pairs[0]), _stack_blocks(k, ctx.pairs[1])
            ctx.fused = _admit(qs, ks)
            scores = (
                _run("forward", loop_forward, qs, ks, w) if ctx.fused else loop_forward(qs, ks, w)
            )
            return _scatter_scores(scores, *ctx.pairs, q.shape[0], q.shape[-2])
        ctx.fused = fused and _admit(q, k)
        if ctx.fused:
            return _run("forward", loop_forward, q, k, w)
        return loop_forward(q, k, w)

    @staticmethod
    @once_differentiable  # the saved q, k, w are float32 copies: no graph to differentiate again
    def backward(ctx, g: Scores) -> tuple[Q, K, W, None, None]:  # type: ignore[override]
        q, k, w = ctx.saved_tensors
        g = g.to(q.dtype).contiguous()
        kernel = (lambda *a: _run("backward", loop_backward, *a)) if ctx.fused else loop_backward
        if ctx.pairs is not None:
            qi, ki = ctx.pairs
            dqs, dks, dw = kernel(
                _stack_blocks(q, qi), _stack_blocks(k, ki), w, _gather_scores(g, qi, ki)
            )
            grads = (_scatter_rows(dqs, qi, q), _scatter_rows(dks, ki, k), dw)
        else:
            grads = kernel(q, k, w, g)
        grads = tuple(x.to(dt) for x, dt in zip(grads, ctx.dtypes, strict=True))
        return (*grads, None, None)  # type: ignore[return-value]
