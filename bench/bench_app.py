"""The Explore page's two bars, measured without a browser.

1. Time to capture and prepare everything the page shows for a 256-token prompt: one instrumented
   forward pass (`app_lib.capture.capture`) plus every figure, the loss-coloured prompt and the
   top-k table (`app_lib.figures`). Goal: median <= 150 ms.
2. Chart payload: the summed `len(fig.to_json())` of every figure the page can show. Goal <= 3 MB.
   (The page builds only the open tab, so one rerun ships much less; this is the upper bound.)

The model is the shipped baseline (4 layers x 4 heads, d_model 128) when `checkpoints/baseline`
exists, else one of that size with random weights (timing does not depend on the weights).

    .venv/bin/python -m bench.bench_app
    .venv/bin/python -m bench.bench_app --checkpoint /tmp/dev_run/checkpoint --repeats 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also runnable as `python bench/bench_app.py`
    sys.path.insert(0, str(REPO_ROOT))

from app_lib.capture import capture  # noqa: E402
from app_lib.figures import Focus, all_explore_figures, loss_html, topk_rows  # noqa: E402
from app_lib.models import checkpoint_root  # noqa: E402
from model.build import build_model  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.config import ModelConfig  # noqa: E402
from model.switches import Switches  # noqa: E402
from model.tokenizers import CharTokenizer  # noqa: E402

GOAL_MS = 150.0
GOAL_PAYLOAD_MB = 3.0
N_TOKENS = 256
SHIPPED = ModelConfig(n_ctx=256, d_model=128, n_layers=4, n_heads=4, d_head=32, d_mlp=512)
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20


def load(path: str | None):  # -> (model, tokenizer, label)
    candidate = Path(path) if path else checkpoint_root() / "baseline"
    if (candidate / "config.json").is_file():
        ckpt = load_checkpoint(candidate)
        if ckpt.config.n_ctx >= N_TOKENS:
            return ckpt.model, ckpt.tokenizer, f"checkpoint {candidate}"
        print(f"{candidate}: n_ctx {ckpt.config.n_ctx} < {N_TOKENS}; using random weights")
    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    model = build_model(SHIPPED.replace(vocab_size=tok.n_vocab)).eval()
    return model, tok, "random weights, shipped size"


def prepare(model, tok, ids: tuple[int, ...]) -> dict:
    cap = capture(model, tok, ids, Switches())
    n = len(ids)
    figs = all_explore_figures(cap, Focus(1, 2, n - 1, n // 2))
    return {"cap": cap, "figs": figs, "html": loss_html(cap), "rows": topk_rows(cap)}


def time_each_view(model, tok, ids: tuple[int, ...], repeats: int) -> dict[str, float]:
    """Median ms to build each figure alone, from one capture."""
    from app_lib import figures as F

    cap = capture(model, tok, ids, Switches())
    n = len(ids)
    focus = Focus(1, 2, n - 1, n // 2)
    builders = {
        "grid": lambda: F.grid_figure(cap),
        "head": lambda: F.head_figure(cap, focus),
        "pipeline": lambda: F.pipeline_figure(cap, focus),
        "qkv": lambda: F.qkv_figure(cap, focus),
        "resid": lambda: F.resid_figure(cap),
        "ln_mean": lambda: F.ln_figures(cap),  # both LayerNorm figures
        "entropy_map": lambda: F.entropy_figures(cap, True),  # heatmap and bars
    }
    out = {}
    for name, build in builders.items():
        build()
        samples = []
        for _ in range(max(3, repeats // 3)):
            start = time.perf_counter()
            build()
            samples.append(time.perf_counter() - start)
        out[name] = statistics.median(samples) * 1e3
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint folder (default: checkpoints/baseline)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (the app uses 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tok, label = load(args.checkpoint)
    cfg = model.cfg
    ids = tuple(tok.encode(TEXT * 8)[:N_TOKENS])
    if len(ids) < N_TOKENS:
        raise SystemExit(f"the benchmark text encodes to {len(ids)} < {N_TOKENS} tokens")
    print(
        f"{label}: {cfg.n_layers} layers x {cfg.n_heads} heads, d_model {cfg.d_model}; "
        f"{len(ids)} tokens; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )

    for _ in range(3):  # warm-up: lazy imports, allocator, plotly validators
        out = prepare(model, tok, ids)
    capture_s, total_s = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        cap = capture(model, tok, ids, Switches())
        mid = time.perf_counter()
        n = len(ids)
        all_explore_figures(cap, Focus(1, 2, n - 1, n // 2))
        loss_html(cap)
        topk_rows(cap)
        end = time.perf_counter()
        capture_s.append(mid - start)
        total_s.append(end - start)
    med_capture = statistics.median(capture_s) * 1e3
    med_total = statistics.median(total_s) * 1e3
    sizes = {name: len(fig.to_json()) for name, fig in out["figs"].items()}
    payload_mb = (sum(sizes.values()) + len(out["html"])) / 1e6

    print(f"  capture (forward + numpy)      median {med_capture:7.1f} ms")
    print(f"  capture + prepare every view   median {med_total:7.1f} ms   goal <= {GOAL_MS:.0f} ms")
    per_view = time_each_view(model, tok, ids, args.repeats)
    print("  per view (figure build only; the page builds just the open tab):")
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        ms = f"{per_view[name]:7.1f} ms" if name in per_view else "  (above)"
        print(f"    {name:14} {ms} {size / 1e3:8.1f} kB")
    landing = med_capture + per_view["grid"]
    print(f"  landing rerun (capture + grid tab)  {landing:7.1f} ms")
    print(
        f"  chart payload (all views)      {payload_mb:7.2f} MB   goal <= {GOAL_PAYLOAD_MB:.0f} MB"
    )
    ok = med_total <= GOAL_MS and payload_mb <= GOAL_PAYLOAD_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
