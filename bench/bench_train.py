"""Training throughput: our instrumented model vs a plain nn.TransformerEncoderLayer reference.

Both are nanoGPT's "baby GPT" as configs/baby_gpt_char.toml builds it (4 layers, 4 heads, d_model
128, context 64, batch 12; no biases, exact GELU, tied unembedding), with the same AdamW settings,
a causal mask, pre-LN (norm_first=True), no dropout. One timed sample is one full optimizer step
(forward, loss, backward, clip, AdamW) on the same batch; the contenders alternate within every
round and the ratio is the median of per-round ratios. A third row shows our model with GPT-2's
tanh GELU (the default of ModelConfig, and what the shipped variants use).

    python -m bench.bench_train [--repeats 40] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench._timing import CLOCKS, add_timing_args, apply_timing_args, interleaved, print_table
from model.build import build_model
from model.config import ModelConfig
from training.config import TrainConfig, read_config_file
from training.optim import build_optimizer

BABY_GPT = Path(__file__).resolve().parents[1] / "configs" / "baby_gpt_char.toml"


class ReferenceGPT(nn.Module):
    """The same network from PyTorch's stock layers: no hook points, fused C++ attention."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.n_ctx, cfg.d_model)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model,
            cfg.n_heads,
            cfg.d_mlp,
            dropout=0.0,
            activation="gelu",  # exact erf GELU, as nanoGPT's nn.GELU()
            batch_first=True,
            norm_first=True,
            bias=cfg.bias,
        )
        self.blocks = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=cfg.bias)
        if cfg.tied_embeddings:
            self.head.weight = self.tok.weight
        self._init_like_gpt2(cfg.n_layers)
        self.register_buffer(
            "mask", nn.Transformer.generate_square_subsequent_mask(cfg.n_ctx), persistent=False
        )

    def _init_like_gpt2(self, n_layers: int) -> None:
        # as nanoGPT (and our model) initialise: PyTorch's defaults give the embedding N(0, 1),
        # which through a tied unembedding makes the first logits huge and training much worse
        for name, p in self.named_parameters():
            if p.dim() < 2:
                continue  # biases stay 0, LayerNorm gains 1
            std = 0.02
            if name.endswith(("out_proj.weight", "linear2.weight")):  # writes to the residual
                std /= math.sqrt(2 * n_layers)
            nn.init.normal_(p, std=std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(n))
        x = self.blocks(x, mask=self.mask[:n, :n], is_causal=True)
        return self.head(self.ln(x))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_timing_args(parser, repeats=40)
    parser.add_argument("--batch", type=int, default=12)
    args = parser.parse_args()
    header = apply_timing_args(args)
    cfg = ModelConfig.from_dict(read_config_file(BABY_GPT)["model"])
    train_cfg = TrainConfig(lr=1e-3, weight_decay=0.1, beta1=0.9, beta2=0.99)
    torch.manual_seed(0)
    ours = build_model(cfg)
    ours_tanh = build_model(cfg.replace(gelu="tanh"))
    reference = ReferenceGPT(cfg)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 65, (args.batch, 64), generator=g)
    y = torch.randint(0, 65, (args.batch, 64), generator=g)

    def stepper(model: nn.Module):
        opt = build_optimizer(model, train_cfg)

        def step() -> None:
            with torch.enable_grad():
                logits = model(x)
                loss = F.cross_entropy(logits.reshape(-1, 65), y.reshape(-1))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)

        return step

    n_ours = sum(p.numel() for p in ours.parameters())
    n_ref = sum(p.numel() for p in reference.parameters())
    print(header)
    print(f"parameters: ours {n_ours:,}, reference {n_ref:,}; batch [{args.batch}, 64]")
    timings = interleaved(
        {
            "reference (nn.TransformerEncoderLayer)": stepper(reference),
            "ours (hook points idle)": stepper(ours),
            "ours, tanh GELU": stepper(ours_tanh),
        },
        repeats=args.repeats,
        warmup=args.warmup,
        clock=CLOCKS[args.clock],
    )
    print_table(timings, baselines=("reference (nn.TransformerEncoderLayer)",))
    tokens = args.batch * 64
    for name in timings.samples:
        print(f"  {name}: {tokens / timings.median(name):,.0f} tokens/s")
    speedup = timings.ratio("reference (nn.TransformerEncoderLayer)", "ours (hook points idle)")
    print(f"throughput ours / reference: {speedup:.2f}x (goal >= 1.0x)")
    return 0 if speedup >= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
