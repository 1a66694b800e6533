"""Where a Hugging Face model's files are: a local folder, or `hf:<name>` in the local Hugging Face
cache, resolved with huggingface_hub in local-files-only mode. Nothing is downloaded unless the user
sets ATTENTION_LAB_HF_DOWNLOAD=1; with nothing cached, one line says how to get the files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from model.safe_read import read_json

HF_PREFIX = "hf:"
DOWNLOAD_ENV = "ATTENTION_LAB_HF_DOWNLOAD"  # "1": an `hf:` name missing from the cache is fetched
# what the lab reads: weights, config and tokenizer files (never the pickle or TF/Flax weights)
FILES = ("*.safetensors", "*.json", "*.txt")
_MAX_CONFIG_BYTES = 2**20


class SourceError(ValueError):
    """An `hf:` name that cannot be resolved; the message is one line for the user."""


def is_hf_name(source: str | Path) -> bool:
    return isinstance(source, str) and source.startswith(HF_PREFIX)


def download_hint(name: str) -> str:
    include = " ".join(f'"{p}"' for p in FILES)
    return (
        f"get the files with `hf download {name} --include {include}` (older huggingface_hub: "
        f"`huggingface-cli download ...`), or set {DOWNLOAD_ENV}=1 to let the lab download them"
    )


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, by huggingface_hub's rules, read now (not at import), so a
    changed HF_HOME or HF_HUB_CACHE is honoured."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def resolve_hf_name(source: str) -> Path:
    """The folder of `hf:<name>` (e.g. hf:gpt2, hf:openai-community/gpt2) in the local cache.
    Raises SourceError with one line when it is not there (and downloading was not asked for)."""
    name = source[len(HF_PREFIX) :].strip()
    if not name or any(c.isspace() for c in name) or name.count("/") > 1 or ".." in name:
        raise SourceError("expected hf:<name>, e.g. hf:gpt2 or hf:distilgpt2")
    download = os.environ.get(DOWNLOAD_ENV) == "1"
    missing = f"not in the local Hugging Face cache ({hub_cache_dir()}); " + download_hint(name)
    # the hub's own layout: nothing under models--<org>--<name> means nothing cached, said at
    # once, without importing huggingface_hub (a command line stays well under its 2 s)
    if not download and not (hub_cache_dir() / f"models--{name.replace('/', '--')}").is_dir():
        raise SourceError(missing)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    except ImportError:
        raise SourceError(
            "resolving hf: names needs huggingface_hub (pip install huggingface_hub); "
            "or pass the model's folder"
        ) from None
    try:
        folder = snapshot_download(
            name,
            cache_dir=hub_cache_dir(),
            allow_patterns=list(FILES),
            local_files_only=not download,
        )
    except (LocalEntryNotFoundError, FileNotFoundError):
        raise SourceError(missing) from None
    except HFValidationError as e:
        raise SourceError(f"not a valid model name ({e})") from None
    except Exception as e:  # a download the user asked for can fail in many ways (network, auth)
        raise SourceError(f"could not be fetched ({type(e).__name__}: {e})") from None
    return Path(folder)


@dataclass(frozen=True)
class CachedModel:
    name: str  # the repository id, e.g. "gpt2" or "openai-community/gpt2"
    path: Path  # its snapshot folder

    @property
    def source(self) -> str:
        return HF_PREFIX + self.name


def _read_small_json(file: Path) -> object:
    try:
        return read_json(file, _MAX_CONFIG_BYTES)  # bounded: size, depth, regular files only
    except (OSError, ValueError):
        return None


def cached_gpt2_models() -> list[CachedModel]:
    """GPT-2 family models in the local hub cache (those whose config.json says gpt2 and whose
    snapshot holds safetensors weights), by name; reads the folders only, never the network."""
    root = hub_cache_dir()
    try:
        repos = sorted(p for p in root.iterdir() if p.name.startswith("models--"))
    except OSError:
        return []
    found = []
    for repo in repos:
        name = repo.name.removeprefix("models--").replace("--", "/")
        ref = repo / "refs" / "main"
        try:
            revision = ref.read_text().strip() if ref.is_file() else None
            snapshots = sorted((repo / "snapshots").iterdir())
        except OSError:
            continue
        pick = [s for s in snapshots if s.name == revision] or snapshots[-1:]
        for snap in pick:
            cfg = _read_small_json(snap / "config.json")
            if isinstance(cfg, dict) and cfg.get("model_type") == "gpt2":
                if (snap / "model.safetensors").is_file():
                    found.append(CachedModel(name, snap))
    return found


def name_of_snapshot(folder: Path) -> str | None:
    """ "gpt2" for .../models--gpt2/snapshots/<rev>; None for a folder outside the hub cache."""
    parts = folder.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3].removeprefix("models--").replace("--", "/")
    return None
