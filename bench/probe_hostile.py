"""Re-run every hostile family of the hardening passes through every surface; print "N/N clean".

    python bench/probe_hostile.py [--light]    # --light: without the 60 MB header and 300 MB config

The cases are fixtures/hostile_cases.py's (the tests use the same table), built in a temporary folder
and deleted afterwards; nothing large is ever written into the repository. Surfaces:

- api     load_checkpoint in a fresh process: a CheckpointError with the case's words.
- cli     python -m training.evaluate / training.lambada / views.export_cli for every checkpoint
          case, and python -m training.train for every training case: exit status 2, exactly one
          line on stderr with the case's words, no traceback. One process per command pays the
          imports once and forks a child per case, which runs the module as `python -m` would
          (runpy, __main__): the exit status is the real entry point's.
- app     the Explore page (Streamlit's AppTest) with the case typed as a checkpoint folder: one
          specific message, no exception, and the page still loads a good model afterwards.
- reads   the whole folder tree (names, sizes, mtimes, modes) is the same after every probe.

Time is the wall time of the refusal (for a CLI, of the forked child); memory, in the API and the
app, is the peak resident set above the process's own just before the probe (VmHWM, reset through
/proc/self/clear_refs). The bars: the 60 MB header and the 300 MB config refused in under a second
with under 100 MB above the baseline, in the API and the app (there, the time beyond what the page
spends refusing a missing folder, which is measured first); a CLI, in under a second too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixtures.hostile_cases import (  # noqa: E402
    CHECKPOINT_CASES,
    TRAIN_CASES,
    build_case,
    good_checkpoint,
    snapshot_tree,
)

SECONDS_BAR, MB_BAR = 1.0, 100.0
CHILD_TIMEOUT = 60.0  # a probe still running after this is reported as blocked
PAGE_SECONDS = [0.0]  # the app's page run refusing a missing folder, set by app_rows

_MEMORY = """
def _kib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1])

def reset_peak():
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
"""

API = (
    _MEMORY
    + """
import json, sys, time
import torch
torch.set_num_threads(1)
from model.checkpoint import CheckpointError, load_checkpoint
load_checkpoint(sys.argv[1])  # first use: imports and lazy set-up are not the probes' cost
out = {}
for path in json.load(sys.stdin):
    reset_peak()
    base, start = _kib("VmRSS:"), time.perf_counter()
    try:
        load_checkpoint(path, extras=True)
        outcome = "LOADED"
    except CheckpointError as e:
        outcome = str(e)
    except BaseException as e:
        outcome = f"UNEXPECTED {type(e).__name__}: {e}"[:400]
    out[path] = [outcome, time.perf_counter() - start, (_kib("VmHWM:") - base) / 1024]
print(json.dumps(out))
"""
)

FORKING = (
    _MEMORY
    + """
import importlib, json, os, runpy, signal, sys, tempfile, time, traceback
module = sys.argv[1]
# the imports, paid once: the module's dependencies stay loaded, the module itself is run afresh
# in each child as `python -m` runs it
for name in ("torch", "model.checkpoint", module):
    importlib.import_module(name)
