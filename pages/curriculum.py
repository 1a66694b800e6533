"""Curriculum: four questions and the mask, each answered from the suite's records (schema 2) and
the isolating experiments, plus live measurements on the user's prompt.

What each tab says is built by `views.curriculum_sections` from `curriculum/` (no Streamlit
there); this page draws it, adds the live parts and caches both, so a tab opened again costs only
its drawing. Variants without a schema-2 record are named as not trained, never read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from analysis import curriculum as cur
from analysis.catalog import checkpoint_root, checkpoint_stamp
from analysis.prompts import EXAMPLES, prepare_prompt
from curriculum.evidence import RECALL, RECORD, Evidence, load_evidence, suite_order
from curriculum.recall import read_recall, recall_example, recall_task, retrieval_head
from curriculum.saturation import unscaled_outcome
from model.checkpoint import Checkpoint
from model.config import ModelConfig
from ui.state import guard, init_state, load_model, try_load
from views import curriculum_live_text as says
from views import curriculum_text as txt
from views.curriculum_sections import SECTIONS, Section
from viz.attention import head_heatmap
from viz.curriculum import (
    dot_spread_chart,
    layer_lines,
    saliency_chart,
    similarity_matrix,
    step_time_chart,
)
from viz.stats import residual_row_labels

LENGTHS = (16, 32, 64, 128, 256)  # the timing sweep; short enough to run in seconds here
D_HEADS = (4, 8, 16, 32, 64, 128, 256)
PLOT = {"displaylogo": False}

init_state({"cur_prompt": EXAMPLES["Shakespeare (longer)"]})


# ------------------------------------------------------------------ caches (small hashable keys)


def records_stamp(root: Path) -> tuple[tuple[str, float], ...]:
    """(folder, mtime) of every record: a retrained variant changes the key, nothing else does."""
    paths = [*root.glob(f"*/{RECORD}"), root / RECALL / RECORD]
    return tuple((str(p.parent), p.stat().st_mtime) for p in sorted(paths) if p.is_file())


@st.cache_resource(max_entries=2, show_spinner="Reading the records…")
def evidence(root: str, stamp: tuple) -> Evidence:
    return load_evidence(Path(root))


@st.cache_resource(max_entries=16, show_spinner=False)
def section(key: str, root: str, stamp: tuple) -> Section:
    return SECTIONS[key](evidence(root, stamp))


@dataclass(frozen=True)
class Live:
    """A trained variant ready for a live measurement: the cache key and the loaded checkpoint."""

    ckpt: Checkpoint
    path: str  # resolved folder
    stamp: float  # its files' latest mtime
    ids: tuple[int, ...]  # the user's prompt, encoded and cut to the model's context

    @property
    def key(self) -> tuple[str, float, tuple[int, ...]]:
        return self.path, self.stamp, self.ids


@st.cache_data(max_entries=32, show_spinner=False)
def collapse(path: str, stamp: float, ids: tuple[int, ...], at_init: bool) -> cur.StreamCollapse:
    ckpt = load_model(path, stamp)
    model = cur.initialised(ckpt.config) if at_init else ckpt.model
    return cur.stream_collapse(model, ids)


@st.cache_data(max_entries=32, show_spinner=False)
def grad_init(path: str, stamp: float, ids: tuple[int, ...]) -> dict[str, float]:
    return cur.grad_norm_at_init(load_model(path, stamp).config, ids)


@st.cache_data(max_entries=16, show_spinner=False)
def bypass(path: str, stamp: float, ids: tuple[int, ...]) -> cur.BypassResult:
    ckpt = load_model(path, stamp)
    return cur.bypass_residual(ckpt.model, ckpt.tokenizer, ids)


@st.cache_data(max_entries=16, show_spinner=False)
def similarity(path: str, stamp: float, ids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """[layer, layer] cosines of the blocks' weights and of their patterns on the prompt."""
    model = load_model(path, stamp).model
    return cur.block_weight_similarity(model), cur.pattern_similarity(
        cur.capture_patterns(model, ids)
    )


