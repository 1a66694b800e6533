"""Load a Hugging Face GPT-2 folder (or `hf:<name>`) as a `Checkpoint` of our `Transformer`.

`load_checkpoint` calls `maybe_load_hf` first, so every place that accepts a checkpoint folder (the
app's picker, training.evaluate, training.lambada, views.export_cli) accepts these too. Only
safetensors weights are read; a folder offering only pytorch_model.bin is refused with the command
that converts it. As with our own checkpoints, the header is checked against the config before
anything is allocated, then tensors are copied one at a time.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from model.build import build_meta_model, build_model
from model.checkpoint_format import PICKLE_SUFFIXES, WEIGHTS, Checkpoint, CheckpointError
from model.config import ModelConfig
from model.hf.convert import (
    ConversionError,
    config_from_hf,
    convert_tensor,
    is_hf_config,
    our_name,
    split_qkv,
)
from model.hf.source import (
    HF_PREFIX,
    SourceError,
    is_hf_name,
    name_of_snapshot,
    resolve_hf_name,
)
from model.safe_read import ReadRefused, read_json
from model.safetensors_header import check_header_length, header_cap
from model.tokenizers import TokenizerError
from model.tokenizers.gpt2 import gpt2_tokenizer_from_folder
from model.transformer import Transformer

CONFIG = "config.json"
_MAX_CONFIG_BYTES = 2**20
_CONVERT_HINT = (
    "convert it once, in an environment you trust, with transformers: "
    "`GPT2LMHeadModel.from_pretrained(folder).save_pretrained(folder)` writes model.safetensors "
    '(or download the safetensors files: `hf download <name> --include "*.safetensors"`)'
)


class HFSourceError(CheckpointError):
    """An `hf:` name that cannot be resolved: the message is already the whole line to show."""

    def naming(self, folder: str) -> str:
        return str(self)


def resolve_source(source: str | Path) -> Path:
    """The folder behind what the user typed: `hf:<name>` from the local cache, else the path.
    Raises HFSourceError (a CheckpointError) with one line when an `hf:` name is not cached."""
    if is_hf_name(source):
        try:
            return resolve_hf_name(str(source))
        except SourceError as e:
            raise HFSourceError(Path(str(source)), str(e)) from None
    return Path(source)


def _hf_config(folder: Path) -> dict | None:
    """The folder's config.json when it is a Hugging Face one; None otherwise (ours, or none)."""
    file = folder / CONFIG
    try:
        data = read_json(file, _MAX_CONFIG_BYTES)  # bounded: size, depth, regular files only
    except (OSError, ValueError):
        return None  # load_checkpoint's own checks name the problem
    return data if is_hf_config(data) else None


def maybe_load_hf(source: str | Path, device: str | torch.device = "cpu") -> Checkpoint | None:
    """The one dispatch: a Checkpoint for `hf:<name>` or a Hugging Face folder, None for anything
    else (our own checkpoint folders, which `load_checkpoint` goes on to load)."""
    named = is_hf_name(source)
    folder = resolve_source(source)
    data = _hf_config(folder) if folder.is_dir() else None
    if data is None:
        if named:
            raise CheckpointError(folder / CONFIG, "missing or not a Hugging Face config")
        return None
    name = str(source).removeprefix(HF_PREFIX) if named else None
    name = name or name_of_snapshot(folder.resolve()) or folder.name
    return load_hf_folder(folder, data, name, device)


def load_hf_folder(
    folder: Path, data: dict, name: str, device: str | torch.device = "cpu"
) -> Checkpoint:
    try:
        config = config_from_hf(data)
    except ConversionError as e:
        raise CheckpointError(folder / CONFIG, str(e)) from None
    weights = folder / WEIGHTS
    if not weights.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        problem = (
            f"missing; this folder has only pickle-based weights ({', '.join(pickles)}), refused "
            "because unpickling can run code: " + _CONVERT_HINT
            if pickles
            else "missing (a Hugging Face folder needs model.safetensors beside config.json)"
        )
        raise CheckpointError(weights, problem)
    try:
        tokenizer = gpt2_tokenizer_from_folder(folder)
    except TokenizerError as e:
        raise CheckpointError(folder / "vocab.json", f"no usable tokenizer ({e})") from None
    if tokenizer.n_vocab != config.vocab_size:
        raise CheckpointError(
            folder / "vocab.json",
            f"the tokenizer has {tokenizer.n_vocab} tokens but config.json says "
            f"vocab_size={config.vocab_size}; they must be equal",
        )
    model = _load_weights(weights, config)
    model.to(device).eval()
    meta = {"name": name, "source": "huggingface", "architecture": "GPT2LMHeadModel"}
    return Checkpoint(model, tokenizer, config, meta, folder)


