"""One run started from the app's Train page, in a process of its own:

    python -m training.live_worker RUN_DIR [--resume]

RUN_DIR/live.json (`LiveSpec`) says what to train; the run is `training.train.train` itself, the
CLI's loop and resume, with two callbacks: a snapshot of the probe prompt at every evaluation
(live.safetensors, overwritten: the page's grid) and at the measurement steps (snapshots/, the
scrubber's series), and a stop check. The worker stops, keeping a checkpoint of the steps done,
when any of these happens:

    RUN_DIR/STOP exists                    the page's Stop button
    RUN_DIR/heartbeat older than the spec's timeout   the tab was closed (the page touches it)
    the parent process is gone             the server died, even by SIGKILL (we are reparented)
    SIGTERM, SIGINT or SIGHUP              the server's shutdown, Ctrl-C on its terminal

RUN_DIR/worker.json (`WorkerState`) says where the run stands; metrics.jsonl is the loop's own.
This module never imports Streamlit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from safetensors.numpy import save_file

from model.build import LanguageModel
from training.config import RunConfig
from training.distributed import exit_process
from training.prepare import prepare_data
from training.snapshots import SnapshotWriter, index_for, snapshot_arrays, write_index
from training.train import RunRefused, SaveFailed, train

SPEC = "live.json"
STATE = "worker.json"
STOP = "STOP"
HEARTBEAT = "heartbeat"
LIVE = "live.safetensors"  # the probe at the latest evaluation, for the page's grid
LIVE_INDEX = "live_index.json"  # its SnapshotIndex (steps: that evaluation's)
State = Literal["starting", "running", "stopped", "completed", "diverged", "failed"]
CHECK_EVERY_S = 0.2  # the stop check's file reads are rate-limited to this


@dataclass(frozen=True)
class LiveSpec:
    run: RunConfig  # out_dir is RUN_DIR
    probe_prompt: str
    heartbeat_timeout_s: float = 120.0

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "probe_prompt": self.probe_prompt,
            "heartbeat_timeout_s": self.heartbeat_timeout_s,
        }

    @classmethod
    def from_json(cls, data: Any) -> LiveSpec:
        if not isinstance(data, dict) or not isinstance(data.get("probe_prompt"), str):
            raise ValueError(f"{SPEC}: expected run, probe_prompt and heartbeat_timeout_s")
        timeout = data.get("heartbeat_timeout_s", 120.0)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"{SPEC}: heartbeat_timeout_s must be a positive number")
        return cls(RunConfig.from_dict(data.get("run")), data["probe_prompt"], float(timeout))


@dataclass(frozen=True)
class WorkerState:
    state: State
    pid: int
    step: int = 0
    message: str = ""
    why_stopped: str = ""  # "stop button", "heartbeat", "parent exited", "signal 15", ...


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class StopCheck:
    """The loop's `should_stop`: true once any stop condition holds, and it says which."""

    def __init__(self, run_dir: Path, timeout_s: float, own_process: bool = True) -> None:
        self.run_dir, self.timeout_s = run_dir, timeout_s
        self.parent = os.getppid()
        self.reason = ""
        self._next_check = 0.0
        if own_process:  # a worker thread (the benchmark's comparison) leaves signals alone
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.reason = self.reason or f"signal {signum}"

    def __call__(self) -> bool:
        if self.reason:
            return True
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + CHECK_EVERY_S
        if os.getppid() != self.parent:
            self.reason = "parent exited"
        elif (self.run_dir / STOP).exists():
            self.reason = "stop button"
        else:
            try:
                age = time.time() - (self.run_dir / HEARTBEAT).stat().st_mtime
            except OSError:
                age = 0.0  # no heartbeat file: a run started outside the app
            if age > self.timeout_s:
                self.reason = f"no page has looked at it for {age:.0f} s"
        return bool(self.reason)


def run_live(run_dir: Path, resume: bool, own_process: bool = True) -> WorkerState:
    spec = LiveSpec.from_json(json.loads((run_dir / SPEC).read_text()))
    run = spec.run
    if Path(run.train.out_dir).resolve() != run_dir.resolve():
        raise ValueError(f"{SPEC}: out_dir {run.train.out_dir} is not {run_dir}")
    stop = StopCheck(run_dir, spec.heartbeat_timeout_s, own_process)
    pid = os.getpid()
    write_json(run_dir / STATE, dataclasses.asdict(WorkerState("starting", pid)))
    data = prepare_data(run)
    n_ctx = run.model.n_ctx
    writer = SnapshotWriter(run_dir, data.tokenizer, spec.probe_prompt, n_ctx)
    if resume:
        from model.checkpoint import load_checkpoint

        writer.resume_at(int(load_checkpoint(run_dir / "checkpoint").meta["step"]))

    def on_eval(step: int, model: LanguageModel) -> dict[str, Any]:
        arrays, cap, detectors = snapshot_arrays(model, data.tokenizer, writer.ids)
        index = index_for(spec.probe_prompt, cap, arrays, detectors, (step,))
        # index first: a reader that sees the new arrays finds labels that fit them
        write_index(index, run_dir / LIVE_INDEX)
        save_file(arrays, str(run_dir / (LIVE + ".tmp")))
        os.replace(run_dir / (LIVE + ".tmp"), run_dir / LIVE)
        write_json(run_dir / STATE, dataclasses.asdict(WorkerState("running", pid, step)))
        return {}

    result = train(
        run,
        resume=resume,
        on_eval=on_eval,
        overwrite=not resume,
        should_stop=stop,
        on_measure=lambda step, model: writer(step, model) or {},
    )
    return WorkerState(result.status, pid, result.step, result.message, stop.reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train one run of the app's Train page.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true", help="continue from its checkpoint")
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir
    try:
        state = run_live(run_dir, args.resume)
    except (RunRefused, SaveFailed, ValueError, OSError) as e:
        state = WorkerState("failed", os.getpid(), message=f"{type(e).__name__}: {e}")
    write_json(run_dir / STATE, dataclasses.asdict(state))
    print(
        f"{state.state} at step {state.step}: {state.message or state.why_stopped}", file=sys.stderr
    )
    return 0 if state.state != "failed" else 1


if __name__ == "__main__":
    exit_process(main())
