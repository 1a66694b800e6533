"""A checkpoint's weights file against its config.json, before a byte of a tensor is allocated.

The config says which tensors the model has and their shapes (a model built on the meta device
costs no memory); the safetensors header says what the file holds. Every claim the file cannot
back (more parameters than its bytes, a header longer than those tensors need, another shape or
an integer dtype, tables derived from the config far larger than the file) is refused here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from model.build import build_meta_model
from model.config import ModelConfig
from model.safe_read import ReadRefused, require_regular
from model.safetensors_header import check_header_length, header_cap, read_header


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


def _param_count_by_depth(config: ModelConfig) -> int:
    """Stored parameters the config implies, from meta-device models of one and two layers (no
    memory, milliseconds): every layer has the same tensors, so depth is linear. Lets a config
    that claims 100,000 layers be compared with its file before anything that deep is built."""
    counts = []
    for depth in (1, 2):
        shallow = build_meta_model(config.replace(n_layers=depth))
        counts.append(sum(t.numel() for t in distinct_state_dict(shallow).values()))
    return counts[0] + (config.n_layers - 1) * (counts[1] - counts[0])


def check_weights(config: ModelConfig, weights: Path) -> int:
    """Everything the weights' header can say about the model, checked before a byte is
    allocated; returns the header cap its tensors imply (extra groups are bounded by it)."""
    # a header longer than the file (a pickle's first bytes read as a length) is refused, and a
    # pickle named, before the config is compared with the file's size
    n_bytes = check_header_length(weights, require_regular(weights).st_size)
    implied = _param_count_by_depth(config)
    if implied * 2 > n_bytes:  # 16 bits is the narrowest width a weight may be stored in
        raise ReadRefused(
            weights,
            f"config.json implies {implied:,} parameters (at least {implied * 2:,} bytes) but the "
            f"file has {n_bytes:,} bytes: it does not match config.json",
        )
    meta_model = build_meta_model(config)
    expected = distinct_state_dict(meta_model)
    cap = header_cap(expected)
    header = read_header(weights, cap)
    missing = sorted(set(expected) - set(header.shapes))
    extra = sorted(set(header.shapes) - set(expected))
    if missing or extra:
        raise ReadRefused(
            weights,
            "does not match config.json"
            + (f"; missing tensors {missing[:6]}" if missing else "")
            + (f"; unexpected tensors {extra[:6]}" if extra else ""),
        )
    for name, tensor in expected.items():
        if header.shapes[name] != tuple(tensor.shape):
            raise ReadRefused(
                weights,
                f"tensor {name} has shape {header.shapes[name]}, "
                f"config.json implies {tuple(tensor.shape)}",
            )
        want = _SAFETENSORS_DTYPE.get(tensor.dtype, str(tensor.dtype))
        allowed = _FLOAT_STORAGE if tensor.is_floating_point() else (want,)
        if header.dtypes[name] not in allowed:
            raise ReadRefused(
                weights,
                f"tensor {name} is stored as {header.dtypes[name]}; the model needs {want} "
                f"(allowed: {', '.join(allowed)})",
            )
    stored = set(meta_model.state_dict())  # persistent: in the file, so bounded by its size
    derived = sum(
        b.numel() * b.element_size() for name, b in meta_model.named_buffers() if name not in stored
    )
    if derived > _DERIVED_SLACK_BYTES + _DERIVED_PER_FILE_BYTE * header.n_bytes:
        raise ReadRefused(
            weights.with_name("config.json"),
            f"derives {derived:,} bytes of tables (n_ctx x d_model) from {header.n_bytes:,} "
            "bytes of weights; refused as implausible",
        )
    return cap
