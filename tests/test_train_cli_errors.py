"""`python -m training.train` as a careless user meets it: every mistake is one line on stderr that
names the field or file, exit status 2 (1 for a failed save), never a traceback; an earlier run is
never replaced by accident; a killed save or metrics rewrite leaves nothing broken behind."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

import model.checkpoint
import training.metrics
import training.train
from model.checkpoint import load_checkpoint
from tests.test_training import MODEL, tiny_run
from training.config import RunConfig
from training.metrics import MetricsLog, read_metrics


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def config_file(tmp_path: Path, **train_fields) -> Path:
    run = tiny_run(tmp_path, max_steps=2, checkpoint_interval=2, eval_interval=2, **train_fields)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run.to_dict()))
    return path


def refused(argv: list[str], capsys) -> tuple[int, str]:
    """Run the CLI; return (exit status, the error line), which must be the last line and the
    only other lines our own status ("resuming ..."): no progress bar of a corpus read above it."""
    try:
        code = training.train.main(argv)
    except SystemExit as e:  # argparse's own exit
        code = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert "error:" in lines[-1], err
    assert all(line.startswith("resuming ") for line in lines[:-1]), err
    return code, lines[-1]


def edit_run(path: Path, section: str, **changes) -> None:
    data = json.loads(path.read_text())
    data[section] |= changes
    path.write_text(json.dumps(data))


# --- bad configs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section, field, value",
    [
        ("train", "max_steps", 20.0),
        ("train", "lr", "1e-3"),
        ("train", "beta1", 2.0),
        ("train", "lr", -1e-3),
        ("train", "threads", -1),
        ("train", "eval_max_tokens", 0),
        ("model", "causal_mask", "false"),
        ("model", "ln_eps", -1e-5),
        ("model", "n_layers", 100_000),
    ],
)
def test_a_bad_config_value_is_one_line_naming_the_field(section, field, value, tmp_path, capsys):
    path = config_file(tmp_path)
    edit_run(path, section, **{field: value})
    code, err = refused(["--config", str(path)], capsys)
    assert code == 2 and f".{field}" in err and "error:" in err


def test_a_missing_corpus_is_one_line(tmp_path, capsys):
    path = config_file(tmp_path, corpus=str(tmp_path / "nowhere.txt"))
    code, err = refused(["--config", str(path)], capsys)
    assert code == 2 and "nowhere.txt" in err


def test_a_context_longer_than_the_corpus_is_one_line(tmp_path, capsys):
    path = config_file(tmp_path)
    code, err = refused(["--config", str(path), "--n_ctx", "20000"], capsys)
    assert code == 2 and "n_ctx=20000 is longer than the" in err and "train split" in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


# --- an earlier run in out_dir -----------------------------------------------------------------


def test_an_earlier_run_is_not_replaced_without_overwrite(tmp_path, capsys):
    path = config_file(tmp_path)
    assert training.train.main(["--config", str(path)]) == 0
    capsys.readouterr()
    before = (tmp_path / "run/metrics.jsonl").read_bytes()

    code, err = refused(["--config", str(path), "--max_steps", "1"], capsys)
    assert code == 2 and "already holds a run" in err and "--overwrite" in err
    assert (tmp_path / "run/metrics.jsonl").read_bytes() == before
    assert load_checkpoint(tmp_path / "run/checkpoint").meta["step"] == 2

    assert training.train.main(["--config", str(path), "--max_steps", "1", "--overwrite"]) == 0
    assert load_checkpoint(tmp_path / "run/checkpoint").meta["step"] == 1
    assert [r["step"] for r in read_metrics(tmp_path / "run/metrics.jsonl")] == [1]


def test_metrics_alone_count_as_an_earlier_run(tmp_path, capsys):
    path = config_file(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run/metrics.jsonl").write_text('{"step": 300}\n')
    code, err = refused(["--config", str(path)], capsys)
    assert code == 2 and "metrics.jsonl" in err


def test_leftovers_of_a_killed_save_are_removed_at_the_next_start(tmp_path):
    path = config_file(tmp_path)
    assert training.train.main(["--config", str(path)]) == 0
    leftover = tmp_path / "run/.checkpoint.k1ll3d_x"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half a save")
    assert training.train.main(["--config", str(path), "--max_steps", "4", "--resume"]) == 0
    assert not leftover.exists()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint", "metrics.jsonl"]


# --- failed resumes ----------------------------------------------------------------------------


def _truncate_weights(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])


RESUME_DAMAGE = {
    "corrupt checkpoint": (_truncate_weights, [], "model.safetensors"),
    "missing optimizer file": (
        lambda f: (f / "optimizer.safetensors").unlink(),
        [],
        "optimizer.safetensors: missing",
    ),
    "missing weights": (lambda f: (f / "model.safetensors").unlink(), [], "model.safetensors"),
    "changed config": (lambda f: None, ["--n_layers", "3"], "n_layers 2 -> 3"),
    "bad meta": (lambda f: (f / "meta.json").write_text("[]"), [], "meta.json"),
}


@pytest.mark.parametrize("case", list(RESUME_DAMAGE))
def test_a_failed_resume_is_one_line_naming_the_file(case, tmp_path, capsys):
    damage, flags, words = RESUME_DAMAGE[case]
    path = config_file(tmp_path)
    assert training.train.main(["--config", str(path)]) == 0
    capsys.readouterr()
    damage(tmp_path / "run/checkpoint")
    code, err = refused(["--config", str(path), "--max_steps", "4", "--resume", *flags], capsys)
    assert code == 2 and words in err and "resum" in err


# --- a failed save -----------------------------------------------------------------------------


def test_a_full_disk_ends_in_one_line_and_keeps_the_last_checkpoint(tmp_path, capsys, monkeypatch):
    path = config_file(tmp_path)
    assert training.train.main(["--config", str(path)]) == 0
    capsys.readouterr()

    def full_disk(*args, **kwargs):
        raise SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No '
            'space left on device" })'
        )

    monkeypatch.setattr(model.checkpoint, "save_file", full_disk)
    code, err = refused(["--config", str(path), "--max_steps", "4", "--resume"], capsys)
    assert code == 1 and "saving step 4 failed" in err and "No space left on device" in err
    assert "previous checkpoint is kept" in err
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "run/checkpoint").meta["step"] == 2


# --- the metrics log ---------------------------------------------------------------------------


def test_truncating_the_metrics_log_replaces_the_file_whole(tmp_path, monkeypatch):
    """The rewrite goes to a temporary file renamed over the log, so a kill during it leaves the
    rename either undone (every record) or done (the kept ones), never a log cut short."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in range(1, 31):
        log.write({"step": step, "loss": 1.0 / step})

    def killed(*args):
        raise KeyboardInterrupt  # stands for a kill just before the rename

    monkeypatch.setattr(training.metrics.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        log.truncate_after(10)
    assert [r["step"] for r in read_metrics(log.path)] == list(range(1, 31))
    monkeypatch.undo()

    log.truncate_after(10)
    assert [r["step"] for r in read_metrics(log.path)] == list(range(1, 11))
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]  # the new file took its place


