"""Checkpoints: a folder of safetensors weights and JSON, never pickle.

    <dir>/model.safetensors   weights (distinct tensors only: shared layers are stored once)
    <dir>/config.json         ModelConfig
    <dir>/tokenizer.json      the tokenizer (BPE ranks in tiktoken's base64 format)
    <dir>/meta.json           training metadata (step, losses, anything JSON)
    <dir>/<name>.safetensors  optional extra tensor groups (e.g. optimizer state for resuming)

safetensors holds only a JSON header and raw tensor bytes, so loading cannot run code. A folder that
offers pickle-based weights (.pt, .bin, .pkl, .ckpt) is refused, not unpickled.

Saving is atomic: everything is written to a sibling temporary folder, which then replaces the old
one by rename, so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from model.build import LanguageModel, build_model
from model.config import ModelConfig
from model.tokenizers import Tokenizer, tokenizer_from_json

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
META = "meta.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and the problem."""


@dataclass
class Checkpoint:
    model: LanguageModel
    tokenizer: Tokenizer
    config: ModelConfig
    meta: dict[str, Any]
    path: Path
    extras: dict[str, dict[str, Tensor]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.path.name))


def distinct_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Parameters and persistent buffers, each tensor once under its first name."""
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    out: dict[str, Tensor] = {}
    for name, tensor in model.state_dict(keep_vars=False).items():
        # shared layers hand out the same storage under several names
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key in seen:
            continue
        seen.add(key)
        out[name] = tensor.detach().contiguous()
    return out


def save_checkpoint(
    path: str | Path,
    model: LanguageModel,
    tokenizer: Tokenizer,
    meta: dict[str, Any] | None = None,
    extras: dict[str, dict[str, Tensor]] | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write a checkpoint folder atomically. dtype (e.g. torch.float16) shrinks shipped weights."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_save(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        weights = distinct_state_dict(model)
        if dtype is not None:
            weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in weights.items()}
        save_file({k: v.cpu() for k, v in weights.items()}, tmp / WEIGHTS)
        _write_json(tmp / CONFIG, model.cfg.to_dict())
        _write_json(tmp / TOKENIZER, tokenizer.to_json())
        _write_json(tmp / META, meta or {})
        for group, tensors in (extras or {}).items():
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                tmp / f"{group}.safetensors",
            )
        for f in tmp.iterdir():  # data on disk before the rename makes it visible
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        recover_interrupted_save(path)  # a failure between the two renames
        raise
    return path


def recover_interrupted_save(path: str | Path) -> None:
    """A save killed between its two renames leaves only the previous checkpoint, moved aside to
    .<name>.old: move it back. Does nothing when `path` exists."""
    path = Path(path)
    old = path.with_name(f".{path.name}.old")
    if not path.exists() and old.is_dir():
        os.replace(old, path)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(
            f"{path}: missing (a checkpoint folder needs {CONFIG}, {TOKENIZER}, {WEIGHTS})"
        )
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def _refuse_pickle(path: Path) -> None:
    if path.is_file():
        raise CheckpointError(
            f"{path}: a checkpoint is a folder with {WEIGHTS}; "
            + (
                "pickle-based weights are refused because loading them can run code"
                if path.suffix in PICKLE_SUFFIXES
                else "got a file"
            )
        )
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint folder")
    if not (path / WEIGHTS).exists():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(
                f"{path}: only pickle-based weights here ({', '.join(pickles)}); refused because "
                f"unpickling can run code. Convert them to {WEIGHTS} (safetensors) in a trusted environment."
            )
        raise CheckpointError(f"{path / WEIGHTS}: missing")


def _load_tensors(file: Path) -> dict[str, Tensor]:
    # safetensors parsing cannot run code, so it goes first; sniffing for pickle beforehand would
    # refuse valid files whose 8-byte header length happens to begin with 0x80 (e.g. 128)
    try:
        return load_file(file)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        problem = f"not a readable safetensors file ({e}); truncated or corrupt?"
        try:
            with open(file, "rb") as fh:
                head = fh.read(2)
        except OSError:
            head = b""
        if head[:1] == b"\x80" or head == b"PK":  # pickle protocol 2+ / torch.save zip archive
            problem = "is a pickle, not safetensors; refused because unpickling can run code"
        raise CheckpointError(f"{file}: {problem}") from None


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", extras: bool = False
) -> Checkpoint:
    """Load and validate a checkpoint folder; every problem raises CheckpointError naming the file."""
    path = Path(path)
    recover_interrupted_save(path)
    _refuse_pickle(path)
    try:
        config = ModelConfig.from_dict(_read_json(path / CONFIG))
    except (TypeError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path / CONFIG}: invalid model config ({e})") from None
    try:
        tokenizer = tokenizer_from_json(_read_json(path / TOKENIZER))
    except CheckpointError:
        raise
    except (
        Exception
    ) as e:  # a tokenizer file can be wrong in many ways; all mean the same to the user
        raise CheckpointError(
            f"{path / TOKENIZER}: invalid tokenizer ({type(e).__name__}: {e})"
        ) from None
    if tokenizer.n_vocab > config.vocab_size:
        raise CheckpointError(
            f"{path / TOKENIZER}: tokenizer has {tokenizer.n_vocab} tokens but {CONFIG} says vocab_size={config.vocab_size}"
        )
    meta = _read_json(path / META) if (path / META).exists() else {}

    weights = _load_tensors(path / WEIGHTS)
    model = build_model(config)
    expected = distinct_state_dict(model)
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{path / WEIGHTS}: does not match {CONFIG}"
            + (f"; missing tensors {missing[:6]}" if missing else "")
            + (f"; unexpected tensors {extra[:6]}" if extra else "")
        )
    for name, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{path / WEIGHTS}: tensor {name} has shape {tuple(tensor.shape)}, "
                f"{CONFIG} implies {tuple(expected[name].shape)}"
            )
        if not torch.isfinite(tensor.float()).all():
            raise CheckpointError(f"{path / WEIGHTS}: tensor {name} holds NaN or inf")
    with torch.no_grad():
        params = dict(model.named_parameters())
        buffers = dict(model.named_buffers())
        for name, tensor in weights.items():
            target = params.get(name, buffers.get(name))
            target.copy_(tensor.to(target.dtype))
    model.to(device).eval()
    loaded_extras = {}
    if extras:
        for f in sorted(path.glob("*.safetensors")):
            if f.name != WEIGHTS:
                loaded_extras[f.stem] = _load_tensors(f)
    return Checkpoint(model, tokenizer, config, meta, path, loaded_extras)
