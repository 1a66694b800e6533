"""Explore on the GPT-2-small shape (12 layers x 12 heads, d_model 768, 50,257 tokens; random
weights, timing does not depend on them), loaded through model/hf from a Hugging Face folder:

1. Explore's page views together, capture included, for a 128-token prompt: one instrumented
   forward pass (`analysis.capture.capture`) plus every view without a budget of its own built and
   serialised as `st.plotly_chart` ships it (`bench_app.payload`), the Grid on its first layer
   window as the page opens it. Bar: median <= 1.5 s.
2. Capture of what the page shows against a plain forward pass of the same tokens, interleaved
   round by round (`_timing.interleaved`). Bar: median ratio <= 1.5.
3. Peak memory of this process (ru_maxrss: load, capture and every view). Bar: <= 2 GB. The folder
   is written by a child process (transformers' own copy of the model must not count).

One torch thread, the app's setting. Both clocks are printed for 1; the verdict uses --clock.

    .venv/bin/python -m bench.bench_gpt2 [--folder DIR] [--repeats 10]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analysis.capture import capture  # noqa: E402
from bench._timing import interleaved  # noqa: E402
from bench.bench_app import Samples, now, payload, since  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.switches import Switches  # noqa: E402
from views.head_names import layer_windows  # noqa: E402
from views.registry import VIEWS, default_input  # noqa: E402

PROMPT_TOKENS = 128
PAGE_BAR_S, CAPTURE_RATIO_BAR, MEMORY_BAR_GB = 1.5, 1.5, 2.0
_BUILD = (
    "import sys; from pathlib import Path; sys.path.insert(0, {repo!r}); "
    "from fixtures.hf_gpt2_folders import SMALL, build_gpt2_folder; "
    "build_gpt2_folder(Path({folder!r}), 50257, **SMALL)"
)


def build_folder(folder: Path) -> None:
    code = _BUILD.format(repo=str(REPO), folder=str(folder))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def prompt_ids(tokenizer, n: int) -> tuple[int, ...]:
    text = "When Mary and John went to the store, John gave a drink to Mary. " * 40
    ids = tokenizer.encode(text)
    assert len(ids) >= n, len(ids)
    return tuple(ids[:n])


def page_once(model, tok, ids: tuple[int, ...], samples: Samples) -> None:
    """Capture and every view without a budget, built and shipped, as the page opens them."""
    start = now()
    cap = capture(model, tok, ids, Switches())
    samples.add("capture", since(start))
    cfg = model.cfg
    inp = replace(default_input(cap), grid_layers=layer_windows(cfg.n_layers, cfg.n_heads)[0])
    for view in VIEWS:
        if view.budget_s is not None or not view.timed:
            continue
        step = now()
        payload(view.build(cap, inp))
        samples.add(view.key, since(step))
    samples.add("page", since(start))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="a GPT-2-small-shape HF folder (default: build one)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp) / "gpt2_small_random"
        if not args.folder:
            print("writing a random-init GPT-2-small folder (child process)...", flush=True)
            build_folder(folder)
        start = now()
        ckpt = load_checkpoint(folder)
        print(f"load_checkpoint: {since(start)['wall'] / 1e3:.2f} s wall")
        model, tok = ckpt.model, ckpt.tokenizer
        ids = prompt_ids(tok, PROMPT_TOKENS)
        samples = Samples()
        page_once(model, tok, ids, Samples())  # warm-up
        for _ in range(args.repeats):
            page_once(model, tok, ids, samples)
        tokens = torch.tensor([ids])
        timings = interleaved(
            {
                "forward": lambda: model(tokens),
                "capture": lambda: capture(model, tok, ids, Switches()),
            },
            repeats=args.repeats * 2,
        )
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    cfg = model.cfg
    print(
        f"\n{cfg.n_layers} layers x {cfg.n_heads} heads, d_model {cfg.d_model}, "
        f"{PROMPT_TOKENS}-token prompt, 1 torch thread, median of {args.repeats}"
    )
    print(f"{'step':<14}{'wall ms':>10}{'cpu ms':>10}")
    for name in samples.ms:
        print(
            f"{name:<14}{samples.median(name, 'wall'):>10.0f}{samples.median(name, 'cpu'):>10.0f}"
        )
    page_s = samples.median("page", args.clock) / 1e3
    ratio = timings.ratio("capture", "forward")
    q1, q3 = timings.ratio_quartiles("capture", "forward")
    print(
        f"\nforward {timings.median('forward') * 1e3:.0f} ms, capture "
        f"{timings.median('capture') * 1e3:.0f} ms (wall, interleaved)"
    )
    rows = [
        (
            "page views + capture",
            f"{page_s:.2f} s ({args.clock})",
            page_s <= PAGE_BAR_S,
            f"<= {PAGE_BAR_S} s",
        ),
        (
            "capture / forward",
            f"{ratio:.2f}x (IQR {q1:.2f}-{q3:.2f})",
            ratio <= CAPTURE_RATIO_BAR,
            f"<= {CAPTURE_RATIO_BAR}x",
        ),
        ("peak memory", f"{peak_gb:.2f} GB", peak_gb <= MEMORY_BAR_GB, f"<= {MEMORY_BAR_GB} GB"),
    ]
    for name, value, passed, bar in rows:
        print(f"{name:<22}{value:<28}{bar:<10}{'PASS' if passed else 'FAIL'}")
    return 0 if all(r[2] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
