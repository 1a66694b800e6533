"""Run the suite's jobs on a Ray cluster: `python -m training.experiments --ray auto`.

Each job is the same command the local executor runs (`python -m training.experiments --job ...`),
executed by a Ray task that reserves `threads` CPUs, in the directory the driver runs from. The
workers must see that directory (one machine, or a shared filesystem), as runs write their
checkpoints and summaries there. Ray is optional (requirements-ray.txt); nothing else imports it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from training.executors import job_command, log_path
from training.suite import RunKey, Suite


def _run_job(cwd: str, cmd: list[str], env: dict[str, str], log: str) -> int:
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        return subprocess.run(
            cmd, cwd=cwd, env={**os.environ, **env}, stdout=fh, stderr=subprocess.STDOUT
        ).returncode


class RayExecutor:
    def __init__(
        self, suite: Suite, suite_path: str, threads: int, address: str, jobs: int | None = None
    ) -> None:
        import ray  # optional dependency: ImportError is reported by the CLI

        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False)
        self.suite, self.suite_path, self.threads = suite, suite_path, threads
        cpus = int(ray.cluster_resources().get("CPU", 1))
        # jobs=1 (the CLI default) means "as many as the cluster holds"
        self.slots = max(1, cpus // threads) if not jobs or jobs == 1 else jobs
        self.remote = ray.remote(num_cpus=threads)(_run_job)
        self.running: dict[RunKey, Any] = {}
        self._by_ref: dict[Any, RunKey] = {}

    def submit(self, key: RunKey) -> None:
        ref = self.remote.remote(
            str(Path.cwd()),
            job_command(self.suite_path, key, self.threads),
            {"OMP_NUM_THREADS": str(self.threads)},
            str(log_path(self.suite, key).resolve()),
        )
        self.running[key] = ref
        self._by_ref[ref] = key

    def finished(self, timeout: float) -> list[tuple[RunKey, int]]:
        refs = list(self.running.values())
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=timeout)
        out = []
        for ref in ready:
            key = self._by_ref.pop(ref)
            del self.running[key]
            try:
                code = int(self.ray.get(ref))
            except Exception:  # the task itself failed (worker died): a failed run
                code = 1
            out.append((key, code))
        return out
