"""A safetensors file's table of contents, read with its size bounded before a byte of it is read.

The format is an 8-byte little-endian length N, N bytes of JSON header, then raw tensor bytes.
The safetensors library accepts headers up to 100 MB and builds every entry before saying
anything; a 60 MB header of 600,000 entries cost seconds and most of a gigabyte. Here N is read
first and refused when it exceeds what the caller's model could need (`header_cap`).

A file that is not safetensors is told apart from a pickle (which is named as such and never
unpickled): `pickletools` walks a pickle's opcodes without executing any of them.
"""

from __future__ import annotations

import io
import os
import pickletools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError, safe_open

from model.safe_read import ReadRefused, open_regular

# per tensor: {"dtype":"BF16","shape":[...],"data_offsets":[...]} with 20-digit numbers is under
# 160 bytes besides the name; the slack covers __metadata__ and the alignment padding
_BYTES_PER_ENTRY = 160
_SLACK_BYTES = 64 * 2**10
_SNIFF_BYTES = 64 * 2**10
PICKLE_REFUSED = "is a pickle, not safetensors; refusing to load pickle: unpickling can run code"


@dataclass(frozen=True)
class Header:
    """What the header declares, read without reading any tensor."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    n_bytes: int  # size of the file


def header_cap(names: Iterable[str], groups: int = 1) -> int:
    """The largest header a file of these tensors needs (`groups` entries per name: an optimizer
    keeps two moments and a step per parameter)."""
    return _SLACK_BYTES + groups * sum(len(name) + _BYTES_PER_ENTRY for name in names)


def looks_like_pickle(head: bytes) -> bool:
    """Whether these first bytes are a pickle or a torch.save zip archive. Protocol 2 and later
    begin with PROTO (0x80, version); protocols 0 and 1 have no marker, so their opcodes are
    walked: bytes that parse as pickles to their end, or for many opcodes, are one."""
    if head.startswith(b"PK\x03\x04"):  # torch.save's zip (its data.pkl inside)
        return True
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    # a legacy torch.save file is several pickles in a row, so parsing goes on after a STOP
    stream, parsed = io.BytesIO(head), 0
    try:
        while stream.tell() < len(head):
            for _ in pickletools.genops(stream):
                parsed += 1
    except Exception:  # noqa: BLE001 - pickletools raises many kinds on bytes that are not pickle
        return parsed >= 8  # the sniffed head ended inside a long pickle
    return parsed >= 2  # every byte parsed as whole pickles


def _head(file: Path) -> bytes:
    try:
        with open_regular(file) as fh:
            return fh.read(_SNIFF_BYTES)
    except (OSError, ReadRefused):
        return b""


def unreadable(file: Path, reason: object) -> ReadRefused:
    """The refusal for a file safetensors cannot parse: a pickle is named as such."""
    if looks_like_pickle(_head(file)):
        return ReadRefused(file, PICKLE_REFUSED)
    return ReadRefused(file, f"not a readable safetensors file ({reason}); truncated or corrupt?")


def check_header_length(file: Path, max_header_bytes: int) -> int:
    """The file's size, after its first 8 bytes showed a header no longer than `max_header_bytes`
    and within the file. Nothing else is read."""
    try:
        with open_regular(file) as fh:
            size = os.fstat(fh.fileno()).st_size
            prefix = fh.read(8)
    except OSError as e:
        raise unreadable(file, e.strerror or e) from None
    if len(prefix) < 8:
        raise unreadable(file, f"{len(prefix)} bytes, fewer than a header's 8-byte length")
    n = int.from_bytes(prefix, "little")
    if n <= max_header_bytes and 8 + n <= size:
        return size
    if looks_like_pickle(_head(file)):
        raise ReadRefused(file, PICKLE_REFUSED)
    if 8 + n > size:
        raise unreadable(file, f"its header claims {n:,} bytes, the file has {size:,}")
    raise ReadRefused(
        file,
        f"its header claims {n:,} bytes; the tensors it may hold need at most "
        f"{max_header_bytes:,}, so it is refused unread",
    )


def read_header(file: Path, max_header_bytes: int) -> Header:
    """Shapes and dtypes of every tensor in `file`, its header bounded by `max_header_bytes`."""
    size = check_header_length(file, max_header_bytes)
    try:
        with safe_open(file, framework="pt") as f:
            shapes, dtypes = {}, {}
            for name in f.keys():
                view = f.get_slice(name)
                shapes[name] = tuple(view.get_shape())
                dtypes[name] = view.get_dtype()
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise unreadable(file, e) from None
    return Header(shapes, dtypes, size)
