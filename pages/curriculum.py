"""Curriculum: four first-principles questions answered by the shipped experiments and by the
user's own prompt, plus the mask check, LAMBADA and generations side by side.

Every number in the prose comes from `analysis.curriculum` (records or live measurements) through
the templates of `views.curriculum_text`. A section whose data is missing says so and the rest
of the page still renders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from analysis import curriculum as cur
from analysis.prompts import EXAMPLES, prepare_prompt
from model.checkpoint import Checkpoint
from model.config import ModelConfig
from ui.state import STRICT_ENV, init_state, load_model, stamp_of, try_load
from views import curriculum_text as txt
from viz.attention import head_heatmap
from viz.curriculum import (
    dot_spread_chart,
    grad_norm_chart,
    layer_head_map,
    layer_lines,
    params_scatter,
    reversal_chart,
    saliency_chart,
    similarity_matrix,
    step_time_chart,
)
from viz.curves import metric_bars, training_curves
from viz.stats import residual_row_labels

LENGTHS = (16, 32, 64, 128, 256)  # the timing sweep; short enough to run in seconds here
D_HEADS = (4, 8, 16, 32, 64, 128, 256)
PLOT = {"displaylogo": False}

init_state({"cur_prompt": EXAMPLES["Shakespeare (longer)"], "cur_seed": 0, "cur_n_tokens": 40})


@contextmanager
def section(title: str) -> Iterator[None]:
    """A failure inside one section becomes a warning there; the page goes on."""
    try:
        yield
    except Exception as e:
        if os.environ.get(STRICT_ENV):
            raise
        st.warning(f"{title}: this part could not be drawn ({type(e).__name__}: {str(e)[:200]}).")


def chart(fig) -> None:
    st.plotly_chart(fig, width="stretch", config=PLOT)


# --------------------------------------------------------------------------- cached live work
# keyed by (checkpoint path, modification stamp, token ids): small hashable things, never arrays


@st.cache_data(max_entries=128, show_spinner=False)
def measured(kind: str, path: str, stamp: float, ids: tuple[int, ...]):
    """`analysis.curriculum.measure(kind, ...)` once per (kind, checkpoint, stamp, prompt)."""
    ckpt = load_model(path, stamp)
    return cur.measure(kind, ckpt.model, ckpt.tokenizer, ids)


@st.cache_data(max_entries=4, show_spinner=False)
def spread(d_heads: tuple[int, ...]) -> cur.DotSpread:
    return cur.dot_product_spread(d_heads)


@st.cache_data(max_entries=64, show_spinner=False)
def sample(path: str, stamp: float, ids: tuple[int, ...], n_tokens: int, seed: int) -> str:
    ckpt = load_model(path, stamp)
    return cur.sample_text(ckpt.model, ckpt.tokenizer, ids, n_tokens, seed)


@st.cache_data(max_entries=4, show_spinner=False)
def timing(configs_json: str, lengths: tuple[int, ...]) -> dict[str, list[float]]:
    configs = {k: ModelConfig.from_dict(v) for k, v in json.loads(configs_json).items()}
    return cur.time_training_steps(configs, lengths)


# --------------------------------------------------------------------------- page helpers

shipped = cur.scan()
TOLD: set[str] = set()  # variants whose missing checkpoint the page has already mentioned


def load(name: str) -> Checkpoint | None:
    if name not in shipped.checkpoints:
        return None
    ckpt, error = try_load(shipped.checkpoints[name])
    if error:
        st.warning(f"`{name}`: {error}")
    return ckpt


def live(name: str, prompt: str) -> tuple[Checkpoint, str, float, tuple[int, ...]] | None:
    """(checkpoint, cache path, stamp, prompt ids) for a shipped model, or None with a message."""
    ckpt = load(name)
    if ckpt is None:
        if name not in TOLD:  # once per page run, not once per section
            st.info(
                f"`{name}` has no checkpoint here yet: the live parts that need it are skipped."
            )
            TOLD.add(name)
        return None
    prepared = prepare_prompt(prompt, ckpt.tokenizer, ckpt.config.n_ctx)
    if not prepared.ok or len(prepared.ids) < 2:
        reasons = " ".join(m.text for m in prepared.messages) or "Too few tokens."
        st.info(f"`{name}` cannot analyse this prompt: {reasons}")
        return None
    return ckpt, str(Path(ckpt.path).resolve()), stamp_of(ckpt), prepared.ids


def say(markdown: str) -> None:
    """An explanation; nothing when its numbers were all missing."""
    if markdown:
        st.markdown(markdown)


def note_missing(names: list[str]) -> None:
    absent = shipped.missing(names)
    if absent:
        st.info(txt.missing(absent))


# --------------------------------------------------------------------------- sections


def q1(prompt: str) -> None:
    st.header("1 · Transformer vs LSTM: how are recurrence and time handled?")
    st.markdown(
        "An LSTM reads one token after another and carries a state; a transformer looks at every "
        "earlier position at once through attention and learns order only from positional encodings."
    )
    with section("Step time"):
        st.subheader("Time per training step as the sequence grows")
        models = {n: c for n in ("baseline", "lstm") if (c := load(n)) is not None}
        if not models:
            st.info(txt.missing(["baseline", "lstm"]))
        else:
            configs = json.dumps({n: c.config.to_dict() for n, c in models.items()}, sort_keys=True)
            if st.button("Measure on this machine", key="cur_time"):
                with st.spinner("Timing training steps…"):
                    st.session_state["cur_timing"] = (configs, timing(configs, LENGTHS))
            stored = st.session_state.get("cur_timing")
            if stored and stored[0] == configs:
                seconds = stored[1]
                chart(step_time_chart(LENGTHS, seconds))
                slopes = {n: cur.scaling_exponent(LENGTHS, s) for n, s in seconds.items()}
                chains = {
                    n: (
                        cur.dependency_chain(c.config, LENGTHS[0]),
                        cur.dependency_chain(c.config, LENGTHS[-1]),
                    )
                    for n, c in models.items()
                }
                say(txt.timing_text(LENGTHS, seconds, slopes, chains))
            else:
                st.caption(
                    f"Times forward + backward + update of freshly initialised copies of "
                    f"{txt.names(list(models))} at lengths {', '.join(map(str, LENGTHS))} (median of 3)."
                )
    with section("Saliency"):
        st.subheader("How much each earlier token moves the prediction")
        profiles = {}
        for name in ("baseline", "lstm"):
            got = live(name, prompt)
            if got is not None:
                profiles[name] = measured("saliency", *got[1:])
        if profiles:
            chart(saliency_chart({n: p.share.tolist() for n, p in profiles.items()}))
            say(txt.saliency_text(profiles))
    with section("Positions"):
        st.subheader("What the model without positional encoding loses")
        names = ["baseline", "no_pos", "learned_pos"]
        note_missing(names)
        checks = {}
        for name in ("baseline", "no_pos"):
            got = live(name, prompt)
            if got is not None:
                checks[name] = measured("order", *got[1:])
        say(txt.no_pos_text(cur.finals(shipped, names, "val_loss"), checks))


def q2(prompt: str) -> None:
    st.header("2 · Q, K, V: their dimensions, and other ways to compare a query with a key")
    with section("Shapes"):
        st.subheader("The shapes, live, for your prompt")
        got = live("baseline", prompt)
        if got is not None:
            ckpt, *key = got
            c = ckpt.config
            st.dataframe(measured("shapes", *key), hide_index=True, width="stretch")
            say(txt.shapes_text(len(key[2]), c.d_model, c.n_heads, c.d_head))
    with section("Score functions"):
        st.subheader("Scaled, unscaled, additive and cosine scores")
        names = list(cur.SCORE_VARIANTS)
        note_missing(names)
        runs = cur.curves(shipped, names, "val_loss")
        if runs:
            chart(training_curves(runs, y=("val_loss",), title="Validation loss by score function"))
        entropies = {
            n: e for n in names if (e := cur.mean_probe_entropy(shipped.record(n))) is not None
        }
        if entropies:
            chart(
                metric_bars(
                    entropies,
                    title="Mean attention entropy (bits)",
                    y_title="bits",
                    reference="baseline" if "baseline" in entropies else None,
                    fmt=".2f",
                )
            )
        diverged = {n: s for n in names if (s := cur.divergence(shipped.record(n))) is not None}
        st.markdown(
            txt.score_variants_text(cur.finals(shipped, names, "val_loss"), entropies, diverged)
        )
    with section("Scaling"):
        st.subheader("Why divide by √d_k: the spread of q·k, measured")
        ckpt = load("baseline")
        model_d = ckpt.config.d_head if ckpt is not None else None
        d_heads = tuple(sorted(set(D_HEADS) | ({model_d} if model_d else set())))
        s = spread(d_heads)
        chart(
            dot_spread_chart(
                d_heads,
                {"q·k": s.std_unscaled, "q·k / √d_head": s.std_scaled},
                {"q·k": s.max_weight_unscaled, "q·k / √d_head": s.max_weight_scaled},
                s.n_keys,
            )
        )
        say(txt.spread_text(s, model_d))


def q3(prompt: str) -> None:
    st.header("3 · Are the layers different at each block?")
    with section("Parameters"):
        names = ["baseline", "shared_layers"]
        note_missing(names)
        points = {}
        for n in names:
            params, loss = (
                cur.number(shipped.record(n).get("n_params")),
                cur.final_metric(shipped.record(n), "val_loss"),
            )
            if params is not None and loss is not None:
                points[n] = (params, loss)
        if points:
            chart(params_scatter(points))
            say(txt.shared_params_text(points))
    with section("Layer similarity"):
        st.subheader("How alike the separate model's layers turned out")
        got = live("baseline", prompt)
        if got is not None:
            ckpt, *key = got
            labels = [f"L{i}" for i in range(ckpt.config.n_layers)]
            weights = measured("weights", *key)
            pats = cur.pattern_similarity(measured("patterns", *key))
            c1, c2 = st.columns(2)
            with c1:
                chart(similarity_matrix(weights, labels, title="Weights (cosine)"))
            with c2:
                chart(similarity_matrix(pats, labels, title="Attention patterns on your prompt"))
            say(txt.similarity_text(weights, pats))
    with section("Depth"):
        st.subheader("What each depth does (the shared model reuses one block)")
        profiles = {}
        for name in ("shared_layers", "baseline"):
            got = live(name, prompt)
            if got is not None:
                profiles[name] = measured("depth", *got[1:])
        if profiles:
            n = max(len(p.lens_loss) for p in profiles.values())
            chart(
                layer_lines(
                    {k: p.lens_loss for k, p in profiles.items()},
                    [f"block {i}" for i in range(n)],
                    title="Loss read off the stream after each block (logit lens)",
                    y_title="nats",
                )
            )
            say(txt.depth_text(profiles))


def q4(prompt: str) -> None:
    st.header("4 · Why so many skip connections, and what if we didn't?")
    names = ["baseline", "no_residual"]
    note_missing(names)
    with section("Loss curves"):
        runs = cur.curves(shipped, names, "train_loss")
        if runs:
            chart(training_curves(runs, title="Training and validation loss"))
        diverged = {n: s for n in names if (s := cur.divergence(shipped.record(n))) is not None}
        say(txt.residual_curves_text(cur.finals(shipped, names, "val_loss"), diverged))
    with section("Gradients"):
        series = {n: cur.grad_norm_series(cur.record_curve(shipped.record(n))) for n in names}
        series = {n: s for n, s in series.items() if s[0]}
        if series:
            chart(grad_norm_chart(series))
            st.markdown(
                txt.grad_text(
                    {n: cur.depth_ratio(cur.median_over_steps(s[1])) for n, s in series.items()}
                )
            )
    with section("Stream statistics"):
        norms = {n: v for n in names if (v := cur.probe_list(shipped.record(n), "residual_norm"))}
        cosines = {n: v for n in names if (v := cur.probe_list(shipped.record(n), "token_cosine"))}
        if norms or cosines:
            n_rows = max(len(v) for v in [*norms.values(), *cosines.values()])
            rows = residual_row_labels(n_rows - 1)
            c1, c2 = st.columns(2)
            if norms:
                with c1:
                    chart(
                        layer_lines(
                            norms,
                            rows,
                            title="Residual-stream norm",
                            y_title="mean L2 norm",
                            log_y=True,
                        )
                    )
            if cosines:
                with c2:
                    chart(
                        layer_lines(
                            cosines, rows, title="Mean pairwise token cosine", y_title="cosine"
                        )
                    )
            say(txt.probe_text(norms, cosines))
    with section("Bypass"):
        st.subheader(
            "The same question at inference: bypass the trained baseline's residual stream"
        )
        got = live("baseline", prompt)
        if got is not None:
            ckpt, *key = got
            r = measured("bypass", *key)
            c1, c2 = st.columns(2)
            c1.metric("Loss, residual on (nats)", txt.num(r.loss_on))
            c2.metric(
                "Loss, residual bypassed",
                txt.num(r.loss_off),
                delta=txt.signed(r.loss_off - r.loss_on),
                delta_color="inverse",
            )
            table = [
                {
                    "rank": i + 1,
                    "residual on": f"{a[0]} ({txt.pct(a[1])})",
                    "bypassed": f"{b[0]} ({txt.pct(b[1])})",
                }
                for i, (a, b) in enumerate(zip(r.top_on, r.top_off, strict=False))
            ]
            st.dataframe(table, hide_index=True, width="stretch")
            rows = residual_row_labels(ckpt.config.n_layers)
            chart(
                layer_lines(
                    {"residual on": r.cosine_on, "bypassed": r.cosine_off},
                    rows,
                    title="Mean pairwise token cosine on your prompt",
                    y_title="cosine",
                )
            )
            say(txt.bypass_text(r))


def mask_check() -> None:
    st.header("The mask check: reversing a random sequence")
    names = list(cur.REVERSAL_VARIANTS)
    note_missing(names)
    with section("Reversal"):
        summaries = {
            n: s for n in names if (s := cur.reversal_summary(shipped.record(n))) is not None
        }
        if summaries:
            first = next(iter(summaries.values()))
            chart(
                reversal_chart(
                    {n: s.accuracy for n, s in summaries.items() if s.length == first.length},
                    first.length,
                    first.chance,
                )
            )
        future = cur.probe_matrix(shipped.record("reversal_unmasked"), "future_attention")
        if future is not None:
            chart(
                layer_head_map(
                    future,
                    title="Unmasked model: share of attention on future positions",
                    value_name="share",
                    zmax=1.0,
                )
            )
        say(txt.reversal_text(summaries, cur.future_summary(future)))
        probe = cur.reversal_probe(shipped.record("reversal_unmasked"))
        if probe is not None:
            pats, labels = probe
            c1, c2 = st.columns(2)
            layer = c1.selectbox("Layer", range(pats.shape[0]), key="cur_rev_layer")
            head = c2.selectbox("Head", range(pats.shape[1]), key="cur_rev_head")
            chart(
                head_heatmap(
                    pats[layer, head],
                    labels,
                    title=f"Unmasked model, L{layer} H{head}: keys right of the diagonal are the future",
                    height=480,
                )
            )
    unmasked_lm()


def unmasked_lm() -> None:
    st.subheader("The same in the language model: `no_causal_mask`")
    names = ["baseline", "no_causal_mask"]
    note_missing(names)
    with section("Unmasked language model"):
        future = cur.probe_matrix(shipped.record("no_causal_mask"), "future_attention")
        if future is not None:
            chart(
                layer_head_map(
                    future,
                    title="no_causal_mask: share of attention on future positions",
                    value_name="share",
                    zmax=1.0,
                )
            )
        say(
            txt.unmasked_lm_text(cur.finals(shipped, names, "val_loss"), cur.future_summary(future))
        )


def lambada() -> None:
    st.header("LAMBADA: predicting a passage's last word")
    names = list(cur.LM_VARIANTS)
    with section("LAMBADA"):
        runs = cur.curves(shipped, names, "lambada_loss")
        results = cur.lambada_results(shipped, names)
        if not runs and not results:
            st.info(txt.missing(shipped.missing(names) or names))
            return
        if runs:
            chart(
                training_curves(
                    runs,
                    y=("lambada_loss",),
                    title="LAMBADA last-word loss during training",
                    y_title="nats per word",
                )
            )
        accs = {n: r["accuracy"] for n, r in results.items() if "accuracy" in r}
        if accs:
            chart(
                metric_bars(
                    accs,
                    title="LAMBADA last-word accuracy",
                    y_title="accuracy",
                    reference="baseline" if "baseline" in accs else None,
                )
            )
        say(txt.lambada_text(results))
        absent = shipped.missing(names)
        if absent:
            st.caption(txt.missing(absent))


def generations(prompt: str) -> None:
    st.header("Generations side by side")
    settings = f"temperature {cur.SAMPLE_TEMPERATURE}, top-k {cur.SAMPLE_TOP_K}"
    with section("Recorded generations"):
        st.subheader("Recorded at the end of training")
        by_prompt = cur.samples_by_prompt(shipped, list(cur.LM_VARIANTS))
        if not by_prompt:
            st.info("No variant has recorded samples yet.")
        else:
            st.caption(f"Each variant's recorded sample: same prompt, same seed, {settings}.")
            chosen = st.selectbox(
                "Prompt",
                list(by_prompt),
                key="cur_sample_prompt",
                format_func=lambda p: p.replace("\n", " ⏎ "),
            )
            for name, text in by_prompt[chosen].items():
                st.markdown(f"**{name}**")
                st.text(chosen + text)
    with section("Live generations"):
        st.subheader("Live, from your prompt")
        lm = [n for n in cur.LM_VARIANTS if n in shipped.checkpoints]
        if not lm:
            st.info("No language-model checkpoint is here yet.")
            return
        c1, c2 = st.columns(2)
        seed = int(c1.number_input("Seed", 0, 2**31 - 1, key="cur_seed"))
        n_tokens = int(c2.slider("New tokens", 10, 120, key="cur_n_tokens"))
        if st.button(f"Generate from all {len(lm)} variants", key="cur_generate"):
            st.session_state["cur_generated"] = (prompt, seed, n_tokens)
        if st.session_state.get("cur_generated") == (prompt, seed, n_tokens):
            st.caption(f"Seed {seed}, {n_tokens} new tokens, {settings}.")
            for name in lm:
                got = live(name, prompt)
                if got is not None:
                    st.markdown(f"**{name}**")
                    st.text(prompt + sample(*got[1:], n_tokens, seed))


# --------------------------------------------------------------------------- the page

st.title("Curriculum: four questions, answered by experiment")
with st.sidebar:
    prompt = st.text_area("Your prompt (for the live parts)", key="cur_prompt", height=160)
    st.caption(
        f"Records found: {len(shipped.records)} of {len(cur.VARIANTS)} variants in `{shipped.root}`."
    )
if not shipped.records and not shipped.checkpoints:
    st.info(
        f"No trained variants in `{shipped.root}` yet: run `python -m training.experiments`. "
        "Each section below fills in as records appear."
    )

SECTIONS = {
    "Q1 · time": lambda: q1(prompt),
    "Q2 · Q, K, V": lambda: q2(prompt),
    "Q3 · layers": lambda: q3(prompt),
    "Q4 · skips": lambda: q4(prompt),
    "Mask check": mask_check,
    "LAMBADA": lambada,
    "Generations": lambda: generations(prompt),
}
# stateful tabs: only the open one runs, so a first visit does not compute all seven sections
for tab, draw in zip(
    st.tabs(list(SECTIONS), key="cur_tab", on_change="rerun"), SECTIONS.values(), strict=True
):
    if tab.open:
        with tab:
            draw()
