"""A checkpoint root as the suite writes it, for the Curriculum tests: schema-2 records (through
`VariantRecord`) for every suite variant but the ones asked to be left out, an older-schema record
where asked, the Q1 recall record, and tiny weights for the variants the live parts load."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from model.build import build_model
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.tokenizers import CharTokenizer
from tests.app_checkpoints import TEXT, TINY
from tests.test_evidence import record
from training.recall import RecallTask
from training.suite_record import Spread, VariantRecord
from views.curriculum_section import Section

# val loss per seed; everything else sits at the baseline's level (no clear difference)
BASE = [1.50, 1.51, 1.49]
LOSSES = {
    "no_residual": [2.40, 2.42, 2.41],  # clearly worse
    "dot_unscaled": [1.70, 1.72, 1.71],  # clearly worse
    "shared_layers": [1.60, 1.61, 1.59],  # clearly worse than baseline
    "narrow_separate": [1.65, 1.66, 1.64],  # clearly worse than shared
    "lstm": [1.80, 1.81, 1.79],
    "no_causal_mask": [0.30, 0.31, 0.29],  # reads the future
}
RECALL_TASK = RecallTask(n_pairs=4, max_gap=8)
LIVE = {  # variants whose weights the live parts load, and their change from the baseline
    "baseline": {},
    "lstm": {"architecture": "lstm"},
    "shared_layers": {"share_layers": True},
    "no_residual": {"residual": False},
}


def variant_record(name: str, losses: list[float]) -> VariantRecord:
    from curriculum.evidence import SUITE_SPEC
    from training.suite import read_suite

    r = record(name, losses)
    shape = read_suite(SUITE_SPEC).variant(name).run.model
    r.model_config.update(n_ctx=16, n_layers=2, n_heads=shape.n_heads, d_head=shape.d_head)
    r.n_params = (
        221_000 if name == "shared_layers" else 209_000 if name == "narrow_separate" else 800_000
    )
    for i, s in enumerate(r.seeds):
        s.loss_by_position = [3.0 - 0.1 * p + 0.01 * i for p in range(16)]
    r.spread["context_gain"] = Spread.of([1.3, 1.31, 1.29])
    r.curve[:] = [
        {
            "step": step,
            "elapsed_s": 10.0 * step,
            "val_loss": 3.0 - step / 100,
            "attn_entropy": [2.0, 1.8] if name != "dot_unscaled" else [0.5, 0.4],
            "attn_max_logit": [5.0, 6.0] if name != "dot_unscaled" else [40.0, 55.0],
            "grad_norm_by_layer": {"embed": 0.1, "blocks.0": 0.2, "blocks.1": 0.3},
        }
        for step in (50, 100)
    ]
    r.final["val_loss"] = losses[0]
    r.probe["future_attention"] = [[0.0, 0.0], [0.0, 0.0]]
    r.probe["token_cosine"] = [0.1, 0.3, 0.9 if name == "no_residual" else 0.4]
    r.samples[:] = [{"prompt": "ROMEO:\n", "text": f" words of {name}"}]
    if name == "no_causal_mask":
        r.mask_flip = {"spread": Spread.of([3.0, 3.1, 2.9]), "trained_with_mask": False}
        r.probe["future_attention"] = [[0.2, 0.6], [0.1, 0.3]]
    if name.startswith("reversal"):
        masked = name == "reversal_masked"
        first = [0.06, 0.07, 0.065] if masked else [0.9, 0.91, 0.89]
        r.spread = {
            "first_half_accuracy": Spread.of(first),
            "second_half_accuracy": Spread.of([0.95, 0.96, 0.94]),
        }
        r.reversal = {
            "accuracy_per_position": [first[0]] * 3 + [1.0] + [0.95] * 4,
            "length": 4,
            "symbols": 16,
            "chance": 1 / 16,
        }
    return r


def recall_record(lstm_far: float = 0.1, tied: bool = False) -> dict:
    """`tied`: every model recalls as well as the 2-layer transformer (nothing to tell apart)."""

    def spread(m: float) -> dict:
        return {"mean": m, "std": 0.01, "n": 3}

    bins = [[1, 2], [2, 4], [4, 8]]
    best = [0.99, 0.98, 0.97]
    models = {
        "transformer_2l": (101_000, best),
        "transformer_1l": (60_000, best if tied else [0.5, 0.3, 0.2]),
        "lstm": (100_500, best if tied else [0.95, 0.5, lstm_far]),
    }
    return {
        "experiment": "q1_recall",
        "task": dataclasses.asdict(RECALL_TASK),
        "bins": bins,
        "models": {
            n: {
                "n_params": p,
                "lr": 0.003,
                "seeds": [{"test": {"count_by_distance": [40, 50, 60]}}] * 3,
                "test_accuracy": spread(sum(acc) / 3),
                "accuracy_by_distance": [spread(a) for a in acc],
                **(
                    {
                        "shipped": "transformer_2l/lr=0.003/seed1",
                        "head_roles": {
                            "retrieval": [[0.1, 0.0], [0.8, 0.2]],
                            "pair_key": [[0.0, 0.0], [0.1, 0.0]],
                            "previous_token": [[0.9, 0.1], [0.1, 0.1]],
                        },
                    }
                    if n == "transformer_2l"
                    else {}
                ),
            }
            for n, (p, acc) in models.items()
        },
    }


def write_record(root: Path, r: VariantRecord) -> None:
    (root / r.name).mkdir(parents=True, exist_ok=True)
    (root / r.name / "record.json").write_text(json.dumps(r.to_json()))


def make_root(
    root: Path,
    leave_out: tuple[str, ...] = (),
    old: tuple[str, ...] = (),
    full_size: tuple[str, ...] = (),
) -> Path:
    """`full_size`: variants whose weights are built at the suite spec's own size (the bench's
    timing), instead of the tiny models the tests use."""
    from curriculum.evidence import RECALL, SUITE_SPEC, suite_order
    from training.suite import read_suite

    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    for name in dict.fromkeys((*LIVE, *full_size)):
        if name in leave_out or name in old:
            continue
        if name in full_size:
            spec = read_suite(SUITE_SPEC).variant(name).run.model
            cfg = spec.replace(vocab_size=tok.n_vocab)
        else:
            cfg = ModelConfig(vocab_size=tok.n_vocab, **{**TINY, **LIVE[name]})
        save_checkpoint(root / name, build_model(cfg), tok, {"name": name})
    for name in suite_order():
        if name in old:
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / name / "record.json").write_text(json.dumps({"name": name, "final": {}}))
        elif name not in leave_out:
            write_record(root, variant_record(name, LOSSES.get(name, BASE)))
    (root / RECALL).mkdir(parents=True)
    (root / RECALL / "record.json").write_text(json.dumps(recall_record()))
    t = RECALL_TASK
    cfg = ModelConfig(vocab_size=t.vocab, **{**TINY, "n_ctx": t.n_ctx})
    symbols = "".join(chr(0x100 + i) for i in range(t.vocab))  # as the experiment names its ids
    save_checkpoint(
        root / RECALL / "transformer_2l", build_model(cfg), CharTokenizer.train(symbols), {}
    )
    return root


def build(root: Path, key: str) -> Section:
    from curriculum.evidence import load_evidence
    from views.curriculum_sections import SECTIONS

    return SECTIONS[key](load_evidence(root))


def edit(root: Path, name: str, losses: list[float], **fields) -> None:
    r = variant_record(name, losses)
    for k, v in fields.items():
        setattr(r, k, v)
    write_record(root, r)


def rewrite(root: Path, name: str, change) -> None:
    """Edit the fixture copy of a record in place (never a shipped one)."""
    path = root / name / "record.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
