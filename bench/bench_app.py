"""The Explore page's two bars, measured without a browser.

1. Time to capture and prepare everything the page shows for a 256-token prompt: one instrumented
   forward pass (`analysis.capture.capture`), every view of `views.registry.VIEWS` built *and*
   serialised (figures, the loss-coloured prompt, the top-k table). Goal: median <= 150 ms.
   Serialisation counts because the page pays it: `st.plotly_chart(fig)` runs `fig.to_dict()`
   and `plotly.io.to_json(..., validate=False)` on every figure it is given (`ship` below).
2. Chart payload: the summed size of those JSON specs (plus the prompt's HTML). Goal <= 3 MB.
   (The page builds only the open tab, so one rerun ships much less; this is the upper bound.)
3. The interpretability views (those with a `budget_s` in the registry) against their own bars
   (`interp.views`): each built and serialised for a 128-token prompt <= 300 ms, patching
   <= 3 s. They compute from the model uncached, as on the page's first visit; patching's
   corrupted prompt changes the first token, the worst case (every later position differs). Not
   in 1 and 2.

Both clocks are reported: wall (what a user waits) and this process's CPU time, which ignores the
time other processes hold the cores and so stays steady on a loaded machine. With one torch
thread (the app's setting and the default here) the two agree on a quiet machine; the verdict
uses --clock (default cpu).

The model is the shipped baseline (4 layers x 4 heads, d_model 128) when `checkpoints/baseline`
exists with n_ctx >= 256, else one of that size with random weights (timing does not depend on
the weights).

    .venv/bin/python -m bench.bench_app
    .venv/bin/python -m bench.bench_app --checkpoint /tmp/dev_run/checkpoint --repeats 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also runnable as `python bench/bench_app.py`
    sys.path.insert(0, str(REPO_ROOT))

from analysis.capture import Capture, capture  # noqa: E402
from analysis.catalog import checkpoint_root  # noqa: E402
from model.build import build_model  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.config import ModelConfig  # noqa: E402
from model.switches import Switches  # noqa: E402
from model.tokenizers import CharTokenizer  # noqa: E402
from views.interp_lab import InterpChoice, InterpLab  # noqa: E402
from views.registry import (  # noqa: E402
    VIEWS,
    Chart,
    Html,
    Item,
    SideBySide,
    Table,
    ViewInput,
    default_input,
)

GOAL_MS = 150.0
GOAL_PAYLOAD_MB = 3.0
N_TOKENS = 256
INTERP_TOKENS = 128  # the interpretability views' bars are for a 128-token prompt
SHIPPED = ModelConfig(n_ctx=256, d_model=128, n_layers=4, n_heads=4, d_head=32, d_mlp=512)
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20
CLOCKS = ("wall", "cpu")


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


def use_streamlit_template() -> bool:
    """Make plotly's default template the one the app runs with (importing st.plotly_chart sets
    it), so the bench builds and serialises the same figures. False if Streamlit is missing."""
    try:
        from streamlit.elements.lib.streamlit_plotly_theme import configure_streamlit_plotly_theme
    except ImportError:
        return False
    configure_streamlit_plotly_theme()
    return True


def ship(fig: go.Figure) -> str:
    """What `st.plotly_chart(fig)` does with a Figure before it reaches the browser."""
    return pio.to_json(fig.to_dict(), validate=False)


def timed_views() -> list[str]:
    """The registry's views the benchmark builds: all but those that need a user action first."""
    return [v.key for v in VIEWS if v.timed]


def payload(items: list[Item]) -> int:
    """Bytes the page ships for a view's items: chart JSON, HTML, the table's rows."""
    size = 0
    for item in items:
        charts = item.charts if isinstance(item, SideBySide) else (item,)
        for chart in charts:
            if isinstance(chart, Chart):
                size += len(ship(chart.figure))
        if isinstance(item, Html):
            size += len(item.html)
        elif isinstance(item, Table):
            size += len(json.dumps(item.rows, default=str))
    return size


def now() -> dict[str, float]:
    return {"wall": time.perf_counter(), "cpu": time.process_time()}


def since(start: dict[str, float]) -> dict[str, float]:
    end = now()
    return {c: (end[c] - start[c]) * 1e3 for c in CLOCKS}


class Samples:
    """Milliseconds per named step, one sample per repeat, on both clocks."""

    def __init__(self) -> None:
        self.ms: dict[str, dict[str, list[float]]] = {}

    def add(self, name: str, elapsed: dict[str, float]) -> None:
        per_clock = self.ms.setdefault(name, {c: [] for c in CLOCKS})
        for c in CLOCKS:
            per_clock[c].append(elapsed[c])

    def median(self, name: str, clock: str) -> float:
        return statistics.median(self.ms[name][clock])


def interp_input(model, tok, ids: tuple[int, ...]) -> tuple[Capture, ViewInput]:
    """The first INTERP_TOKENS tokens, the model behind them (uncached) and a corrupted prompt
    whose first token differs: patching's worst case, every later position differs."""
    short = ids[:INTERP_TOKENS]
    cap = capture(model, tok, short, Switches())
    corrupted = ((short[0] + 1) % model.cfg.vocab_size, *short[1:])
    inp = default_input(cap, InterpLab(model, tok, short, Switches()))
    return cap, replace(inp, interp=InterpChoice(corrupted=corrupted))


