"""Every command line that takes a checkpoint, given every hostile checkpoint: one line on stderr
naming what is wrong, exit status 2, no traceback, no absolute path the user did not type.

In-process here (fast); the slow tier and bench/probe_hostile.py run the real entry points as
subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import training.evaluate
import training.lambada
import training.train
import views.export_cli
from fixtures.hostile_cases import CHECKPOINT_CASES, TRAIN_CASES, build_case

REPO = Path(__file__).resolve().parents[1]
CASES = [c for c in CHECKPOINT_CASES if c.in_argv and not c.heavy]

# (module, its main, the arguments besides --checkpoint)
CLIS: dict[str, tuple[Callable[[list[str]], int], list[str]]] = {
    "training.evaluate": (training.evaluate.main, []),
    "training.lambada": (training.lambada.main, []),
    "views.export_cli": (views.export_cli.main, ["--prompt", "To be", "--out", "out"]),
}


def run_main(main: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's exit
        return int(e.code or 0)


@pytest.mark.parametrize("cli", list(CLIS))
def test_every_hostile_checkpoint_is_one_line_and_exit_2(cli, tmp_path, monkeypatch, capsys):
    main, extra = CLIS[cli]
    monkeypatch.chdir(tmp_path)
    failures = []
    for i, case in enumerate(CASES):
        given = build_case(case, tmp_path / f"c{i}").relative_to(tmp_path)
        code = run_main(main, ["--checkpoint", str(given), *extra])
        out = capsys.readouterr()
        lines = [line for line in out.err.splitlines() if line.strip()]
        if not (
            code == 2
            and len(lines) == 1
            and case.words in lines[0]
            and "error" in lines[0]
            and str(tmp_path) not in out.err
            and "Traceback" not in out.err
        ):
            failures.append((case.name, code, out.err[-300:]))
    assert not failures, failures
    assert not (tmp_path / "out").exists()  # export_cli wrote nothing


@pytest.mark.parametrize("case", TRAIN_CASES, ids=lambda c: c.name)
def test_every_hostile_training_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    if case.name == "device cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    threads = torch.get_num_threads()
    argv = case.build(tmp_path)
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(run_main(training.train.main, argv)), daemon=True
    )
    worker.start()
    worker.join(30)
    torch.set_num_threads(threads)
    assert not worker.is_alive(), f"{case.name}: still running after 30 s (blocked?)"
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert result == [2] and len(lines) == 1 and case.words in lines[0], err
    if case.writes_nothing:
        assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_export_cli_refuses_an_out_folder_that_is_a_file_before_loading(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("")
    code = run_main(
        views.export_cli.main,
        ["--checkpoint", str(tmp_path / "none"), "--prompt", "a", "--out", str(taken)],
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--out" in err and "existing file" in err


def test_export_cli_usage_mistakes_are_one_line(capsys):
    code = run_main(views.export_cli.main, ["--checkpoint", "x", "--prompt", "a"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--out" in err and "usage" not in err


@pytest.mark.slow
@pytest.mark.parametrize("cli", [*CLIS, "training.train"])
def test_the_real_entry_points_exit_2_with_one_line(cli, tmp_path):
    """A subprocess each: the exit status the shell sees, and nothing but the one line."""
    case = next(c for c in CASES if c.name == "deep config.json")
    folder = build_case(case, tmp_path / "c")
    if cli == "training.train":
        config = tmp_path / "deep.json"
        config.write_text((folder / "config.json").read_text())
        argv = ["--config", str(config)]
    else:
        argv = ["--checkpoint", str(folder), *CLIS[cli][1]]
    done = subprocess.run(
        [sys.executable, "-m", cli, *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "nested" in lines[0], done.stderr


@pytest.mark.parametrize("cli", ["training.sweep", "training.experiments"])
@pytest.mark.parametrize("kind", ["deep", "fifo", "too long"])
def test_the_suite_and_sweep_clis_refuse_hostile_files_in_one_line(cli, kind, tmp_path, capsys):
    import training.experiments
    import training.sweep

    file = tmp_path / ("spec.json" if cli == "training.sweep" else "spec.toml")
    if kind == "deep":
        file.write_text(("a = " if file.suffix == ".toml" else "") + "[" * 99_999 + "]" * 99_999)
    elif kind == "fifo":
        os.mkfifo(file)
    else:
        file = tmp_path / ("X" * 300 + file.suffix)
    if cli == "training.sweep":
        argv = ["--config", str(file), "--grid", "lr=1e-3,2e-3", "--out", str(tmp_path / "out")]
        code = run_main(training.sweep.main, argv)
    else:
        code = run_main(training.experiments.main, ["--suite", str(file), "--status"])
    err = capsys.readouterr().err
    words = {"deep": "nested", "fifo": "not a regular file", "too long": "path too long"}[kind]
    assert code == 2 and err.count("\n") == 1 and words in err and "usage" not in err, err
    assert not (tmp_path / "out").exists()
