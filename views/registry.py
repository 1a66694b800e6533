"""Every Explore view, described once: the page, the app benchmark and the tests iterate `VIEWS`.

A view is a tab of the Explore page. Its entry says what it is called, whether it needs attention
(the LSTM has none), which controls it shows above its content, what it draws (a pure builder:
`Capture` and `ViewInput` in, a list of items out) and what files it exports.
`ViewInput` and the `Control` names live below the registry, in `views/view_input.py`.

Views that compute from the model (the interpretability views, `views/interp_*.py` over
`interp/`) ask for the "interp" control, which puts an `InterpLab` (the model, prompt and switches,
behind the page's cache) into `ViewInput.lab`; their exports read the whole `ViewInput`
(`ExportFile.whole_input`), and `budget_s` gives each its own time bar in the benchmark.

Adding a view: write its builder (figures in `views.explore`, drawing in `viz/`), add one `View`
below. The page shows it, `bench/bench_app.py` times it and `tests/test_app.py` renders it, with
no other edit; a test fails if any of them misses a view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analysis.capture import Capture
from interp import VIEWS_BY_KEY as INTERP_VIEWS
from interp.views import PATCHING_BUDGET_S, VIEW_BUDGET_S
from views import classic_exports as ce
from views import (
    interp_attribution,
    interp_circuits,
    interp_exports,
    interp_heads,
    interp_knockout,
    interp_lens,
    interp_patching,
    interp_stream,
    token_walk,
)
from views.explore import (
    Focus,
    entropy_figures,
    generation_figure,
    generation_window,
    grid_figure,
    head_figure,
    ln_figures,
    loss_html,
    pipeline_figure,
    qkv_figure,
    resid_figure,
    topk_rows,
)
from views.export_files import (
    GRID_EXPORTS,
    HEAD_EXPORTS,
    NPZ,
    ExportFile,
    interp_files,
    view_files,
)
from views.interp_lab import InterpLab
from views.items import Chart, Html, Item, Note, SideBySide, Table
from views.view_input import Control, ViewInput
from viz.token_view import token_view_html


@dataclass(frozen=True)
class View:
    name: str  # the tab's label
    key: str  # short id: benchmark rows, test ids, widget keys
    needs_attention: bool  # False: also shown for the LSTM
    build: Callable[[Capture, ViewInput], list[Item]]
    controls: tuple[Control, ...] = ()
    exports: tuple[ExportFile, ...] = ()
    help: str = ""  # one sentence under the tab: what to look at
    timed: bool = True  # False: the benchmark skips it (it needs user action first)
    budget_s: float | None = None  # its own time bar (interpretability); None: the page's total
    lstm: tuple[str, str] | None = None  # (label, help) for an LSTM, where they differ

    def label(self, has_attention: bool) -> str:
        return self.name if has_attention or self.lstm is None else self.lstm[0]

    def help_for(self, has_attention: bool) -> str:
        return self.help if has_attention or self.lstm is None else self.lstm[1]


# --- builders: Capture + ViewInput -> items -------------------------------------------------------


def _grid(cap: Capture, inp: ViewInput) -> list[Item]:
    return [Chart("grid_fig", grid_figure(cap, inp.gamma, inp.knocked, inp.grid_layers))]


def _head(cap: Capture, inp: ViewInput) -> list[Item]:
    return [Chart("head_fig", head_figure(cap, inp.focus, inp.gamma))]


def _token_view(cap: Capture, inp: ViewInput) -> list[Item]:
    assert cap.patterns is not None
    f = inp.focus
    html = token_view_html(cap.patterns[f.layer], cap.tokens, layer=f.layer, heads=(f.head,))
    return [
        Html(html, javascript=True),
        Note(
            "Hover a token on the left for where it attends, on the right for what attends to "
            "it; the buttons add or remove heads of this layer."
        ),  # fmt: skip
    ]


def _pipeline(cap: Capture, inp: ViewInput) -> list[Item]:
    return [Chart("pipeline_fig", pipeline_figure(cap, inp.focus))]


def _qkv(cap: Capture, inp: ViewInput) -> list[Item]:
    return [Chart("qkv_fig", qkv_figure(cap, inp.focus))]


def _stream(cap: Capture, inp: ViewInput) -> list[Item]:
    items: list[Item] = [Chart("resid_fig", resid_figure(cap))]
    ln = ln_figures(cap)
    if ln is None:
        if cap.has_attention:
            items.append(Note("No LayerNorm ran (switched off, or the model has none)."))
    else:
        items += [Chart("ln_mean_fig", ln[0]), Chart("ln_std_fig", ln[1])]
    return items


def _entropy(cap: Capture, inp: ViewInput) -> list[Item]:
    heat, bars = entropy_figures(cap)
    return [SideBySide((Chart("entropy_map_fig", heat), Chart("entropy_bars_fig", bars)))]


def _loss(cap: Capture, inp: ViewInput) -> list[Item]:
    return [
        Html(loss_html(cap)),
        Note("Hover a token for its loss and the top predictions made before it."),
        Table("topk_table", topk_rows(cap)),
    ]


def _generation(cap: Capture, inp: ViewInput) -> list[Item]:
    steps = [s for s in inp.generation if s.rows is not None]
    if not steps or not cap.has_attention:
        return []
    step = steps[min(max(inp.step, 0), len(steps) - 1)]
    offset = generation_window(inp.generation, cap.tokens, [int(i) for i in cap.ids])
    if offset is None:
        return [Note("The prompt changed since this generation: generate again to see its steps.")]
    if step.query_pos < offset:
        return [
            Note(
                "That step's query lies before the analysed window (the last "
                f"{len(cap.tokens)} tokens of prompt + generated text): pick a later step."
            )
        ]
    return [Chart("gen_fig", generation_figure(step, cap.tokens, offset))]


# --- exports ----------------------------------------------------------------------------------------

# --- the registry -----------------------------------------------------------------------------------

VIEWS: tuple[View, ...] = (
    View(
        "Grid",
        "grid",
        needs_attention=True,
        build=_grid,
        controls=("grid_layers", "gamma"),
        exports=(
            *GRID_EXPORTS,
            ExportFile("CSV", "grid", "csv", "text/csv", interp_exports.csv("grid", ce.grid), True),
            NPZ,
        ),
        help="Every head at once: rows are layers, columns heads; in each panel a query (row) "
        "spreads its weight over the keys (columns) it may see.",
    ),
    View(
        "Focused head",
        "head",
        needs_attention=True,
        build=_head,
        controls=("layer_head", "gamma"),
        exports=(*HEAD_EXPORTS, NPZ),
        help="One head at full resolution; hover a cell for the exact weight.",
    ),
    View(
        "Token view",
        "tokens",
        needs_attention=True,
        build=_token_view,
        controls=("layer_head",),
        exports=(*view_files("token view", "L{layer}_tokens", _token_view, ce.layer_heads), NPZ),
        help="BertViz's head view: each query token joined to the keys it attends to, one "
        "colour per head.",
    ),
    View(
        "Score pipeline",
        "pipeline",
        needs_attention=True,
        build=_pipeline,
        controls=("layer_head",),
        exports=(
            *view_files("score pipeline", "L{layer}H{head}_pipeline", _pipeline, ce.pipeline),
            NPZ,
        ),
        help="How one head's scores become weights: raw q·k, scaled, masked, softmax.",
    ),
    View(
        "Q/K/V",
        "qkv",
        needs_attention=True,
        build=_qkv,
        controls=("layer_head", "positions"),
        exports=(*view_files("q/k/v", "L{layer}H{head}_qkv", _qkv, ce.qkv), NPZ),
        help="One query-key pair: their vectors, the dot product, and how the weights mix values.",
    ),
    View(
        "Residual & LayerNorm",
        "stream",
        needs_attention=False,
        build=_stream,
        exports=(*view_files("residual stream", "stream", _stream, ce.stream), NPZ),
        help="The size of the stream at each layer and position, and what each LayerNorm sees.",
        lstm=(
            "Hidden states",
            "The size of each layer's hidden state at each position (an LSTM has no residual "
            "stream and no LayerNorm).",
        ),
    ),
    View(
        "Entropy",
        "entropy",
        needs_attention=True,
        build=_entropy,
        exports=(*view_files("entropy", "entropy", _entropy, ce.entropy), NPZ),
        help="How spread out each head's attention is, against a head that attends uniformly.",
    ),
    View(
        "Per-token loss",
        "loss",
        needs_attention=False,
        build=_loss,
        exports=(*view_files("per-token loss", "loss", _loss, ce.loss), NPZ),
        help="Which tokens surprised the model, and what it predicted instead.",
    ),
    View(
        "Generate",
        "generate",
        needs_attention=False,
        build=_generation,
        controls=("generation",),
        exports=view_files("generation", "generation", _generation, ce.generation, True),
        help="Sample a continuation; each step's attention of the predicting query is kept.",
        timed=False,
    ),
    View(
        "Token walk",
        "walk",
        needs_attention=True,
        build=token_walk.build,
        controls=("interp", "layer_head", "walk"),
        exports=interp_files("token walk", "walk", token_walk),
        help="One token from its embedding through each block to the next-token probabilities, "
        "every number the model's own; the temperature reshapes only the last step.",
        budget_s=VIEW_BUDGET_S,
    ),
    View(
        "Head types",
        "heads",
        needs_attention=True,
        build=interp_heads.build,
        controls=("interp", "head_focus"),
        exports=interp_files("head types", "head_types", interp_heads),
        help=INTERP_VIEWS["heads"].help + " Pick a head to open it in Focused head.",
        budget_s=VIEW_BUDGET_S,
    ),
    View(
        "Head knockout",
        "knockout",
        needs_attention=True,
        build=interp_knockout.build,
        controls=("interp",),
        exports=interp_files("head knockout", "knockout", interp_knockout),
        help="Every head knocked out in turn: how much the prompt's loss rises without it.",
        budget_s=VIEW_BUDGET_S,
    ),
    View(
        "Logit lens",
        "lens",
        needs_attention=True,
        build=interp_lens.build,
        controls=("interp", "lens"),
        exports=interp_files("logit lens", "logit_lens", interp_lens),
        help=INTERP_VIEWS["logit_lens"].help + " Hover a cell for the lens's top tokens.",
        budget_s=VIEW_BUDGET_S,
    ),
    View(
        "Logit attribution",
        "attribution",
        needs_attention=True,
        build=interp_attribution.build,
        controls=("interp", "logit_target"),
        exports=interp_files("direct logit attribution", "attribution", interp_attribution),
        help=INTERP_VIEWS["attribution"].help,
        budget_s=VIEW_BUDGET_S,
    ),
    View(
        "Patching",
        "patching",
        needs_attention=True,
        build=interp_patching.build,
        controls=("interp", "patching"),
        exports=interp_files("activation patching", "patching", interp_patching),
        help="Copy one activation between the prompt and a corrupted copy of it, and see how "
        "much of the clean answer comes back: each head, each position of the stream, each MLP.",
        budget_s=PATCHING_BUDGET_S,
    ),
    View(
        "Weight circuits",
        "circuits",
        needs_attention=True,
        build=interp_circuits.build,
        controls=("interp", "layer_head"),
        exports=interp_files("weight circuits", "L{layer}H{head}_circuits", interp_circuits),
        help=INTERP_VIEWS["circuits"].help,
        budget_s=VIEW_BUDGET_S,
    ),
    View(
        "Stream health",
        "health",
        needs_attention=True,
        build=interp_stream.build,
        controls=("interp",),
        exports=interp_files("stream health", "stream_health", interp_stream),
        help=INTERP_VIEWS["stream_health"].help,
        budget_s=VIEW_BUDGET_S,
    ),
)

VIEW_BY_NAME: dict[str, View] = {v.name: v for v in VIEWS}


def views_for(has_attention: bool) -> list[View]:
    """The views a model can show: all of them with attention, the rest for the LSTM."""
    return [v for v in VIEWS if has_attention or not v.needs_attention]


def default_input(cap: Capture, lab: InterpLab | None = None) -> ViewInput:
    """What the benchmark and the tests build with: layer 1 head 1 where they exist, the last
    query and a middle key; `lab` for the views that compute from the model."""
    n = len(cap.tokens)
    layers = 1 if cap.patterns is None else cap.patterns.shape[0]
    heads = 1 if cap.patterns is None else cap.patterns.shape[1]
    focus = Focus(min(1, layers - 1), min(1, heads - 1), n - 1, n // 2)
    return ViewInput(focus=focus, lab=lab)


__all__ = [
    "Chart",
    "Control",
    "ExportFile",
    "Html",
    "Item",
    "Note",
    "SideBySide",
    "Table",
    "VIEWS",
    "VIEW_BY_NAME",
    "View",
    "ViewInput",
    "default_input",
    "views_for",
]
