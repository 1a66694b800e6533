"""What a checkpoint folder holds, the loaded result, and the error that names a bad folder.

Shared by the folder loader and saver (`model/checkpoint.py`) and the GPT-2 loader (`model/hf/`),
which both return a `Checkpoint` and raise `CheckpointError`; neither imports the other for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from model.build import LanguageModel
from model.config import ModelConfig
from model.safe_read import MiB, shown
from model.tokenizers import Tokenizer

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
META = "meta.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt")
# what each JSON file may weigh: a config is ~400 bytes, meta ~2 KB; a BPE of 2**20 ranks ~20 MB
JSON_LIMITS = {CONFIG: MiB, META: 16 * MiB, TOKENIZER: 64 * MiB}


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and the problem.

    The file is named as the caller gave the folder (a relative path stays relative). A caller
    that resolved the path itself (a server caching by absolute path) can reword the message for
    its user with `file_name` (the file inside the folder; "" when the problem is the folder
    itself) and `problem`.
    """

    def __init__(self, file: Path, problem: str, file_name: str | None = None) -> None:
        super().__init__(f"{shown(file)}: {problem}")
        self.file = Path(file)
        self.file_name = self.file.name if file_name is None else file_name
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes despite the signature
        return (type(self), (self.file, self.problem, self.file_name))

    def naming(self, folder: str) -> str:
        """The message with the folder written as `folder` (what the user typed)."""
        where = shown(folder.rstrip("/") or folder)
        return (
            f"{where}/{self.file_name}: {self.problem}"
            if self.file_name
            else f"{where}: {self.problem}"
        )


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
