"""Checkpoints: a folder of safetensors weights and JSON, never pickle.

    <dir>/model.safetensors   weights (distinct tensors only: shared layers are stored once)
    <dir>/config.json         ModelConfig
    <dir>/tokenizer.json      the tokenizer (BPE ranks in tiktoken's base64 format)
    <dir>/meta.json           training metadata (step, losses, anything JSON)
    <dir>/<name>.safetensors  optional extra tensor groups (e.g. optimizer state for resuming)

safetensors holds only a JSON header and raw tensor bytes, so loading cannot run code. A folder that
offers pickle-based weights (.pt, .bin, .pkl, .ckpt) is refused, not unpickled. Every file is read
through `model.safe_read` (bounded size and depth, regular files only) and every safetensors
header's length is checked before it is read (`model.safetensors_header`).

Saving is atomic: everything is written to a sibling temporary folder, which then replaces the old
one by rename, so a crash mid-save leaves the previous checkpoint intact. Only the writer repairs
what an interrupted save left (`recover_interrupted_save`): loading never renames, creates or
deletes anything, so a reader (the app's typed path) cannot move a user's folders.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import stat
import string
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from model.build import LanguageModel, build_model
from model.checkpoint_format import (
    CONFIG,
    JSON_LIMITS,
    META,
    PICKLE_SUFFIXES,
    TOKENIZER,
    WEIGHTS,
    Checkpoint,
    CheckpointError,
)
from model.config import ModelConfig
from model.hf import maybe_load_hf
from model.safe_read import (
    FileMissing,
    MiB,
    ReadRefused,
    os_problem,
    path_status,
    read_json,
)
from model.safetensors_header import check_header_length, unreadable
from model.tokenizers import Tokenizer, tokenizer_from_json
from model.weights_check import check_weights, distinct_state_dict

# an extra group (optimizer state: two moments and a step per parameter, RNG state) holds at
# most this many entries per tensor of the model
_EXTRA_ENTRIES_PER_TENSOR = 4


def _folder_error(folder: Path, problem: str) -> CheckpointError:
    """An error about the folder itself (named once, not as folder/folder)."""
    return CheckpointError(folder, problem, file_name="")


def _from_refusal(folder: Path, e: ReadRefused) -> CheckpointError:
    if e.file == folder:
        return _folder_error(folder, e.problem)
    try:
        inside = str(e.file.relative_to(folder))
    except ValueError:
        inside = e.file.name
    return CheckpointError(e.file, e.problem, inside)


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
    tmp = _temporary_sibling(path)
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
        mode = 0o666 & ~_umask()  # safetensors writes 0600: the files get what any file would
        for f in tmp.iterdir():  # data on disk before the rename makes it visible
            os.chmod(f, mode)
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


def _temporary_sibling(path: Path) -> Path:
    """An empty folder .<name>.XXXXXXXX beside `path`. Made with os.mkdir, so its mode follows
    the umask as any folder the user makes (mkdtemp's 0700 would become the checkpoint's mode and
    hide it from everyone else); the name is random, so concurrent saves never share one."""
    alphabet = string.ascii_lowercase + string.digits + "_"
    chooser = random.SystemRandom()
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{''.join(chooser.choices(alphabet, k=8))}"
        try:
            os.mkdir(tmp)
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def _umask() -> int:
    """The process's umask, read without setting it where Linux allows (os.umask sets as it
    reads, which races with threads creating files meanwhile)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def recover_interrupted_save(path: str | Path) -> None:
    """A save killed between its two renames leaves only the previous checkpoint, moved aside to
    .<name>.old: move it back. Does nothing when `path` exists. For writers only (a save, a run's
    start): loading never calls it."""
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


def _read_json(path: Path) -> Any:
    try:
        return read_json(path, JSON_LIMITS.get(path.name, MiB))
    except FileMissing:
        raise CheckpointError(
            path, f"missing (a checkpoint folder needs {CONFIG}, {TOKENIZER}, {WEIGHTS})"
        ) from None


