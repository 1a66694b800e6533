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
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from model.build import LanguageModel, build_meta_model, build_model
from model.config import ModelConfig
from model.tokenizers import Tokenizer, tokenizer_from_json

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
META = "meta.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and the problem.

    The file is named as the caller gave the folder (a relative path stays relative). A caller
    that resolved the path itself (a server caching by absolute path) can reword the message for
    its user with `file_name` (the file inside the folder) and `problem`.
    """

    def __init__(self, file: Path, problem: str, file_name: str = "") -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.file_name = file_name or file.name
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes despite the signature
        return (type(self), (self.file, self.problem, self.file_name))

    def naming(self, folder: str) -> str:
        """The message with the folder written as `folder` (what the user typed)."""
        return f"{folder.rstrip('/')}/{self.file_name}: {self.problem}"


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
    seen: set[Any] = set()
    out: dict[str, Tensor] = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        # shared layers hand out the same storage under several names; on the meta device every
        # storage is at address 0, but sharing there is the very same Parameter object
        key: Any = (
            id(tensor)
            if tensor.is_meta
            else (
                tensor.untyped_storage().data_ptr(),
                tensor.storage_offset(),
                tuple(tensor.shape),
            )
        )
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


def remove_save_leftovers(path: str | Path) -> list[Path]:
    """A save killed before its renames leaves its temporary sibling .<name>.XXXXXXXX behind (an
    `except` cannot run under SIGKILL). Recover first, then remove those; returns what went.
    Call it where nothing else is saving to `path` (a run's start), never during a save."""
    path = Path(path)
    recover_interrupted_save(path)
    if not path.parent.is_dir():
        return []
    # mkdtemp's names: the prefix, then 8 characters from [a-z0-9_]
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}")
    removed = []
    for sibling in path.parent.iterdir():
        if pattern.fullmatch(sibling.name) and sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _require_regular_file(file: Path) -> None:
    """Only regular files are opened: opening a named pipe blocks until a writer comes (forever,
    in a server), and a device can be endless. stat() itself never blocks."""
    try:
        mode = os.stat(file).st_mode
    except FileNotFoundError:
        raise CheckpointError(
            file, f"missing (a checkpoint folder needs {CONFIG}, {TOKENIZER}, {WEIGHTS})"
        ) from None
    except OSError as e:
        raise CheckpointError(file, f"cannot be read ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        raise CheckpointError(file, "not a regular file (a folder, pipe or device); refused")


def _read_json(path: Path) -> Any:
    _require_regular_file(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(path, f"not valid JSON ({e})") from None
    except OSError as e:
        raise CheckpointError(path, f"cannot be read ({e.strerror})") from None


def _refuse_pickle(path: Path) -> None:
    if path.is_file():
        raise CheckpointError(
            path,
            f"a checkpoint is a folder with {WEIGHTS}; "
            + (
                "pickle-based weights are refused because loading them can run code"
                if path.suffix in PICKLE_SUFFIXES
                else "got a file"
            ),
        )
    if not path.is_dir():
        raise CheckpointError(path, "no such checkpoint folder")
    if not os.path.lexists(path / WEIGHTS):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(
                path,
                f"only pickle-based weights here ({', '.join(pickles)}); refused because "
                f"unpickling can run code. Convert them to {WEIGHTS} (safetensors) in a trusted "
                "environment.",
            )
        raise CheckpointError(path / WEIGHTS, "missing")


def _unreadable(file: Path, e: Exception) -> CheckpointError:
    """The error for a file safetensors cannot parse: a pickle is named as such."""
    problem = f"not a readable safetensors file ({e}); truncated or corrupt?"
    try:
        with open(file, "rb") as fh:
            head = fh.read(2)
    except OSError:
        head = b""
    if head[:1] == b"\x80" or head == b"PK":  # pickle protocol 2+ / torch.save zip archive
        problem = "is a pickle, not safetensors; refused because unpickling can run code"
    return CheckpointError(file, problem)


def _load_tensors(file: Path) -> dict[str, Tensor]:
    # safetensors parsing cannot run code, so it goes first; sniffing for pickle beforehand would
    # refuse valid files whose 8-byte header length happens to begin with 0x80 (e.g. 128)
    _require_regular_file(file)
    try:
        return load_file(file)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise _unreadable(file, e) from None


# the widths a float32 parameter may be stored in (save_checkpoint's dtype= shrinks shipped
# weights); an integer or bool tensor cast to float would load as a model of garbage
_FLOAT_STORAGE = ("F16", "BF16", "F32", "F64")
_SAFETENSORS_DTYPE = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
# what a config may make us allocate beyond its weights (the sinusoidal table), relative to the
# weights file: a small file must not be able to make a load allocate gigabytes
_DERIVED_SLACK_BYTES = 64 * 2**20
_DERIVED_PER_FILE_BYTE = 4


@dataclass(frozen=True)
class _Header:
    """A safetensors file's table of contents, read without reading any tensor."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    n_bytes: int  # size of the file


def _read_header(file: Path) -> _Header:
    _require_regular_file(file)
    try:
        with safe_open(file, framework="pt") as f:
            shapes, dtypes = {}, {}
            for name in f.keys():
                view = f.get_slice(name)
                shapes[name] = tuple(view.get_shape())
                dtypes[name] = view.get_dtype()
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise _unreadable(file, e) from None
    return _Header(shapes, dtypes, os.stat(file).st_size)


def _param_count_by_depth(config: ModelConfig) -> int:
    """Stored parameters the config implies, from meta-device models of one and two layers (no
    memory, milliseconds): every layer has the same tensors, so depth is linear. Lets a config
    that claims 100,000 layers be compared with its file before anything that deep is built."""
    counts = []
    for depth in (1, 2):
        shallow = build_meta_model(config.replace(n_layers=depth))
        counts.append(sum(t.numel() for t in distinct_state_dict(shallow).values()))
    return counts[0] + (config.n_layers - 1) * (counts[1] - counts[0])


def _check_against_header(config: ModelConfig, header: _Header, weights: Path) -> None:
    """Everything the header can say about the model, checked before a byte is allocated."""
    implied = _param_count_by_depth(config)
    if implied * 2 > header.n_bytes:  # 16 bits is the narrowest width a weight may be stored in
        raise CheckpointError(
            weights,
            f"{CONFIG} implies {implied:,} parameters (at least {implied * 2:,} bytes) but the "
            f"file has {header.n_bytes:,} bytes: it does not match {CONFIG}",
        )
    meta_model = build_meta_model(config)
    expected = distinct_state_dict(meta_model)
    missing = sorted(set(expected) - set(header.shapes))
    extra = sorted(set(header.shapes) - set(expected))
    if missing or extra:
        raise CheckpointError(
            weights,
            f"does not match {CONFIG}"
            + (f"; missing tensors {missing[:6]}" if missing else "")
            + (f"; unexpected tensors {extra[:6]}" if extra else ""),
        )
    for name, tensor in expected.items():
        if header.shapes[name] != tuple(tensor.shape):
            raise CheckpointError(
                weights,
                f"tensor {name} has shape {header.shapes[name]}, "
                f"{CONFIG} implies {tuple(tensor.shape)}",
            )
        want = _SAFETENSORS_DTYPE.get(tensor.dtype, str(tensor.dtype))
        allowed = _FLOAT_STORAGE if tensor.is_floating_point() else (want,)
        if header.dtypes[name] not in allowed:
            raise CheckpointError(
                weights,
                f"tensor {name} is stored as {header.dtypes[name]}; the model needs {want} "
                f"(allowed: {', '.join(allowed)})",
            )
    stored = set(meta_model.state_dict())  # persistent: in the file, so bounded by its size
    derived = sum(
        b.numel() * b.element_size() for name, b in meta_model.named_buffers() if name not in stored
    )
    if derived > _DERIVED_SLACK_BYTES + _DERIVED_PER_FILE_BYTE * header.n_bytes:
        raise CheckpointError(
            weights.with_name(CONFIG),
            f"derives {derived:,} bytes of tables (n_ctx x d_model) from {header.n_bytes:,} "
            "bytes of weights; refused as implausible",
        )


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", extras: bool = False
) -> Checkpoint:
    """Load and validate a checkpoint folder; every problem raises CheckpointError naming the file.

    Order matters: the JSON files are checked (types and ranges included) before any model is
    built, the weights' header is compared with a model built on the meta device before any
    tensor is allocated, and only then is memory spent, one tensor at a time.

    `hf:<name>` and Hugging Face GPT-2 folders are loaded by `model.hf` (the one dispatch).
    """
    from model.hf import maybe_load_hf  # imports this module: loaded on first use

    if (hf := maybe_load_hf(path, device)) is not None:
        return hf
    path = Path(path)
    recover_interrupted_save(path)
    _refuse_pickle(path)
    try:
        config = ModelConfig.from_dict(_read_json(path / CONFIG))
    except CheckpointError:
        raise
    except (TypeError, ValueError) as e:
        raise CheckpointError(path / CONFIG, f"invalid model config ({e})") from None
    try:
        tokenizer = tokenizer_from_json(_read_json(path / TOKENIZER))
    except CheckpointError:
        raise
    except Exception as e:  # a tokenizer file can be wrong in many ways; all mean the same to us
        raise CheckpointError(
            path / TOKENIZER, f"invalid tokenizer ({type(e).__name__}: {e})"
        ) from None
    if tokenizer.n_vocab != config.vocab_size:
        # smaller: ids past the tokenizer (a padded vocabulary) have no text, and every view that
        # decodes a prediction would fail on them; nothing here trains such a model
        raise CheckpointError(
            path / TOKENIZER,
            f"tokenizer has {tokenizer.n_vocab} tokens but {CONFIG} says "
            f"vocab_size={config.vocab_size}; they must be equal",
        )
    meta = _read_json(path / META) if os.path.lexists(path / META) else {}
    if not isinstance(meta, dict):
        raise CheckpointError(
            path / META, f"must hold a JSON object ({{...}}), got {type(meta).__name__}"
        )

    weights = path / WEIGHTS
    _check_against_header(config, _read_header(weights), weights)
    model = build_model(config)
    targets = dict(model.named_parameters()) | dict(model.named_buffers())
    try:
        # one tensor at a time: the peak is the model plus its largest tensor, not twice the model
        with safe_open(weights, framework="pt") as f, torch.no_grad():
            for name in f.keys():
                tensor = f.get_tensor(name)
                if not torch.isfinite(tensor).all():
                    raise CheckpointError(weights, f"tensor {name} holds NaN or inf")
                targets[name].copy_(tensor.to(targets[name].dtype))
    except (SafetensorError, OSError, RuntimeError) as e:
        raise _unreadable(weights, e) from None
    model.to(device).eval()
    loaded_extras = {}
    if extras:
        for f in sorted(path.glob("*.safetensors")):
            if f.name != WEIGHTS:
                loaded_extras[f.stem] = _load_tensors(f)
    return Checkpoint(model, tokenizer, config, meta, path, loaded_extras)
