"""Hostile and careless inputs, built on demand in a temp folder: the one table of them that the
tests (tests/test_hostile_*.py) and the probe script (bench/probe_hostile.py) share.

Each case builds what a user would point a reader at (a checkpoint folder, usually) and names the
words its refusal must contain. Heavy cases write large files (a 60 MB safetensors header, a
300 MB config.json): the probe script and the slow test tier build them, never the repository.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model.build import build_model
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.tokenizers import CharTokenizer
from training.config import RunConfig, TrainConfig

TEXT = "To be, or not to be, that is the question.\n" * 3
TINY = ModelConfig(vocab_size=23, n_ctx=16, d_model=32, n_layers=2, n_heads=2, d_head=16, d_mlp=64)
DEEP = 200_000  # '[' * DEEP + ']' * DEEP: a RecursionError for Python's json and tomllib


def good_checkpoint(root: Path, name: str = "ck") -> Path:
    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    return save_checkpoint(root / name, build_model(TINY.replace(vocab_size=tok.n_vocab)), tok)


def deep_json() -> str:
    return "[" * DEEP + "]" * DEEP


def _with(file: str, content: Callable[[Path], None]) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        folder = good_checkpoint(root)
        (folder / file).unlink(missing_ok=True)
        content(folder / file)
        return folder

    return build


def _write_text(text: str) -> Callable[[Path], None]:
    return lambda file: file.write_text(text)


def _big_json(n_bytes: int) -> Callable[[Path], None]:
    """Valid JSON of `n_bytes`, written in chunks (the builder never holds it whole)."""

    def write(file: Path) -> None:
        chunk = "x" * 2**20
        with open(file, "w") as fh:
            fh.write('{"pad": "')
            left = n_bytes - len('{"pad": ""}')
            while left > 0:
                fh.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
            fh.write('"}')

    return write


def _long_header(n_entries: int) -> Callable[[Path], None]:
    """A well-formed safetensors file whose header lists `n_entries` one-float tensors."""

    def write(file: Path) -> None:
        entries = ",".join(
            f'"blocks.{i:09d}.attention.weight_matrix":{{"dtype":"F32","shape":[1],'
            f'"data_offsets":[{4 * i},{4 * i + 4}]}}'
            for i in range(n_entries)
        )
        header = ("{" + entries + "}").encode()
        header += b" " * (-len(header) % 8)
        with open(file, "wb") as fh:
            fh.write(len(header).to_bytes(8, "little"))
            fh.write(header)
            fh.write(bytes(4 * n_entries))

    return write


class _Payload:
    """Unpickling this would run code; nothing here may ever unpickle it."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/attention-lab-pickle-ran",))


def _pickle(protocol: int) -> Callable[[Path], None]:
    return lambda file: file.write_bytes(pickle.dumps({"w": _Payload()}, protocol=protocol))


def _zip(file: Path) -> None:
    with zipfile.ZipFile(file, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": _Payload()}, protocol=2))


def _fifo(file: Path) -> None:
    os.mkfifo(file)


def _missing(root: Path) -> Path:
    return root / "does_not_exist"


def _long_name(root: Path) -> Path:
    return root / ("X" * 300)


def _past_path_max(root: Path) -> Path:
    return root.joinpath(*["d" * 50] * 90)  # 4,590 characters: over PATH_MAX


def _nul(root: Path) -> Path:
    return root / "ck\0evil"


def _link_loop(root: Path) -> Path:
    (root / "loop").symlink_to(root / "loop")
    return root / "loop"


def _moved_aside(root: Path) -> Path:
    folder = good_checkpoint(root)
    folder.rename(root / ".ck.old")
    return folder


def _a_file(root: Path) -> Path:
    file = root / "model.pt"
    file.write_bytes(b"\x80\x04K\x01.")
    return file


def _edit_config(**changes: object) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        folder = good_checkpoint(root)
        data = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(data | changes))
        return folder

    return build


def _write_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda file: file.write_bytes(data)