def test_the_model_in_these_tests_has_two_layers():
    """`changed config` above edits n_layers from this value."""
    assert MODEL.n_layers == 2


# --- refused before anything is written --------------------------------------------------------


def nothing_written(tmp_path: Path) -> bool:
    return not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("deep.json", "[" * 200_000 + "]" * 200_000, "nested 200,000 levels deep"),
        ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested 100,000 levels"),
        ("list.json", '{"model": [1, 2]}', "[model] must be a table of fields, got a list"),
        ("list.toml", "model = [1, 2]\n", "[model] must be a table of fields, got a list"),
        ("top.json", "[1, 2]", "a run config is a table"),
        ("big.json", " " * (2**20 + 1), "over the 1,048,576 this file may have"),
    ],
)
def test_a_hostile_config_file_is_one_line(name, content, words, tmp_path, capsys):
    path = tmp_path / name
    path.write_text(content)
    code, err = refused(["--config", str(path)], capsys)
    assert code == 2 and words in err and name in err


def test_a_config_path_too_long_is_one_line(tmp_path, capsys):
    code, err = refused(["--config", str(tmp_path / ("X" * 300 + ".toml"))], capsys)
    assert code == 2 and "path too long" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_config_is_refused_not_waited_on(tmp_path, capsys):
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    result: list[object] = []
    worker = threading.Thread(
        target=lambda: result.append(refused(["--config", str(fifo)], capsys)), daemon=True
    )
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "w"):
            pass
        pytest.fail("reading a named pipe as a config blocked")
    code, err = result[0]
    assert code == 2 and "not a regular file" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_before_anything_is_written(tmp_path, capsys):
    path = config_file(tmp_path)
    code, err = refused(["--config", str(path), "--device", "cuda"], capsys)
    assert code == 2 and "no CUDA device" in err
    assert nothing_written(tmp_path)


@pytest.mark.parametrize("field", ["out_dir", "cache_dir"])
def test_a_folder_that_is_a_file_is_refused_before_anything_is_written(field, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    path = config_file(tmp_path)
    code, err = refused(["--config", str(path), f"--{field}", str(taken)], capsys)
    assert code == 2 and field in err and "names an existing file" in err
    assert nothing_written(tmp_path) and taken.read_text() == "a file"


def test_a_holdout_larger_than_the_split_is_refused_before_the_cache(tmp_path, capsys):
    path = config_file(tmp_path)
    code, err = refused(["--config", str(path), "--holdout_tokens", "100000000"], capsys)
    assert code == 2 and "holdout_tokens=100000000 leaves too little" in err
    assert nothing_written(tmp_path)


def test_a_validation_character_missing_from_training_is_refused_before_the_cache(tmp_path, capsys):
    corpus = tmp_path / "odd.txt"
    corpus.write_text("the cat sat on the mat.\n" * 60 + "ZZZZZ\n")  # Z only in the last 10%
    path = config_file(tmp_path, corpus=str(corpus))
    code, err = refused(["--config", str(path)], capsys)
    assert code == 2 and "'Z'" in err
    assert nothing_written(tmp_path)


def test_resume_and_overwrite_together_are_refused(tmp_path, capsys):
    path = config_file(tmp_path)
    code, err = refused(["--config", str(path), "--resume", "--overwrite"], capsys)
    assert code == 2 and "--resume" in err and "--overwrite" in err
    assert nothing_written(tmp_path)
    with pytest.raises(training.train.RunRefused, match="give one"):
        training.train.train(
            RunConfig.from_dict(json.loads(path.read_text())), True, overwrite=True
        )


def test_resuming_recovers_a_checkpoint_an_interrupted_save_moved_aside(tmp_path, capsys):
    """Loading never moves folders; the writer does: a run's start puts .checkpoint.old back."""
    path = config_file(tmp_path)
    assert training.train.main(["--config", str(path)]) == 0
    (tmp_path / "run/checkpoint").rename(tmp_path / "run/.checkpoint.old")
    assert training.train.main(["--config", str(path), "--max_steps", "4", "--resume"]) == 0
    assert "resuming" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "run/checkpoint").meta["step"] == 4
    assert not (tmp_path / "run/.checkpoint.old").exists()
