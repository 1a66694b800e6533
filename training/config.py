"""Typed training configuration; a run is a `RunConfig`: a ModelConfig plus a TrainConfig."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from model.config import ModelConfig
from model.field_types import Bounds, check_bounds, check_types
from model.safe_read import read_json, read_toml, shown

TokenizerKind = Literal["char", "bpe", "gpt2"]
Sampling = Literal["random", "sequential"]
Task = Literal["lm", "reversal"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Precision = Literal["float32", "bfloat16"]
Decay = Literal["cosine", "linear"]
HoldoutAt = Literal["end", "start"]


@dataclass(frozen=True)
class TrainConfig:
    # --- data ---
    task: Task = "lm"  # "lm": next-token prediction on a corpus; "reversal": the mask check task
    corpus: str = "shakespeare"  # "shakespeare", "lambada", or a path to a .txt / .jsonl file
    data_dir: str | None = (
        None  # folder holding local corpus copies (else $ATTENTION_LAB_DATA, else the hub)
    )
    tokenizer: TokenizerKind = (
        "char"  # characters (nanoGPT), BPE trained on the train split, or GPT-2's
    )
    bpe_vocab_size: int = 1024  # vocabulary of the trained BPE (256 bytes + merges)
    cache_dir: str = "data_cache"  # tokenized corpora, keyed by corpus and tokenizer
    # `holdout_tokens` of the train split are never trained on: a slice for choosing recipes
    # (learning rate, warmup) without touching the validation split. "end" takes the split's
    # tail, which in Tiny Shakespeare is the text just before the validation split (the same
    # play): holding it out measurably raises validation loss (docs/methodology.md, "Where the held-out
    # slice is cut"); "start" takes the head instead.
    holdout_tokens: int = 0
    holdout_at: HoldoutAt = "end"
    sampling: Sampling = "random"  # random windows (nanoGPT) or non-overlapping sequential windows
    # --- windows where copying pays (training/repeats.py) ---
    repeat_share: float = 0.0  # share of training windows in which a stretch of their text recurs
    repeat_min_len: int = 8  # shortest recurring stretch, tokens
    repeat_max_len: int = 128  # longest recurring stretch, tokens (capped at half the window)
    # --- reversal task ---
    reversal_len: int = 8  # tokens to reverse; a sequence is [x_1..x_n, SEP, x_n..x_1]
    reversal_vocab: int = 16  # distinct symbols (plus one separator token)
    # --- optimisation ---
    batch_size: int = 12  # sequences per step per process
    max_steps: int = 2000  # optimizer steps
    lr: float = 1e-3  # peak learning rate, reached after warmup
    min_lr: float = 1e-4  # where the decay ends, at max_steps
    decay: Decay = "cosine"  # shape of the decay from lr to min_lr after warmup
    warmup_steps: int = 100  # linear warmup from lr / warmup_steps
    weight_decay: float = (
        0.1  # AdamW decay on matrices only (not biases, gains, embeddings' positions)
    )
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # max global gradient norm; 0 disables
    seed: int = 1337  # fixes init, batches and dropout
    # --- evaluation and logging ---
    eval_interval: int = 250  # steps between evaluations (and metrics records)
    eval_batch_size: int = 64  # windows per evaluation forward pass
    eval_max_tokens: int | None = (
        None  # cap on validation tokens per evaluation; None = the whole split
    )
    checkpoint_interval: int = 500  # steps between checkpoints (and always at the end)
    # log-spaced steps at which training/measurements.py records head scores, copy losses and the
    # probe's attention (measurements.jsonl, measurements.safetensors); 0 records none
    measure_steps: int = 0
    out_dir: str = "runs/default"  # checkpoint/ and metrics.jsonl go here
    progress: bool = True  # tqdm progress bar
    # --- execution ---
    device: Device = "auto"  # cuda, then mps, then cpu; or forced
    precision: Precision = "float32"  # bfloat16 runs matmuls under autocast (CPU AMX / GPU)
    compile: bool = False  # torch.compile the model
    threads: int | None = None  # torch.set_num_threads; None leaves the default

    def __post_init__(self) -> None:
        # a config file bypasses argparse's types and choices: without this, task = "reversl"
        # trained an LM and lr = "1e-3" reached the optimizer as a string
        check_types(TrainConfig, vars(self))
        check_bounds(self, _BOUNDS)
        if self.repeat_min_len > self.repeat_max_len:
            raise ValueError(
                f"TrainConfig.repeat_min_len ({self.repeat_min_len}) exceeds repeat_max_len "
                f"({self.repeat_max_len})"
            )
        for name in ("corpus", "out_dir", "cache_dir"):
            if not getattr(self, name).strip():
                raise ValueError(f"TrainConfig.{name} is empty")


# the intervals are moduli in the loop (zero would crash it mid-run); the rest are what the
# optimizer and the data pipeline can use
_BOUNDS: dict[str, Bounds] = {
    "bpe_vocab_size": Bounds(low=256, high=2**20),  # the 256 bytes come first
    "holdout_tokens": Bounds(low=0),
    "repeat_share": Bounds(low=0.0, high=1.0),
    "repeat_min_len": Bounds(low=1),
    "repeat_max_len": Bounds(low=1),
    "measure_steps": Bounds(low=0, high=10_000),
    "reversal_len": Bounds(low=1),
    "reversal_vocab": Bounds(low=1),
    "batch_size": Bounds(low=1),
    "max_steps": Bounds(low=1),
    "lr": Bounds(low=0.0, low_open=True),
    "min_lr": Bounds(low=0.0),
    "warmup_steps": Bounds(low=0),
    "weight_decay": Bounds(low=0.0),
    "beta1": Bounds(low=0.0, high=1.0, high_open=True),
    "beta2": Bounds(low=0.0, high=1.0, high_open=True),
    "grad_clip": Bounds(low=0.0),
    "seed": Bounds(low=0, high=2**63 - 1),
    "eval_interval": Bounds(low=1),
    "eval_batch_size": Bounds(low=1),
    "eval_max_tokens": Bounds(low=1),
    "checkpoint_interval": Bounds(low=1),
    "threads": Bounds(low=1, high=4096),
}


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        if not isinstance(data, dict):
            raise ValueError(f"a run config is a table with [model] and [train], got {data!r}")
        unknown = sorted(set(data) - {"model", "train"})
        if unknown:
            raise ValueError(f"unknown config sections {unknown}; expected 'model' and 'train'")
        train, model = data.get("train", {}), data.get("model", {})
        for name, table in (("model", model), ("train", train)):
            if not isinstance(table, dict):
                raise ValueError(
                    f"[{name}] must be a table of fields, got a {type(table).__name__}"
                )
        train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
        bad = sorted(set(train) - train_fields)
        if bad:
            raise ValueError(f"unknown train fields {bad}; known: {sorted(train_fields)}")
        check_types(TrainConfig, train)
        return cls(ModelConfig.from_dict(model), TrainConfig(**train))


def task_context(run: RunConfig) -> int:
    """The context a run's model is built with: the reversal task needs a whole sequence (its
    2 x reversal_len tokens) in one window, whatever n_ctx says."""
    if run.train.task == "reversal":
        return max(run.model.n_ctx, 2 * run.train.reversal_len)
    return run.model.n_ctx


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML or JSON file of tables ([model], [train]), parsed as data: nothing is executed.

    Read through the bounded reader (model.safe_read): a regular file (a named pipe would block
    the run forever) of at most a MiB, nested at most 64 deep; every refusal is a ValueError
    naming the file."""
    path = Path(path)
    if path.suffix == ".toml":
        data = read_toml(path)
    elif path.suffix == ".json":
        data = read_json(path)
    else:
        raise ValueError(f"{shown(path)}: config files are .toml or .json")
    if not isinstance(data, dict):
        raise ValueError(
            f"{shown(path)}: a run config is a table with [model] and [train], "
            f"got a {type(data).__name__}"
        )
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ValueError(
                f"{shown(path)}: [{section}] must be a table of fields, got a "
                f"{type(table).__name__}"
            )
    return data