def prepare_page(model, tok, ids: tuple[int, ...], samples: Samples) -> dict[str, int]:
    """One full preparation of the page: capture, every view built and shipped, HTML and table.
    Records each step's time in `samples` ("total": the capture and the views without a budget
    of their own); returns each view's payload in bytes, in the registry's order."""
    start = now()
    step = now()
    cap = capture(model, tok, ids, Switches())
    samples.add("capture", since(step))
    sizes: dict[str, int] = {}
    inp = default_input(cap)
    budgeted = [v for v in VIEWS if v.budget_s is not None]
    for view in [v for v in VIEWS if v.budget_s is None]:
        if not view.timed or (view.needs_attention and not cap.has_attention):
            continue
        step = now()
        items = view.build(cap, inp)
        samples.add(f"{view.key} build", since(step))
        step = now()
        sizes[view.key] = payload(items)
        samples.add(f"{view.key} ship", since(step))
    samples.add("total", since(start))
    if cap.has_attention and budgeted:
        short_cap, short_inp = interp_input(model, tok, ids)
        for view in budgeted:
            if not view.timed:
                continue
            step = now()
            items = view.build(short_cap, short_inp)
            samples.add(f"{view.key} build", since(step))
            step = now()
            sizes[view.key] = payload(items)
            samples.add(f"{view.key} ship", since(step))
    return {v.key: sizes[v.key] for v in VIEWS if v.key in sizes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint folder (default: checkpoints/baseline)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed full preparations first")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (the app uses 1)"
    )
    parser.add_argument(
        "--clock", choices=CLOCKS, default="cpu", help="the clock the verdict uses (see above)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    streamlit_template = use_streamlit_template()
    model, tok, label = load(args.checkpoint)
    cfg = model.cfg
    ids = tuple(tok.encode(TEXT * 8)[:N_TOKENS])
    if len(ids) < N_TOKENS:
        raise SystemExit(f"the benchmark text encodes to {len(ids)} < {N_TOKENS} tokens")
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{label}: {cfg.n_layers} layers x {cfg.n_heads} heads, d_model {cfg.d_model}; "
        f"{len(ids)} tokens; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"load average {load_avg} on {os.cpu_count()} cores; plotly template "
        f"{'streamlit (as in the app)' if streamlit_template else pio.templates.default}"
    )

    for _ in range(args.warmup):  # lazy imports, allocator, plotly's validator cache
        prepare_page(model, tok, ids, Samples())
    samples = Samples()
    for _ in range(args.repeats):
        sizes = prepare_page(model, tok, ids, samples)
    budgets = {v.key: v.budget_s for v in VIEWS if v.budget_s is not None}
    payload_mb = sum(size for key, size in sizes.items() if key not in budgets) / 1e6

    def ms(name: str) -> str:
        return "".join(f"{samples.median(name, c):8.1f}" for c in CLOCKS)

    def view_ms(key: str, clock: str) -> float:
        return samples.median(f"{key} build", clock) + samples.median(f"{key} ship", clock)

    print(f"  median ms of {args.repeats} page preparations      wall     cpu        wall     cpu")
    print(f"  capture (forward + numpy)            {ms('capture')}")
    for name, size in sizes.items():
        if name in budgets:
            continue
        kb = f"{size / 1e3:8.1f} kB"
        print(f"  {name + ' view':18} build {ms(name + ' build')}  ship {ms(name + ' ship')} {kb}")
    landing = "".join(
        f"{sum(samples.median(k, c) for k in ('capture', 'grid build', 'grid ship')):8.1f}"
        for c in CLOCKS
    )
    print(f"  landing rerun (capture + grid view)  {landing}")
    print(f"  total (capture + every page view)   {ms('total')}   goal <= {GOAL_MS:.0f} ms")
    print(f"  chart payload (page views)  {payload_mb:8.2f} MB   goal <= {GOAL_PAYLOAD_MB:.0f} MB")
    total = samples.median("total", args.clock)
    ok = total <= GOAL_MS and payload_mb <= GOAL_PAYLOAD_MB
    missed = []
    if any(key in sizes for key in budgets):
        n = min(len(ids), INTERP_TOKENS)
        print(f"  interpretability views, {n} tokens, computed uncached: build + ship, own goals")
        for key, budget in budgets.items():
            if key not in sizes:
                continue
            took = view_ms(key, args.clock)
            kb = f"{sizes[key] / 1e3:8.1f} kB"
            both = "".join(f"{view_ms(key, c):8.1f}" for c in CLOCKS)
            print(f"  {key + ' view':18} {both} {kb}   goal <= {budget * 1e3:.0f} ms")
            if took > budget * 1e3:
                missed.append(key)
    ok = ok and not missed
    verdict = f"{args.clock} clock: {total:.1f} ms, {payload_mb:.2f} MB"
    if missed:
        verdict += f"; over budget: {', '.join(missed)}"
    print(f"{'PASS' if ok else 'FAIL'} ({verdict})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