@st.cache_data(max_entries=16, show_spinner=False)
def mlp_similarity(path: str, stamp: float, ids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Block-by-block cosine of the MLPs as functions on the same inputs: trained, and a freshly
    initialised copy of the same config as the reference for "unrelated"."""
    ckpt = load_model(path, stamp)
    fresh = cur.initialised(ckpt.config)
    return cur.mlp_output_similarity(ckpt.model, ids), cur.mlp_output_similarity(fresh, ids)


@st.cache_data(max_entries=32, show_spinner=False)
def depth(path: str, stamp: float, ids: tuple[int, ...]) -> cur.DepthProfile:
    return cur.depth_profile(load_model(path, stamp).model, ids)


@st.cache_data(max_entries=16, show_spinner=False)
def scores(path: str, stamp: float, ids: tuple[int, ...]) -> cur.ScoreSpread:
    return cur.score_spread(load_model(path, stamp).model, ids)


@st.cache_data(max_entries=8, show_spinner=False)
def recall_pattern(
    path: str, stamp: float, ids: tuple[int, ...], layer: int, head: int
) -> np.ndarray:
    return cur.head_pattern(load_model(path, stamp).model, ids, layer, head)


@st.cache_data(max_entries=16, show_spinner=False)
def saliency(path: str, stamp: float, ids: tuple[int, ...]) -> cur.SaliencyProfile:
    return cur.input_saliency(load_model(path, stamp).model, ids)


@st.cache_data(max_entries=16, show_spinner=False)
def shapes(path: str, stamp: float, ids: tuple[int, ...]) -> list[dict[str, str]]:
    return cur.attention_shapes(load_model(path, stamp).model, ids)


@st.cache_data(max_entries=4, show_spinner=False)
def dot_spread(d_heads: tuple[int, ...]) -> cur.DotSpread:
    return cur.dot_product_spread(d_heads, n_queries=128)  # within a few % of 256, a third the time


@st.cache_data(max_entries=4, show_spinner=False)
def timing(configs_json: str, lengths: tuple[int, ...]) -> dict[str, list[float]]:
    configs = {k: ModelConfig.from_dict(v) for k, v in json.loads(configs_json).items()}
    return cur.time_training_steps(configs, lengths)


# ------------------------------------------------------------------ drawing


def chart(fig) -> None:
    st.plotly_chart(fig, width="stretch", config=PLOT)


def matrices(labels: list[str], named: dict[str, np.ndarray]) -> None:
    """Square layer-by-layer matrices side by side, one column each."""
    for col, (title, m) in zip(st.columns(len(named)), named.items(), strict=True):
        with col:
            chart(similarity_matrix(m, labels, title=title))


def draw(sec: Section) -> None:
    st.header(sec.text.title)
    st.markdown(f"**The question.** {sec.text.question}")
    if sec.status:
        st.info(sec.status)
    st.markdown(f"**The experiment.** {sec.experiment}")
    for c in sec.charts:
        chart(c.figure)
        if c.caption:
            st.caption(c.caption)
    st.subheader("The answer")
    if sec.headline:
        st.markdown(sec.headline)
    if not sec.findings:
        st.markdown("No finding yet: the records it needs are not here.")
    for f in sec.findings:
        st.markdown(f"- {f.sentence}")
    for note in sec.notes:
        st.markdown(note)
    st.markdown(f"**Uncertainty.** {sec.uncertainty}")
    st.markdown(f"**What this scale cannot show.** {sec.limits}")


def trained(name: str) -> Live | None:
    """A schema-2 variant's weights and the prompt's ids; None (quietly) when it is not trained."""
    if name not in ev.records or not (root / name / "config.json").is_file():
        return None
    ckpt, error = try_load(root / name)
    if ckpt is None:
        st.warning(f"`{name}`: {error}")
        return None
    prepared = prepare_prompt(prompt, ckpt.tokenizer, ckpt.config.n_ctx)
    if not prepared.ok or len(prepared.ids) < 2:
        st.info(
            f"`{name}` cannot analyse this prompt: {' '.join(m.text for m in prepared.messages)}"
        )
        return None
    return Live(ckpt, str((root / name).resolve()), checkpoint_stamp(root / name), prepared.ids)


def recall_head() -> None:
    """The shipped recall transformer's retrieval head on one test-style sequence."""
    folder = root / RECALL / "transformer_2l"
    rec, task = read_recall(ev), recall_task(ev)
    if rec is None or rec.roles is None or task is None or not (folder / "config.json").is_file():
        return
    ckpt, error = try_load(folder)
    if ckpt is None:
        return st.caption(f"The recall transformer cannot be loaded: {error}")
    ids, labels = recall_example(task)
    layer, head = retrieval_head(rec.roles)
    pattern = recall_pattern(str(folder.resolve()), checkpoint_stamp(folder), ids, layer, head)
    st.subheader(f"The retrieval head, L{layer}.H{head}, on a recall sequence")
    title = "Each query key's row should light up at its pair's value, however far back"
    chart(head_heatmap(pattern, labels, title=title, height=640))


def live_q1() -> None:
    recall_head()
    models = {n: m for n in ("baseline", "lstm") if (m := trained(n))}
    if models:
        st.subheader("How far back each trained model's gradient reaches, on your prompt")
        profiles = {n: saliency(*m.key) for n, m in models.items()}
        chart(saliency_chart({n: p.share.tolist() for n, p in profiles.items()}))
        st.markdown(says.saliency_text(profiles))
    st.subheader("Time per training step as the sequence grows (measured here)")
    if not models:
        return st.caption("Needs the trained baseline or LSTM.")
    configs = json.dumps({n: m.ckpt.config.to_dict() for n, m in models.items()}, sort_keys=True)
    if st.button("Measure on this machine", key="cur_time"):
        with st.spinner("Timing training steps…"):
            st.session_state["cur_timing"] = (configs, timing(configs, LENGTHS))
    stored = st.session_state.get("cur_timing")
    if stored and stored[0] == configs:
        seconds = stored[1]
        chart(step_time_chart(LENGTHS, seconds))
        slopes = {n: cur.scaling_exponent(LENGTHS, s) for n, s in seconds.items()}
        chains = {
            n: tuple(cur.dependency_chain(m.ckpt.config, n_) for n_ in (LENGTHS[0], LENGTHS[-1]))
            for n, m in models.items()
        }
        st.markdown(says.timing_text(LENGTHS, seconds, slopes, chains))


def live_q2() -> None:
    st.subheader("Why divide by √d_head: the spread of q·k, measured on random vectors")
    s = dot_spread(D_HEADS)
    stds = {"q·k": s.std_unscaled, "q·k / √d_head": s.std_scaled}
    tops = {"q·k": s.max_weight_unscaled, "q·k / √d_head": s.max_weight_scaled}
    chart(dot_spread_chart(D_HEADS, stds, tops, s.n_keys))
    base = trained("baseline")
    d_head = base.ckpt.config.d_head if base else None
    st.markdown(says.spread_text(s, d_head, unscaled_outcome(ev)))
    trained_scores = {n: scores(*m.key) for n in ("baseline", "dot_unscaled") if (m := trained(n))}
    if trained_scores:
        st.subheader("The same spread in the trained models, on your prompt")
        st.markdown(says.score_spread_text(trained_scores))
    if base is not None:
        st.subheader("Every tensor of one attention layer, for your prompt")
        st.markdown(says.shapes_table(shapes(*base.key)))


def live_q3() -> None:
    base = trained("baseline")
    if base is not None:
        st.subheader("How alike the separate model's blocks are (weights; patterns on your prompt)")
        labels = [f"L{i}" for i in range(base.ckpt.config.n_layers)]
        weights, pats = similarity(*base.key)
        matrices(labels, {"Weights (cosine)": weights, "Attention patterns (cosine)": pats})
        st.markdown(says.similarity_text(weights, pats))
        trained_mlp, init_mlp = mlp_similarity(*base.key)
        st.subheader("How alike the separate blocks' MLPs are as functions (same inputs)")
        matrices(
            labels,
            {"MLP outputs, trained (cosine)": trained_mlp, "MLP outputs, at init": init_mlp},
        )
        st.markdown(says.mlp_similarity_text(trained_mlp, init_mlp))
    models = {n: m for n in ("baseline", "shared_layers", "narrow_separate") if (m := trained(n))}
    profiles = {n: depth(*m.key) for n, m in models.items()}
    if profiles:
        st.subheader("What each depth predicts through the unembedding (logit lens, your prompt)")
        n = max(len(p.lens_loss) for p in profiles.values())
        lens = {k: p.lens_loss for k, p in profiles.items()}
        blocks = [f"block {i}" for i in range(n)]
        chart(layer_lines(lens, blocks, title="Loss read off the stream", y_title="nats"))
        st.markdown(says.depth_text(profiles))


def live_q4() -> None:
    models = {n: m for n in ("baseline", "no_residual", "post_ln") if (m := trained(n))}
    curves = {
        f"{n}, {when}": collapse(*m.key, at_init)
        for n, m in models.items()
        if n != "post_ln"
        for at_init, when in ((True, "at init"), (False, "trained"))
    }
    if curves:
        st.subheader("Rank collapse on your prompt, at initialisation and after training")
        rows = residual_row_labels(max(len(c.cosine) for c in curves.values()) - 1)
        cosines = {k: c.cosine for k, c in curves.items()}
        chart(layer_lines(cosines, rows, title="Mean token cosine", y_title="cosine"))
        st.markdown(says.collapse_text(curves))
    if models:
        st.subheader("Gradient norm per block at initialisation (one backward pass of your prompt)")
        st.markdown(says.grad_init_text({n: grad_init(*m.key) for n, m in models.items()}))
    if "baseline" in models:
        st.subheader("Bypass the trained baseline's residual stream on your prompt")
        r = bypass(*models["baseline"].key)
        c1, c2 = st.columns(2)
        c1.metric("Loss, residual on (nats)", txt.num(r.loss_on))
        change = txt.signed(r.loss_off - r.loss_on)
        c2.metric(
            "Loss, residual bypassed", txt.num(r.loss_off), delta=change, delta_color="inverse"
        )
        st.markdown(says.bypass_text(r))


LIVE = {"Q1": live_q1, "Q2": live_q2, "Q3": live_q3, "Q4": live_q4}

# ------------------------------------------------------------------ the page

st.title("Curriculum: four questions, answered by experiment")
root = checkpoint_root()
stamp = records_stamp(root)
ev = evidence(str(root), stamp)
order = suite_order()
with st.sidebar:
    prompt = st.text_area("Your prompt (for the live parts)", key="cur_prompt", height=160)
    done = [n for n in order if n in ev.records]
    st.caption(f"Trained: {len(done)} of {len(order)} suite variants in `{root}`.")
    pending = [n for n in order if n not in ev.records]
    if pending:
        st.caption("Not trained yet: " + txt.names(pending) + ".")

keys = list(SECTIONS)
tabs = st.tabs([txt.QUESTIONS[k].tab for k in keys], key="cur_tab", on_change="rerun")
# stateful tabs: only the open one runs, so a visit computes one question, not five
for tab, key in zip(tabs, keys, strict=True):
    if tab.open:
        with tab, guard("Curriculum"):
            draw(section(key, str(root), stamp))
            if key in LIVE:
                st.subheader("Live, on your prompt")
                if prompt.strip():
                    LIVE[key]()
                else:
                    st.info("Type a prompt in the sidebar for the live parts.")

# After the open tab is on screen, build the other tabs' record-based sections and the model-free
# q·k spread (both cached), so opening another tab pays only for its own live measurements.
for key in keys:
    section(key, str(root), stamp)
dot_spread(D_HEADS)