def _pickle_only(root: Path) -> Path:
    folder = good_checkpoint(root)
    (folder / "model.safetensors").rename(folder / "model.bin")
    return folder


def _nan_weights(root: Path) -> Path:
    folder = good_checkpoint(root)
    tensors = load_file(folder / "model.safetensors")
    tensors["embed.W_E"][0, 0] = float("nan")
    save_file(tensors, folder / "model.safetensors")
    return folder


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]  # makes the input under a fresh folder; returns the path to give
    words: str  # what the refusal must say
    in_argv: bool = True  # a NUL byte cannot be passed on a command line
    heavy: bool = False  # writes a large file: the probe script and the slow tier only
    measured: bool = False  # the probe reports its time and peak memory


CHECKPOINT_CASES: tuple[Case, ...] = (
    # this pass
    Case("deep config.json", _with("config.json", _write_text(deep_json())), "nested"),
    Case("deep meta.json", _with("meta.json", _write_text(deep_json())), "nested"),
    Case("deep tokenizer.json", _with("tokenizer.json", _write_text(deep_json())), "nested"),
    Case("name over 255 bytes", _long_name, "path too long"),
    Case("path over PATH_MAX", _past_path_max, "path too long"),
    Case("NUL byte in the path", _nul, "no such checkpoint folder", in_argv=False),
    Case("symbolic link loop", _link_loop, "symbolic links"),
    Case("only .ck.old left", _moved_aside, ".ck.old holds"),
    Case("2 MB config.json", _with("config.json", _big_json(2 * 2**20)), "over the"),
    Case(
        "300 MB config.json",
        _with("config.json", _big_json(300 * 2**20)),
        "over the",
        heavy=True,
        measured=True,
    ),
    Case("20,000-entry header", _with("model.safetensors", _long_header(20_000)), "header"),
    Case(
        "60 MB header (600,000 entries)",
        _with("model.safetensors", _long_header(600_000)),
        "header",
        heavy=True,
        measured=True,
    ),
    Case("protocol-0 pickle", _with("model.safetensors", _pickle(0)), "refusing to load pickle"),
    Case("protocol-1 pickle", _with("model.safetensors", _pickle(1)), "refusing to load pickle"),
    Case("protocol-4 pickle", _with("model.safetensors", _pickle(4)), "refusing to load pickle"),
    Case("zip archive", _with("model.safetensors", _zip), "refusing to load pickle"),
    # earlier passes
    Case("missing folder", _missing, "no such checkpoint folder"),
    Case("a pickle file", _a_file, "pickle-based weights are refused"),
    Case("named pipe config.json", _with("config.json", _fifo), "not a regular file"),
    Case("named pipe weights", _with("model.safetensors", _fifo), "not a regular file"),
    Case("100,000 layers", _edit_config(n_layers=100_000), "n_layers must be at most"),
    Case("1024 layers", _edit_config(n_layers=1024), "implies"),
    Case("config.json a list", _with("config.json", _write_text("[]")), "invalid model config"),
    Case("meta.json a list", _with("meta.json", _write_text("[1]")), "must hold a JSON object"),
    Case("not JSON", _with("config.json", _write_text("{nope")), "not valid JSON"),
    Case("vocab 2**23", _edit_config(vocab_size=2**23), "vocab_size must be at most"),
    Case("n_ctx 1e9", _edit_config(n_ctx=10**9), "n_ctx must be at most"),
    Case("d_model 2**14, d_mlp 2**16", _edit_config(d_model=2**14, d_mlp=2**16), "implies"),
    Case("causal_mask 'false'", _edit_config(causal_mask="false"), "expected true or false"),
    Case("folder as tokenizer.json", _with("tokenizer.json", Path.mkdir), "not a regular file"),
    Case("pickle weights only", _pickle_only, "only pickle-based weights here"),
    Case("truncated weights", _with("model.safetensors", _write_bytes(b"x" * 100)), "corrupt"),
    Case("NaN weights", _nan_weights, "holds NaN or inf"),
)


# --- training configs --------------------------------------------------------------------------


