"""training.distributed.exit_process: after a process group, leave without finalising the
interpreter (gloo's threads race it, see its docstring), yet lose no output and keep the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = """
import atexit, sys
import training.distributed as d
d._process_group_used = {used}
atexit.register(lambda: print(" finalised", end=""))
print("buffered output", end="")  # a pipe is block-buffered: lost by a bare os._exit
print("and stderr", end="", file=sys.stderr)
d.exit_process(3)
"""


@pytest.mark.parametrize("used", [True, False])
def test_exit_process_flushes_and_keeps_the_exit_code(used):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(used=used)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3
    assert done.stderr == "and stderr"
    # after a process group the interpreter is not finalised (atexit handlers do not run)
    assert done.stdout == ("buffered output" if used else "buffered output finalised")