del sys.modules[module]
out = {}
for name, argv, cwd in json.load(sys.stdin):
    err = tempfile.TemporaryFile()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(err.fileno(), 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.chdir(cwd)
        sys.argv = [module, *argv]
        code = 0
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, (int, type(None))):
                print(e.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() - start > %(timeout)s:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            code, usage = "blocked", None
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    out[name] = [code, text, seconds, None]  # a forked child's peak is not comparable
print(json.dumps(out))
"""
) % {"timeout": CHILD_TIMEOUT}

APP = (
    _MEMORY
    + """
import json, sys, time
from streamlit.testing.v1 import AppTest
app, paths = sys.argv[1], json.load(sys.stdin)
at = AppTest.from_file(app, default_timeout=120).run()
at.selectbox(key="explore_model").set_value("Other folder…").run()
out = {}
for path in ["does_not_exist", *paths]:  # the first: the page's own cost of a refusal
    reset_peak()
    base, start = _kib("VmRSS:"), time.perf_counter()
    at.text_input(key="explore_path").input(path).run()
    seconds, mb = time.perf_counter() - start, (_kib("VmHWM:") - base) / 1024
    out[path] = [[e.value for e in at.error], [str(x.value) for x in at.exception], seconds, mb]
at.selectbox(key="explore_model").set_value(at.selectbox(key="explore_model").options[0]).run()
out["recovered"] = not at.exception and any(m.label.startswith("Loss") for m in at.metric)
print(json.dumps(out))
"""
)


def _python(script: str, args: list[str], stdin: object, cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        input=json.dumps(stdin),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def api_rows(cases: dict, paths: dict, good: Path, cwd: Path) -> list[tuple]:
    results = _python(API, [str(good)], [str(p) for p in paths.values()], cwd)
    rows = []
    for name, path in paths.items():
        outcome, seconds, mb = results[str(path)]
        ok = cases[name].words in outcome and not outcome.startswith(("LOADED", "UNEXPECTED"))
        ok = ok and _within_bars(cases[name], seconds, mb)
        rows.append(("api", name, ok, seconds, mb, outcome))
    return rows


def _within_bars(case: object, seconds: float, mb: float | None) -> bool:
    if not getattr(case, "measured", False):
        return seconds < 5.0  # every refusal is quick; only the measured ones carry the bars
    return seconds < SECONDS_BAR and (mb is None or mb < MB_BAR)  # a CLI child: time only


def _one_line(code: object, err: str, words: str) -> tuple[bool, str]:
    lines = [line for line in err.splitlines() if line.strip()]
    ok = code == 2 and len(lines) == 1 and words in lines[0] and "Traceback" not in err
    shown = lines[-1] if lines else f"(nothing on stderr, exit {code})"
    return ok, f"exit {code}: {shown}" if not ok else shown


def cli_rows(cases: dict, paths: dict, cwd: Path) -> list[tuple]:
    rows = []
    clis = {
        "training.evaluate": [],
        "training.lambada": [],
        "views.export_cli": ["--prompt", "To be", "--out", str(cwd / "export_out")],
    }
    for module, extra in clis.items():
        jobs = [
            [name, ["--checkpoint", str(path), *extra], str(cwd)]
            for name, path in paths.items()
            if cases[name].in_argv
        ]
        results = _python(FORKING, [module], jobs, cwd)
        for name, (code, err, seconds, mb) in results.items():
            ok, shown = _one_line(code, err, cases[name].words)
            rows.append(
                (module, name, ok and _within_bars(cases[name], seconds, mb), seconds, mb, shown)
            )
    return rows


def train_rows(root: Path) -> list[tuple]:
    import torch

    jobs, folders = [], {}
    for i, case in enumerate(TRAIN_CASES):
        if case.name == "device cuda" and torch.cuda.is_available():
            continue
        folder = root / f"train{i}"
        folder.mkdir()
        folders[case.name] = folder
        jobs.append([case.name, case.build(folder), str(folder)])
    results = _python(FORKING, ["training.train"], jobs, root)
    rows = []
    for case in TRAIN_CASES:
        if case.name not in results:
            continue
        code, err, seconds, mb = results[case.name]
        ok, shown = _one_line(code, err, case.words)
        folder = folders[case.name]
        wrote = (folder / "cache").exists() or (folder / "run").exists()
        if case.writes_nothing and wrote:
            ok, shown = False, f"wrote before refusing: {shown}"
        rows.append(("training.train", case.name, ok and seconds < 30, seconds, mb, shown))
    return rows


def app_rows(cases: dict, paths: dict, cwd: Path) -> list[tuple]:
    results = _python(APP, [str(REPO / "app.py")], [str(p) for p in paths.values()], cwd)
    page_seconds = results["does_not_exist"][2]  # what any refusal costs the page
    PAGE_SECONDS[:] = [page_seconds]
    rows = []
    for name, path in paths.items():
        errors, exceptions, seconds, mb = results[str(path)]
        message = " ".join(errors) or "; ".join(exceptions) or "(no message)"
        ok = (
            len(errors) == 1
            and not exceptions
            and cases[name].words in errors[0]
            and "Something went wrong" not in errors[0]
        )
        ok = ok and _within_bars(cases[name], seconds - page_seconds, mb)
        rows.append(("app", name, ok, seconds, mb, message))
    recovered = results["recovered"]
    rows.append(("app", "page works afterwards", recovered, 0.0, None, str(recovered)))
    return rows


def _print(rows: list[tuple]) -> None:
    print(f"{'surface':18s} {'case':32s} {'ok':5s} {'seconds':>8s} {'MB':>7s}  message")
    for surface, name, ok, seconds, mb, message in rows:
        mb_text = f"{mb:7.1f}" if mb is not None else "      -"
        text = message.replace("\n", " ")
        print(
            f"{surface:18s} {name[:32]:32s} {'ok' if ok else 'FAIL':5s} {seconds:8.3f} {mb_text}  {text[:110]}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--light", action="store_true", help="skip the 60 MB and 300 MB files")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="probe_hostile_") as tmp:
        root = Path(tmp)
        cases = {c.name: c for c in CHECKPOINT_CASES if not (args.light and c.heavy)}
        paths = {
            name: build_case(c, root / "ck" / f"c{i}") for i, (name, c) in enumerate(cases.items())
        }
        good = good_checkpoint(root, "good")
        before = snapshot_tree(root / "ck")
        rows = api_rows(cases, paths, good, root)
        rows += cli_rows(cases, paths, root)
        rows += train_rows(root)
        rows += app_rows(cases, paths, root)
        same = snapshot_tree(root / "ck") == before
        rows.append(("reads", "tree unchanged by every probe", same, 0.0, None, str(same)))
    _print(rows)
    print("\nthe bars (refused in < 1 s, < 100 MB above the process's baseline):")
    for surface, name, ok, seconds, mb, _ in rows:
        if surface in ("api", "app") and name in cases and cases[name].measured:
            print(
                f"  {surface:4s} {name:32s} {seconds:6.3f} s {mb:7.1f} MB  {'ok' if ok else 'FAIL'}"
            )
    print(
        f"  (the app's page run refusing a missing folder, the reference: {PAGE_SECONDS[0]:.3f} s)"
    )
    clean = sum(1 for row in rows if row[2])
    print(f"\n{clean}/{len(rows)} clean ({time.perf_counter() - start:.0f} s)")
    return 0 if clean == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