def train_config(root: Path, name: str = "run.json", **train_fields: object) -> Path:
    """A tiny run's config file (corpus, cache and out_dir under `root`), fields changed."""
    corpus = root / "corpus.txt"
    if not corpus.exists():
        corpus.write_text("".join(f"{i} the cat sat on the mat.\n" for i in range(150)))
    fields = dict(
        corpus=str(corpus),
        cache_dir=str(root / "cache"),
        out_dir=str(root / "run"),
        progress=False,
        device="cpu",
        batch_size=4,
        max_steps=2,
        eval_interval=2,
        checkpoint_interval=2,
        threads=1,
    )
    run = RunConfig(TINY, TrainConfig(**(fields | train_fields)))
    (root / name).write_text(json.dumps(run.to_dict()))
    return root / name


def _config_text(name: str, text: str) -> Callable[[Path], list[str]]:
    def build(root: Path) -> list[str]:
        (root / name).write_text(text)
        return ["--config", str(root / name)]

    return build


def _fifo_config(root: Path) -> list[str]:
    os.mkfifo(root / "f.toml")
    return ["--config", str(root / "f.toml")]


def _flags(*flags: str, **train_fields: object) -> Callable[[Path], list[str]]:
    return lambda root: ["--config", str(train_config(root, **train_fields)), *flags]


def _out_dir_a_file(root: Path) -> list[str]:
    (root / "taken").write_text("a file")
    return ["--config", str(train_config(root)), "--out_dir", str(root / "taken")]


def _val_char_missing(root: Path) -> list[str]:
    odd = root / "odd.txt"
    odd.write_text("the cat sat on the mat.\n" * 60 + "ZZZZZ\n")  # Z only in the last 10%
    return ["--config", str(train_config(root, corpus=str(odd)))]


@dataclass(frozen=True)
class TrainCase:
    name: str
    build: Callable[[Path], list[str]]  # writes under a fresh folder; returns training's argv
    words: str
    writes_nothing: bool = True  # no token cache, no out_dir may appear


TRAIN_CASES: tuple[TrainCase, ...] = (
    TrainCase("deep JSON config", _config_text("deep.json", deep_json()), "nested"),
    TrainCase("deep TOML config", _config_text("d.toml", f"a = {deep_json()}\n"), "nested"),
    TrainCase("[model] a list", _config_text("l.json", '{"model": [1]}'), "must be a table"),
    TrainCase("2 MB config", _config_text("big.json", " " * 2 * 2**20), "over the"),
    TrainCase("named pipe config", _fifo_config, "not a regular file"),
    TrainCase(
        "config name over 255 bytes", lambda r: ["--config", "X" * 300 + ".toml"], "path too long"
    ),
    TrainCase("device cuda", _flags("--device", "cuda"), "no CUDA device"),
    TrainCase("out_dir a file", _out_dir_a_file, "names an existing file"),
    TrainCase("holdout 1e8", _flags("--holdout_tokens", "100000000"), "leaves too little"),
    TrainCase("validation char missing", _val_char_missing, "train split lacks"),
    TrainCase("--resume --overwrite", _flags("--resume", "--overwrite"), "give one"),
    # earlier passes
    TrainCase("lr a string", _config_text("s.toml", '[train]\nlr = "1e-3"\n'), ".lr"),
    TrainCase("unknown field", _config_text("u.toml", "[train]\nlr_max = 1\n"), "unknown"),
    TrainCase("n_ctx over the corpus", _flags("--n_ctx", "20000"), "longer than the", False),
    TrainCase("missing corpus", _flags(corpus="nowhere.txt"), "nowhere.txt"),
)


def build_case(case: Case, root: Path) -> Path:
    """The case's input under `root` (a folder of its own)."""
    root.mkdir(parents=True, exist_ok=True)
    return case.build(root)


def snapshot_tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under `root` (links and pipes not followed): name -> (size, mtime_ns, mode)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), root)] = (
                st.st_size if not os.path.isdir(os.path.join(folder, name)) else 0,
                st.st_mtime_ns,
                st.st_mode,
            )
    return out
