"""Hostile inputs through the API: every one a CheckpointError (or the reader's ReadRefused) with
the words that say what is wrong, quickly, and no read ever changes the folder it reads.

The cases live in fixtures/hostile_cases.py, shared with bench/probe_hostile.py, which also times the
heavy ones (a 60 MB safetensors header, a 300 MB config.json) and measures their memory.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from fixtures.hostile_cases import CHECKPOINT_CASES, build_case, good_checkpoint, snapshot_tree
from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.safe_read import (
    ReadRefused,
    folder_problem,
    nesting_depth,
    path_status,
    read_json,
    read_toml,
    shown,
)

FAST = [c for c in CHECKPOINT_CASES if not c.heavy]
HEAVY = [c for c in CHECKPOINT_CASES if c.heavy]


def refusal(path: Path) -> tuple[str, float]:
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, extras=True)
    return str(error.value), time.perf_counter() - start


@pytest.mark.parametrize("case", FAST, ids=lambda c: c.name)
def test_every_hostile_checkpoint_is_a_checkpoint_error(case, tmp_path):
    message, seconds = refusal(build_case(case, tmp_path / "root"))
    assert case.words in message, message
    assert "\n" not in message and "\0" not in message
    assert seconds < 1.0, f"{case.name}: {seconds:.2f} s"


@pytest.mark.slow
@pytest.mark.parametrize("case", HEAVY, ids=lambda c: c.name)
def test_heavy_hostile_checkpoints_are_refused_in_under_a_second(case, tmp_path):
    message, seconds = refusal(build_case(case, tmp_path / "root"))
    assert case.words in message and seconds < 1.0, (message, seconds)


def test_no_read_renames_creates_or_deletes_anything(tmp_path):
    """Every hostile folder built side by side, loaded, and the whole tree compared: names,
    sizes, modification times and modes."""
    paths = {c.name: build_case(c, tmp_path / f"case{i}") for i, c in enumerate(FAST)}
    good = good_checkpoint(tmp_path, "good")
    before = snapshot_tree(tmp_path)
    for path in paths.values():
        with pytest.raises(CheckpointError):
            load_checkpoint(path, extras=True)
    load_checkpoint(good, extras=True)
    assert snapshot_tree(tmp_path) == before


def test_a_checkpoint_moved_aside_is_named_not_moved_back(tmp_path):
    folder = good_checkpoint(tmp_path)
    folder.rename(tmp_path / ".ck.old")
    with pytest.raises(CheckpointError, match=r"no such checkpoint folder \(\.ck\.old holds"):
        load_checkpoint(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ck.old"]


def test_checkpoint_folders_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        folder = good_checkpoint(tmp_path)
        save_checkpoint(folder, load_checkpoint(folder).model, load_checkpoint(folder).tokenizer)
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "model.safetensors").stat().st_mode) == 0o644


def test_folder_level_errors_name_the_folder_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint("does_not_exist")
    assert str(error.value) == "does_not_exist: no such checkpoint folder"
    assert error.value.naming("does_not_exist") == "does_not_exist: no such checkpoint folder"
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "config.json").write_text("{")
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError) as error:
        load_checkpoint("ck")
    assert error.value.naming("~/ck/").startswith("~/ck/config.json: not valid JSON")


# --- the bounded reader ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, depth",
    [
        ('{"a": "[[[[", "b": [1, [2]]}', 3),
        ('["\\"[[", {"x": {}}]', 3),
        ("[]", 1),
        ("7", 0),
    ],
)
def test_nesting_depth_skips_strings(text, depth):
    assert nesting_depth(text) == depth


def test_deep_json_and_toml_are_refused_without_recursion(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ReadRefused, match="nested 200,000 levels deep"):
        read_json(deep)
    toml = tmp_path / "deep.toml"
    toml.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ReadRefused, match="nested 5,000 levels deep"):
        read_toml(toml)
    fine = tmp_path / "fine.toml"
    fine.write_text('[model]\nname = "[[[[[[" # ]]]]\nx = [[1], [2]]\n[[runs]]\nk = 1\n')
    assert read_toml(fine)["model"]["x"] == [[1], [2]]


def test_size_is_checked_before_reading(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"pad": "x" * 5000}))
    with pytest.raises(ReadRefused, match=r"5,\d{3} bytes, over the 4,096"):
        read_json(big, max_bytes=4096)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "run.toml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(ReadRefused, match="not a regular file"):
        read_toml(fifo)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "name, words",
    [
        ("X" * 300, "path too long"),
        ("/".join(["d" * 50] * 90), "path too long"),
    ],
)
def test_os_errors_of_a_path_are_refusals(name, words, tmp_path):
    with pytest.raises(ReadRefused, match=words):
        path_status(tmp_path / name)
    assert path_status(tmp_path / "a\0b") is None  # names nothing, as a missing file


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_permission_denied_is_a_refusal(tmp_path):
    file = tmp_path / "secret.json"
    file.write_text("{}")
    file.chmod(0)
    with pytest.raises(ReadRefused, match="permission denied"):
        read_json(file)


def test_shown_escapes_and_shortens(tmp_path):
    assert shown("a\0b\nc") == "a\\x00b\\nc"
    assert len(shown("X" * 5000)) < 200


def test_folder_problem(tmp_path):
    file = tmp_path / "taken"
    file.write_text("")
    assert "names an existing file" in folder_problem(file)
    assert "which is a file" in folder_problem(file / "sub")
    assert folder_problem(tmp_path / "new" / "deeper") is None
    assert "path too long" in folder_problem(tmp_path / ("X" * 300))


def test_records_beside_a_checkpoint_are_read_bounded(tmp_path):
    """Files the app and the resume path read from a user's folder: a deep line in metrics.jsonl
    ends the log there (as a line cut short does); a deep snapshot index is a SnapshotError."""
    from training.metrics import read_metrics
    from training.snapshot_format import SnapshotError, read_series

    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 1}\n' + "[" * 100_000 + "]" * 100_000 + '\n{"step": 3}\n')
    assert read_metrics(log) == [{"step": 1}]
    folder = good_checkpoint(tmp_path)
    (folder / "snapshots").mkdir()
    (folder / "snapshots" / "index.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SnapshotError, match="nested"):
        read_series(folder)
