"""The app's training runs: one worker process per browser session, watched through a lock.

Processes, not threads, by measurement (bench/bench_train_page.py, 2 cores under a load of 11-14,
each run beside a CLI run of the same config): with the worker a thread of the server, the Train
page's reruns took 0.120 s (median) against 0.076 s with a process, Explore's 0.309 s against
0.263 s, and the run's throughput was 0.98x the CLI's against 1.23x: the thread shares the
server's GIL with every rerun. A process also keeps `torch.set_num_threads` (process-wide) to
itself, is killed cleanly, and `training.live_worker` stops it by itself (keeping a checkpoint)
when the server dies, so no orphan outlives it.

A `LiveRun` is shared by the page's reruns and its once-a-second fragment: its `progress()` reads
only what the worker appended to metrics.jsonl since the last call, under the run's lock. The
`Registry` keys runs by session and caps how many train at once on this server. Nothing here
imports Streamlit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from analysis.snapshot_capture import StepCapture, capture_from
from training.live_worker import HEARTBEAT, LIVE, LIVE_INDEX, SPEC, STATE, STOP, LiveSpec
from training.snapshot_format import SnapshotError, SnapshotIndex

REPO = Path(__file__).resolve().parents[1]
MAX_RUNS_ENV = "ATTENTION_LAB_MAX_RUNS"  # concurrent runs per server
DEFAULT_MAX_RUNS = 2  # this machine has two cores; a third run would only slow the other two
WORK = ".work"  # runs in progress, under the user-runs root (hidden from the model picker)
SAVED_FILES = ("model.safetensors", "config.json", "tokenizer.json", "meta.json")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class TooManyRuns(RuntimeError):
    """The server already trains its maximum number of runs."""


@dataclass(frozen=True)
class Progress:
    """Where a run stands, as the page draws it (plain data: safe to use outside the lock)."""

    state: str  # worker.json's state, or "exited" for a worker gone without one
    step: int
    max_steps: int
    curve: tuple[dict[str, Any], ...]  # metrics.jsonl records: step, train_loss, val_loss, ...
    message: str = ""
    why_stopped: str = ""
    tokens_per_s: float | None = None

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running")


@dataclass
class LiveRun:
    run_dir: Path
    spec: LiveSpec
    proc: subprocess.Popen[bytes] | None = None
    thread: bool = False  # a thread of this process instead (only the benchmark's comparison)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _offset: int = 0
    _curve: list[dict[str, Any]] = field(default_factory=list)

    @property
    def max_steps(self) -> int:
        return self.spec.run.train.max_steps

    def start(self, resume: bool = False) -> None:
        with self._lock:
            if self._alive():
                said = (_read_json(self.run_dir / STATE) or {}).get("state")
                if said in (None, "starting", "running"):
                    return  # still training
                if self.proc is not None:  # it has said how it ended and is exiting
                    self.proc.wait(timeout=60)
                elif self._thread is not None:
                    self._thread.join(timeout=60)
            (self.run_dir / STOP).unlink(missing_ok=True)
            (self.run_dir / STATE).unlink(missing_ok=True)
            self._touch()
            # a resumed run rewrites metrics.jsonl from its checkpoint's step: read it afresh
            self._offset, self._curve = 0, []
            if self.thread:
                self._start_thread(resume)
                return
            args = [sys.executable, "-m", "training.live_worker", str(self.run_dir)]
            log = open(self.run_dir / "worker.log", "ab")  # noqa: SIM115 - the child owns it
            self.proc = subprocess.Popen(
                [*args, "--resume"] if resume else args,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()

    def _start_thread(self, resume: bool) -> None:
        from training.live_worker import run_live, write_json

        def work() -> None:
            state = run_live(self.run_dir, resume, own_process=False)
            write_json(self.run_dir / STATE, dataclasses.asdict(state))

        self._thread = threading.Thread(target=work, daemon=True, name="live-run")
        self._thread.start()

    def stop(self) -> None:
        (self.run_dir / STOP).touch()

    def alive(self) -> bool:
        with self._lock:
            return self._alive()

    def _alive(self) -> bool:
        if self._thread is not None:
            return self._thread.is_alive()
        return self.proc is not None and self.proc.poll() is None

    def heartbeat(self) -> None:
        """The page is looking: the worker stops itself when this is not renewed in time."""
        with self._lock:
            self._touch()

    def _touch(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / HEARTBEAT).touch()

    def progress(self) -> Progress:
        with self._lock:
            self._read_new_records()
            state = _read_json(self.run_dir / STATE) or {}
            alive = self._alive()
            name = state.get("state", "starting" if alive else "exited")
            if not alive and name in ("starting", "running"):
                name = "exited"  # killed without a word: its last checkpoint is what is left
            curve = tuple(self._curve)
        last = next((r for r in reversed(curve) if "tokens_per_s" in r), {})
        step = max([int(state.get("step", 0))] + [int(r.get("step", 0)) for r in curve])
        return Progress(
            name,
            step,
            self.max_steps,
            curve,
            str(state.get("message", "")),
            str(state.get("why_stopped", "")),
            last.get("tokens_per_s"),
        )

    def _read_new_records(self) -> None:
        path = self.run_dir / "metrics.jsonl"
        try:
            with path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return
        if not chunk:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written waits for the next read
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                # a resumed run rewrites the records after its checkpoint
                self._curve = [r for r in self._curve if r["step"] < record["step"]]
                self._curve.append(record)

    def live_capture(self) -> StepCapture | None:
        """The probe prompt at the latest evaluation (None before the first, or mid-write)."""
        try:
            index = SnapshotIndex.from_json(json.loads((self.run_dir / LIVE_INDEX).read_text()))
            arrays = {k: v.astype(np.float32) for k, v in load_file(self.run_dir / LIVE).items()}
            cap = capture_from(arrays, index)
        except (OSError, ValueError, SafetensorError, SnapshotError):
            return None
        if cap.patterns is not None and cap.patterns.shape[-1] != len(cap.tokens):
            return None  # the index and the arrays of two different evaluations
        return StepCapture(index.steps[0], cap, tuple(arrays), index.prompt)

    def checkpoint(self) -> Path:
        return self.run_dir / "checkpoint"

    def save_as(self, name: str, root: Path) -> Path:
        """Copy the last checkpoint (weights, config, tokenizer, meta), its metrics and snapshots
        into root/name: a model folder the pickers list. Refuses a bad or taken name."""
        if not NAME.fullmatch(name):
            raise ValueError(
                f"{name!r}: a model name is 1-64 letters, digits, '_', '-' or '.', "
                "starting with a letter or digit"
            )
        target = root / name
        if target.exists():
            raise ValueError(f"a model called {name!r} already exists: pick another name")
        src = self.checkpoint()
        if not (src / "model.safetensors").is_file():
            raise ValueError("this run has no checkpoint yet: stop it or let it finish first")
        tmp = root / f".{name}.saving"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for file in SAVED_FILES:
            shutil.copy2(src / file, tmp / file)
        meta = _read_json(tmp / "meta.json") or {}
        (tmp / "meta.json").write_text(json.dumps({**meta, "name": name}, indent=1))  # its label
        for log in ("metrics.jsonl", "measurements.jsonl"):  # the curve, the phase-change rule's
            if (self.run_dir / log).is_file():
                shutil.copy2(self.run_dir / log, tmp / log)
        if (self.run_dir / "snapshots").is_dir():
            shutil.copytree(self.run_dir / "snapshots", tmp / "snapshots")
        os.replace(tmp, target)
        return target


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def max_runs() -> int:
    try:
        return max(1, int(os.environ.get(MAX_RUNS_ENV, DEFAULT_MAX_RUNS)))
    except ValueError:
        return DEFAULT_MAX_RUNS


class Registry:
    """Every session's run on this server; one lock guards the table."""

    def __init__(self, root: Path, thread: bool = False) -> None:
        self.root, self.thread = root, thread
        self._lock = threading.Lock()
        self._runs: dict[str, LiveRun] = {}

    def get(self, session: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(session)

    def active_count(self) -> int:
        with self._lock:
            return sum(run.alive() for run in self._runs.values())

    def start(self, session: str, spec: LiveSpec) -> LiveRun:
        """A fresh run for this session (its earlier one, if any, must have ended)."""
        with self._lock:
            mine = self._runs.get(session)
            if mine is not None and mine.alive():
                raise TooManyRuns("this session's run is still training: stop it first")
            busy = sum(run.alive() for run in self._runs.values())
            if busy >= max_runs():
                raise TooManyRuns(
                    f"this server already trains {busy} run(s), its limit "
                    f"({MAX_RUNS_ENV}={max_runs()}): wait for one to finish or stop yours"
                )
            if mine is not None:  # its unsaved work goes (Save copied anything kept)
                shutil.rmtree(mine.run_dir, ignore_errors=True)
            run_dir = Path(spec.run.train.out_dir)
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            (run_dir / SPEC).write_text(json.dumps(spec.to_json(), indent=1))
            run = LiveRun(run_dir, spec, thread=self.thread)
            self._runs[session] = run
        run.start()
        return run

    def resume(self, session: str) -> LiveRun:
        with self._lock:
            run = self._runs.get(session)
            if run is None:
                raise ValueError("this session has no run to resume")
            busy = sum(r.alive() for r in self._runs.values() if r is not run)
            if not run.alive() and busy >= max_runs():
                raise TooManyRuns(f"this server already trains {busy} run(s), its limit")
        run.start(resume=True)
        return run

    def work_dir(self, session: str) -> Path:
        return (
            self.root
            / WORK
            / re.sub(r"[^A-Za-z0-9_-]", "_", session)[:64]
            / str(int(time.time() * 1000))
        )
