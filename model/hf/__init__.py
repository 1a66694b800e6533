"""Hugging Face GPT-2 family models, read from local files into our instrumented `Transformer`.

    convert.py  config.json -> ModelConfig; stored tensor names and layouts -> ours
    source.py   a folder, or `hf:<name>` from the local hub cache (local-files-only)
    load.py     `maybe_load_hf`, the dispatch `model.checkpoint.load_checkpoint` calls first

Importing this package does not import huggingface_hub; only resolving an `hf:` name does.
"""

from model.hf.load import HFSourceError, maybe_load_hf, resolve_source
from model.hf.source import HF_PREFIX, CachedModel, cached_gpt2_models, is_hf_name

__all__ = [
    "HF_PREFIX",
    "CachedModel",
    "HFSourceError",
    "cached_gpt2_models",
    "is_hf_name",
    "maybe_load_hf",
    "resolve_source",
]
