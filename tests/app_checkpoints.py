"""Tiny checkpoints for the app's tests: built in a temp dir, never read from /work/shared."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from model.build import build_model
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.tokenizers import CharTokenizer

TEXT = (
    "ROMEO:\nBut, soft! what light through yonder window breaks?\n"
    "First Citizen:\nBefore we proceed any further, hear me speak.\n"
    "the cat sat on the mat. one two three four five six seven eight nine ten eleven twelve\n"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 ,.;:!?'-&$\n"
)
TINY = dict(n_ctx=64, d_model=32, n_layers=2, n_heads=2, d_head=16, d_mlp=64)


def record(name: str, val_loss: float, cfg: ModelConfig, tokenizer: str = "char") -> dict:
    """A schema-2 record as the suite writes it, built through the suite's own dataclass."""
    from training.suite_record import SCHEMA_VERSION, SeedRun, Spread, VariantRecord

    bpc = val_loss / math.log(2) / (1.0 if tokenizer == "char" else 3.0)
    curve = [
        {
            "step": s,
            "train_loss": 4.2 - 0.01 * s,
            "val_loss": 4.3 - 0.009 * s,
            "val_bpc": 6.0 - s / 50,
        }
        for s in range(0, 201, 50)
    ]
    seeds = [
        SeedRun(seed, "completed", 200, 1.0, "cpu", "fp32", val_loss=val_loss + d, val_bpc=bpc + d)
        for seed, d in ((0, 0.0), (1, 0.02))
    ]
    return VariantRecord(
        schema_version=SCHEMA_VERSION,
        name=name,
        description=f"{name} (a test fixture)",
        question="q1",
        changes={},
        suite="test",
        config={},
        model_config=cfg.to_dict(),
        status="completed",
        message="",
        steps=200,
        n_params=1000,
        train_seconds=1.0,
        tokens_per_s=100.0,
        corpus="fixture",
        tokenizer=tokenizer,
        device="cpu",
        precision="fp32",
        recipe={"selection": "holdout", "chosen": "lr=1e-3", "grid": []},
        seeds=seeds,
        shipped_seed=0,
        spread={
            "val_loss": Spread.of([r.val_loss for r in seeds]),
            "val_bpc": Spread.of([r.val_bpc for r in seeds]),
        },
        references={},
        mask_flip={},
        curve=curve,
        final={"val_loss": val_loss, "val_bpc": bpc, "lambada_accuracy": 0.01},
    ).to_json()


def make_checkpoints(root: Path, lstm: bool = True) -> Path:
    """root/baseline (2 x 2 transformer), root/no_pos, and optionally root/lstm; plus records."""
    import json

    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    variants = {
        "baseline": ModelConfig(vocab_size=tok.n_vocab, **TINY),
        "no_pos": ModelConfig(vocab_size=tok.n_vocab, pos_encoding="none", **TINY),
    }
    if lstm:
        variants["lstm"] = ModelConfig(vocab_size=tok.n_vocab, architecture="lstm", **TINY)
    for i, (name, cfg) in enumerate(variants.items()):
        model = build_model(cfg)
        with torch.no_grad():  # GPT-2's N(0, 0.02) init attends almost uniformly; sharpen it so
            for p in model.parameters():  # that switching the mask visibly moves the loss
                if p.dim() >= 2:
                    p.mul_(12.0)
        folder = save_checkpoint(root / name, model, tok, {"name": name})
        (folder / "record.json").write_text(json.dumps(record(name, 3.0 + i, cfg)))
    return root