def check_folder(path: str | Path) -> Path:
    """`path` as a checkpoint folder that exists and offers safetensors weights, checked as
    `load_checkpoint` checks it first (CheckpointError otherwise); returns it resolved (absolute,
    links followed), a key for a cache of loaded models. Reads nothing but the folder's listing."""
    path = Path(path)
    try:
        _check_folder(path)
    except ReadRefused as e:
        raise _from_refusal(path, e) from None
    except OSError as e:
        file = Path(e.filename) if isinstance(e.filename, str) else path
        raise _from_refusal(path, ReadRefused(file, os_problem(e))) from None
    return path.resolve()


def _check_folder(path: Path) -> None:
    """The folder exists, is a folder, and offers safetensors weights (never pickle)."""
    status = path_status(path)
    if status is None:
        aside = path.with_name(f".{path.name}.old") if path.name else None
        hint = (
            f" ({aside.name} holds the checkpoint an interrupted save moved aside; the next save "
            "to this folder, or resuming its run, moves it back)"
            if aside is not None and path_status(aside) is not None
            else ""
        )
        raise _folder_error(path, "no such checkpoint folder" + hint)
    if stat.S_ISREG(status.st_mode):
        raise _folder_error(
            path,
            f"a checkpoint is a folder with {WEIGHTS}; "
            + (
                "pickle-based weights are refused because loading them can run code"
                if path.suffix in PICKLE_SUFFIXES
                else "got a file"
            ),
        )
    if not stat.S_ISDIR(status.st_mode):
        raise _folder_error(path, "not a folder (a pipe or device); refused")
    if path_status(path / WEIGHTS) is None:
        pickles = sorted(e.name for e in os.scandir(path) if Path(e.name).suffix in PICKLE_SUFFIXES)
        if pickles:
            raise _folder_error(
                path,
                f"only pickle-based weights here ({', '.join(pickles)}); refused because "
                f"unpickling can run code. Convert them to {WEIGHTS} (safetensors) in a trusted "
                "environment.",
            )
        raise CheckpointError(path / WEIGHTS, "missing")


def _load_tensors(file: Path, max_header_bytes: int) -> dict[str, Tensor]:
    # the header's length is checked first; safetensors parsing cannot run code, so a pickle is
    # recognised only once it fails (a valid header's length may begin with 0x80, e.g. 128)
    check_header_length(file, max_header_bytes)
    try:
        return load_file(file)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise unreadable(file, e) from None


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", extras: bool = False
) -> Checkpoint:
    """Load and validate a checkpoint folder; every problem raises CheckpointError naming the file.

    Order matters: the JSON files are checked (types and ranges included) before any model is
    built, the weights' header is compared with a model built on the meta device before any
    tensor is allocated, and only then is memory spent, one tensor at a time.

    `hf:<name>` and Hugging Face GPT-2 folders are loaded by `model.hf` (the one dispatch).
    """
    given, path = path, Path(path)
    try:
        hf = maybe_load_hf(given, device)
        return hf if hf is not None else _load(path, device, extras)
    except ReadRefused as e:  # the bounded reads' refusals, named as this folder's files
        raise _from_refusal(path, e) from None
    except OSError as e:  # anything the OS says about a path on the way (EACCES on a listing)
        file = Path(e.filename) if isinstance(e.filename, str) else path
        raise _from_refusal(path, ReadRefused(file, os_problem(e))) from None


def _load(path: Path, device: str | torch.device, extras: bool) -> Checkpoint:
    _check_folder(path)
    try:
        config = ModelConfig.from_dict(_read_json(path / CONFIG))
    except (CheckpointError, ReadRefused):
        raise
    except (TypeError, ValueError) as e:
        raise CheckpointError(path / CONFIG, f"invalid model config ({e})") from None
    try:
        tokenizer = tokenizer_from_json(_read_json(path / TOKENIZER))
    except (CheckpointError, ReadRefused):
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
    cap = check_weights(config, weights)
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
        raise unreadable(weights, e) from None
    model.to(device).eval()
    loaded_extras = {}
    if extras:
        for f in sorted(path.glob("*.safetensors")):
            if f.name != WEIGHTS:
                loaded_extras[f.stem] = _load_tensors(f, _EXTRA_ENTRIES_PER_TENSOR * cap)
    return Checkpoint(model, tokenizer, config, meta, path, loaded_extras)
