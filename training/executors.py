"""Where the suite's jobs run: the command one job runs, its log file, and local child processes.

`training/experiments.py` schedules the jobs through an `Executor`; `LocalExecutor` (here) runs
each as a child process, `training/suite_ray.py`'s `RayExecutor` as a Ray task. Both run the same
command, `python -m training.experiments --job KEY`, and append its output to the run's job.log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

from training.suite import RunKey, Suite


class Executor(Protocol):
    """Where jobs run: local child processes or a Ray cluster."""

    slots: int  # jobs at once
    running: dict[RunKey, object]

    def submit(self, key: RunKey) -> None: ...

    def finished(self, timeout: float) -> list[tuple[RunKey, int]]:
        """Jobs that ended within `timeout` seconds, with their exit status."""
        ...


def job_command(suite_path: str, key: RunKey, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "training.experiments",
        "--suite",
        suite_path,
        "--job",
        str(key),
        "--threads",
        str(threads),
    ]


def log_path(suite: Suite, key: RunKey) -> Path:
    return suite.run_dir(key) / "job.log"


class LocalExecutor:
    """Runs each job as a child process of this one."""

    def __init__(self, suite: Suite, suite_path: str, threads: int, jobs: int) -> None:
        self.suite, self.suite_path, self.threads, self.slots = suite, suite_path, threads, jobs
        self.env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        self.running: dict[RunKey, subprocess.Popen[bytes]] = {}

    def submit(self, key: RunKey) -> None:
        log = log_path(self.suite, key)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as fh:
            self.running[key] = subprocess.Popen(
                job_command(self.suite_path, key, self.threads),
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )

    def finished(self, timeout: float) -> list[tuple[RunKey, int]]:
        time.sleep(timeout)
        done = [(k, p.returncode) for k, p in self.running.items() if p.poll() is not None]
        for k, _ in done:
            del self.running[k]
        return done
