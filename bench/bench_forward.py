"""What instrumentation costs a forward pass: idle hook points, and capturing what the app shows.

Two questions, each answered by contenders timed side by side in one run (see `bench/_timing.py`):

a. idle    our `Transformer` with no hook installed vs `PlainGPT` below, the same network written
           the usual way (fused qkv Linear, `scaled_dot_product_attention`, no hook points) and
           loaded with the very same weights. Goal: <= 1.05x.
b. capture `run_with_cache` of every internal the app shows (Q, K, V, the score pipeline, pattern,
           z, the residual stream, LayerNorm statistics; all but hook_result and the MLP hidden
           hooks) vs an idle forward. Goal: <= 1.5x (TransformerLens's run_with_cache costs
           2.3-3.6x a plain GPT forward of the same size on these machines). Capturing every hook
           (names=None) is printed too, without a goal.

    .venv/bin/python -m bench.bench_forward                 # about a minute on 2 cores
    .venv/bin/python -m bench.bench_forward --repeats 100 --threads 1 --clock cpu  # steadier
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also runnable as `python bench/bench_forward.py`
    sys.path.insert(0, str(REPO_ROOT))

from bench._timing import CLOCKS, add_timing_args, apply_timing_args, interleaved, print_table  # noqa: E402
from model.build import build_model  # noqa: E402
from model.config import ModelConfig  # noqa: E402
from model.transformer import Transformer  # noqa: E402

MAX_IDLE_RATIO = 1.05
MAX_CAPTURE_RATIO = 1.5
LOGIT_TOLERANCE = 1e-4
# hooks the app does not show: per-head outputs (built only when hooked) and the MLP hidden layer
NOT_SHOWN = ("attn.hook_result", "mlp.hook_pre", "mlp.hook_post")


class PlainBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        inner = cfg.n_heads * cfg.d_head
        self.ln1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.qkv = nn.Linear(cfg.d_model, 3 * inner)
        self.proj = nn.Linear(inner, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.fc_in = nn.Linear(cfg.d_model, cfg.d_mlp)
        self.fc_out = nn.Linear(cfg.d_mlp, cfg.d_model)

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        batch, n_pos, _ = x.shape
        qkv = self.qkv(self.ln1(x)).view(batch, n_pos, 3, self.n_heads, self.d_head)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [batch, head, pos, d_head]
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [batch, head, pos, d_head]
        x = x + self.proj(z.transpose(1, 2).reshape(batch, n_pos, -1))
        return x + self.fc_out(F.gelu(self.fc_in(self.ln2(x)), approximate="tanh"))


class PlainGPT(nn.Module):
    """Pre-LN GPT without instrumentation: the reference the idle overhead is measured against."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.tok_embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.register_buffer("pos_embed", torch.zeros(cfg.n_ctx, cfg.d_model))
        self.blocks = nn.ModuleList(PlainBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_final = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.unembed = nn.Linear(cfg.d_model, cfg.vocab_size)

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos vocab"]:
        x = self.tok_embed(tokens) + self.pos_embed[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.unembed(self.ln_final(x))

    @classmethod
    def from_transformer(cls, model: Transformer) -> PlainGPT:
        """The same network as `model` (default architecture switches only), weights copied."""
        cfg = model.cfg
        if (cfg.norm, cfg.attn_score, cfg.bias, cfg.tied_embeddings) != (
            "pre",
            "scaled_dot",
            True,
            False,
        ) or not (
            cfg.residual and cfg.causal_mask and cfg.pos_encoding != "none" and not cfg.scale_embed
        ):
            raise ValueError("PlainGPT mirrors only the default architecture")
        plain = cls(cfg)
        with torch.no_grad():
            plain.tok_embed.weight.copy_(model.embed.W_E)
            plain.pos_embed.copy_(model.pos_embed.W_pos)
            for ours, theirs in zip(model.blocks, plain.blocks, strict=True):
                attn = ours.attn
                h, d, m = attn.W_O.shape
                # Linear weights are [out, in]; ours are [in, out], per head
                qkv_weight = torch.cat([attn.W_Q, attn.W_K, attn.W_V]).transpose(0, 1)
                theirs.qkv.weight.copy_(qkv_weight.reshape(m, 3 * h * d).T)
                theirs.qkv.bias.copy_(torch.cat([attn.b_Q, attn.b_K, attn.b_V]).reshape(-1))
                theirs.proj.weight.copy_(attn.W_O.reshape(h * d, m).T)
                theirs.proj.bias.copy_(attn.b_O)
                theirs.fc_in.weight.copy_(ours.mlp.W_in.T)
                theirs.fc_in.bias.copy_(ours.mlp.b_in)
                theirs.fc_out.weight.copy_(ours.mlp.W_out.T)
                theirs.fc_out.bias.copy_(ours.mlp.b_out)
                for ln_ours, ln_theirs in ((ours.ln1, theirs.ln1), (ours.ln2, theirs.ln2)):
                    ln_theirs.weight.copy_(ln_ours.w)
                    ln_theirs.bias.copy_(ln_ours.b)
            plain.ln_final.weight.copy_(model.ln_final.w)
            plain.ln_final.bias.copy_(model.ln_final.b)
            plain.unembed.weight.copy_(model.unembed.W_U.T)
            plain.unembed.bias.copy_(model.unembed.b_U)
        return plain.eval()


@dataclass(frozen=True)
class Case:
    batch: int
    n_pos: int
    capture: bool  # also time run_with_cache (question b)

    @property
    def label(self) -> str:
        return f"[{self.batch}, {self.n_pos}]"


CASES = (Case(1, 128, capture=False), Case(1, 256, capture=True), Case(12, 64, capture=True))


def build_pair(n_ctx: int) -> tuple[Transformer, PlainGPT]:
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_ctx=n_ctx))
    assert isinstance(model, Transformer)
    with torch.no_grad():
        # GPT-2's init leaves biases at 0 and gains at 1, where a mis-copied bias or gain would go
        # unnoticed by the logit check; nudge every parameter so each copy is tested
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    plain = PlainGPT.from_transformer(model)
    n_ours, n_plain = model.n_params(), sum(p.numel() for p in plain.parameters())
    assert n_ours == n_plain, f"parameter counts differ: ours {n_ours:,}, plain {n_plain:,}"
    return model, plain


