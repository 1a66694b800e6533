"""Reading files a user points us at: bounded, never blocking, and every failure one clear error.

Every JSON or TOML file the project reads from a user's path (a checkpoint's config, meta and
tokenizer, a training config, a suite spec, a record) goes through `read_json` / `read_toml`:

- the path is checked with one `stat` (`path_status`), which never blocks and turns every OSError
  the OS can raise for a name (too long, a link loop, no permission, a NUL byte) into `ReadRefused`;
- only regular files are opened: a named pipe would block the reader until a writer comes, a
  device can be endless;
- the size is checked against a cap before a byte is read, and at most cap + 1 bytes are read
  (a file that grows after the check is still refused);
- the nesting depth is checked by a scan of the brackets outside strings, without recursion,
  before a parser that recurses (json, tomllib) sees the text.

This module knows nothing of checkpoints or training; callers wrap `ReadRefused` in their own
error type where they have one (model.checkpoint.CheckpointError).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

MiB = 2**20
# deeper than any file the project writes (a run config is 3 levels, a record 5), far below the
# depth at which Python's recursive parsers fail
MAX_DEPTH = 64
# the longest path a message repeats whole; a longer one keeps its head and tail
_SHOWN_CHARS = 160


class ReadRefused(ValueError):
    """A file that cannot be read as asked; `problem` says why, `file` is the path as given."""

    def __init__(self, file: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{shown(file)}: {problem}")
        self.file = Path(file)
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.file, self.problem))


class FileMissing(ReadRefused):
    """Nothing at the path (or a path that cannot name anything, e.g. one with a NUL byte)."""


def shown(path: str | os.PathLike[str]) -> str:
    """A path for a one-line message: control characters escaped (a NUL, a newline), and a path
    longer than a line cut in the middle."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > _SHOWN_CHARS:
        half = _SHOWN_CHARS // 2
        text = f"{text[:half]}…({len(text) - 2 * half} characters)…{text[-half:]}"
    return text


def os_problem(e: OSError) -> str:
    """What an OSError means for the user, without the path (the message names it once)."""
    code = e.errno
    if code == errno.ENAMETOOLONG:
        return "path too long (a name over 255 bytes, or the whole path over 4,096)"
    if code == errno.ELOOP:
        return "too many levels of symbolic links (a link loop?)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.ENOTDIR:
        return "a part of the path is not a folder"
    if code == errno.ENOENT:
        return "missing"
    return f"cannot be read ({e.strerror or type(e).__name__})"


def path_status(path: str | os.PathLike[str]) -> os.stat_result | None:
    """`os.stat(path)`, or None when nothing is there; every other failure is `ReadRefused`.

    stat never blocks (on a pipe or a device either). A NUL byte cannot be in any file name, so
    such a path names nothing (None), as a missing file does."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:  # "embedded null byte"
        return None
    except OSError as e:
        raise ReadRefused(path, os_problem(e)) from None


def require_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """The stat of a regular file at `path`; `FileMissing` or `ReadRefused` otherwise."""
    status = path_status(path)
    if status is None:
        raise FileMissing(path, "missing")
    if not stat.S_ISREG(status.st_mode):
        raise ReadRefused(path, "not a regular file (a folder, pipe or device); refused")
    return status


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """A regular file opened for reading, or `ReadRefused`; never blocks.

    O_NONBLOCK changes nothing for a regular file; it keeps the open from blocking if a pipe was
    put in the file's place after the stat, which the fstat then refuses."""
    require_regular(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as e:
        raise ReadRefused(path, os_problem(e) if isinstance(e, OSError) else str(e)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ReadRefused(path, "not a regular file (a folder, pipe or device); refused")
    return os.fdopen(fd, "rb")


def read_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, checked before any is read."""
    size = require_regular(path).st_size
    if size > max_bytes:
        raise ReadRefused(path, f"{size:,} bytes, over the {max_bytes:,} this file may have")
    try:
        with open_regular(path) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as e:
        raise ReadRefused(path, os_problem(e)) from None
    if len(data) > max_bytes:  # it grew after the stat
        raise ReadRefused(path, f"over the {max_bytes:,} bytes this file may have")
    return data


def _text(path: str | os.PathLike[str], max_bytes: int, kind: str) -> str:
    data = read_bounded(path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReadRefused(
            path, f"not valid {kind} (not UTF-8 text: {e.reason} at byte {e.start})"
        ) from None


# a JSON string, escapes included (unrolled: linear time on any input)
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# TOML's four kinds of string, and comments: brackets inside them do not nest anything
_TOML_SKIP = re.compile(
    r'"""[\s\S]*?(?<!\\)"""|\'\'\'[\s\S]*?\'\'\'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\n]*\'|#[^\n]*'
)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def nesting_depth(text: str, skip: re.Pattern[str] = _JSON_STRING) -> int:
    """The deepest nesting of [] and {} outside what `skip` matches (strings, comments), counted
    without recursion. For TOML, a table header [a] counts as one level while it is open."""
    brackets = _NOT_BRACKET.sub("", skip.sub("", text))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps, dtype=np.int64).max())


def _check_depth(
    path: str | os.PathLike[str], text: str, max_depth: int, skip: re.Pattern[str]
) -> None:
    depth = nesting_depth(text, skip)
    if depth > max_depth:
        raise ReadRefused(path, f"nested {depth:,} levels deep; at most {max_depth} are read")


def parse_json(text: str, path: str | os.PathLike[str], max_depth: int = MAX_DEPTH) -> Any:
    """JSON text from `path`, its depth checked before the (recursive) parser sees it."""
    _check_depth(path, text, max_depth, _JSON_STRING)
    try:
        return json.loads(text)
    except RecursionError:  # the scan bounds the depth; this is the parser's own last word
        raise ReadRefused(path, "nested too deep to read") from None
    except ValueError as e:  # JSONDecodeError, and an integer of more than 4,300 digits
        raise ReadRefused(path, f"not valid JSON ({e})") from None


def read_json(
    path: str | os.PathLike[str], max_bytes: int = MiB, max_depth: int = MAX_DEPTH
) -> Any:
    """A JSON file from a user: a regular file of at most `max_bytes`, at most `max_depth` deep."""
    return parse_json(_text(path, max_bytes, "JSON"), path, max_depth)


def read_toml(
    path: str | os.PathLike[str], max_bytes: int = MiB, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """A TOML file from a user, bounded as `read_json` is."""
    text = _text(path, max_bytes, "TOML")
    _check_depth(path, text, max_depth, _TOML_SKIP)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ReadRefused(path, "nested too deep to read") from None
    except ValueError as e:  # TOMLDecodeError is a ValueError
        raise ReadRefused(path, f"not valid TOML ({e})") from None


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be, or be made, a folder to write into: a file in its place or on its way,
    or a name the OS refuses. None when it is a folder or can be made one. Checked before a run
    writes anything, so a bad out_dir is refused before a token cache is written."""
    path = Path(path)
    if "\0" in str(path):
        return f"{shown(path)}: a path cannot hold a NUL byte"
    for p in (path, *path.parents):
        try:
            status = path_status(p)
        except ReadRefused as e:
            return str(e)
        if status is None:
            continue
        if stat.S_ISDIR(status.st_mode):
            return None
        what = "names an existing file" if p == path else f"is inside {shown(p)}, which is a file"
        return f"{shown(path)}: {what}, not a folder"
    return None