def _expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Our parameters' shapes, from a meta-device model (no memory)."""
    meta = build_meta_model(config)
    return {k: tuple(v.shape) for k, v in meta.named_parameters()}


def _check_header(weights: Path, f: object, config: ModelConfig) -> dict[str, str]:
    """Stored name -> our name, with every shape checked before anything is allocated."""
    expected = _expected_shapes(config)
    targets: dict[str, str] = {}
    for hf_name in f.keys():  # type: ignore[attr-defined]
        try:
            ours = our_name(hf_name)
        except ConversionError as e:
            raise CheckpointError(weights, str(e)) from None
        if ours is None or (ours == "unembed.W_U_own" and config.tied_embeddings):
            continue
        view = f.get_slice(hf_name)  # type: ignore[attr-defined]
        if view.get_dtype() not in ("F16", "BF16", "F32", "F64"):
            raise CheckpointError(weights, f"tensor {hf_name} is {view.get_dtype()}, not float")
        shape = tuple(view.get_shape())
        want = _stored_shape(ours, expected, config)
        if shape != want:
            raise CheckpointError(
                weights, f"tensor {hf_name} has shape {shape}; config.json implies {want}"
            )
        targets[hf_name] = ours
    return targets


def _stored_shape(
    ours: str, expected: dict[str, tuple[int, ...]], config: ModelConfig
) -> tuple[int, ...]:
    d = config.d_model
    if ours.endswith("attn.qkv"):
        return (d, 3 * config.n_heads * config.d_head)
    if ours.endswith("attn.qkv_bias"):
        return (3 * config.n_heads * config.d_head,)
    if ours.endswith("attn.W_O"):
        return (config.n_heads * config.d_head, d)
    if ours == "unembed.W_U_own":
        return (config.vocab_size, d)
    return expected.get(ours, ())


def _load_weights(weights: Path, config: ModelConfig) -> Transformer:
    """Our model with the file's weights: shapes checked first, then one tensor at a time (the
    peak is the model plus its largest tensor), each in our layout."""
    fused: dict[str, dict[str, torch.Tensor]] = {}  # block -> c_attn weight/bias, split when both
    try:
        # a header longer than the model's tensors need is refused from its 8-byte length
        check_header_length(weights, header_cap(_expected_shapes(config), groups=2))
    except ReadRefused as e:
        raise CheckpointError(weights, e.problem) from None
    try:
        with safe_open(weights, framework="pt") as f, torch.no_grad():
            targets = _check_header(weights, f, config)
            model = build_model(config, init=False)
            assert isinstance(model, Transformer)
            params = dict(model.named_parameters())
            filled: set[str] = set()
            for hf_name, ours in targets.items():
                tensor = f.get_tensor(hf_name).float()
                if not torch.isfinite(tensor).all():
                    raise CheckpointError(weights, f"tensor {hf_name} holds NaN or inf")
                block, _, kind = ours.rpartition(".")
                if kind in ("qkv", "qkv_bias"):
                    fused.setdefault(block, {})[kind] = tensor
                    if len(fused[block]) < 2:
                        continue
                    parts = fused.pop(block)
                    split = split_qkv(parts["qkv"], parts["qkv_bias"], config.n_heads)
                    for key, value in split.items():
                        params[f"{block}.{key}"].copy_(value)
                        filled.add(f"{block}.{key}")
                else:
                    params[ours].copy_(convert_tensor(ours, tensor, config))
                    filled.add(ours)
            if config.bias:  # GPT-2 has no unembedding bias: ours is zero
                params["unembed.b_U"].zero_()
                filled.add("unembed.b_U")
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(weights, f"not a readable safetensors file ({e})") from None
    missing = sorted(set(params) - filled)
    if missing:
        raise CheckpointError(weights, f"lacks the tensors for {missing[:6]}")
    return model