def check_outputs(
    model: Transformer, plain: PlainGPT, tokens: Tensor, app_names: list[str]
) -> None:
    """The timings compare like with like only if every contender computes the same logits."""
    with torch.no_grad():
        idle = model(tokens)
        gaps = {
            "plain": (plain(tokens) - idle).abs().max().item(),
            "capture": (model.run_with_cache(tokens, names=app_names)[0] - idle).abs().max().item(),
        }
    for name, gap in gaps.items():
        assert gap <= LOGIT_TOLERANCE, f"{name} logits differ from ours by {gap:.2e}"
    print(
        f"  logits agree: max |ours - plain| {gaps['plain']:.1e}, "
        f"max |capture - idle| {gaps['capture']:.1e} (tolerance {LOGIT_TOLERANCE:.0e})"
    )


def run_case(case: Case, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    """Time one shape; returns (goal, measured ratio, limit) for each goal it checks."""
    model, plain = build_pair(n_ctx=max(128, case.n_pos))
    app_names = [n for n in model.hook_names if not n.endswith(NOT_SHOWN)]
    tokens = torch.randint(model.cfg.vocab_size, (case.batch, case.n_pos))
    print(f"\n{case.label}  (n_ctx {model.cfg.n_ctx})")
    check_outputs(model, plain, tokens, app_names)

    contenders = {"plain": lambda: plain(tokens), "idle": lambda: model(tokens)}
    if case.capture:
        print(f"  capture app: {len(app_names)} of {len(model.hook_names)} hook points")
        contenders["capture app"] = lambda: model.run_with_cache(tokens, names=app_names)
        contenders["capture all"] = lambda: model.run_with_cache(tokens, names=None)
    timings = interleaved(contenders, args.repeats, args.warmup, args.inner, CLOCKS[args.clock])
    print_table(timings, ("plain", "idle"))

    goals = [(f"{case.label} idle vs plain", timings.ratio("idle", "plain"), MAX_IDLE_RATIO)]
    if case.capture:
        ratio = timings.ratio("capture app", "idle")
        goals.append((f"{case.label} capture app vs idle", ratio, MAX_CAPTURE_RATIO))
    return goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_timing_args(parser, repeats=25)
    args = parser.parse_args(argv)
    print(apply_timing_args(args))
    goals = [goal for case in CASES for goal in run_case(case, args)]

    print("\ngoals")
    ok = True
    for goal, ratio, limit in goals:
        met = ratio <= limit
        ok &= met
        print(f"  {'PASS' if met else 'FAIL'}  {goal:34} {ratio:5.2f}x  (need <= {limit:.2f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
