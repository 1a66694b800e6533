"""Question 2 from the records: score functions, the d_head sweep, and the unscaled model's
attention health over training."""

from __future__ import annotations

from curriculum import answers
from curriculum import evidence as E
from curriculum.evidence import Evidence
from curriculum.series import health
from views.curriculum_section import Chart, Section, bars, make_section, suite_facts
from views.curriculum_text import setup
from viz.curriculum import band_lines, health_chart, layer_lines

SCORES = ("baseline", *E.changing("attn_score"))  # the score functions, from the suite spec


def sweep_params(ev: Evidence) -> str:
    """With the head count fixed, d_head also sets the attention's parameter count: say so, with
    the records' counts, so a difference there is not read as d_head's alone."""
    fams = E.d_head_curve(ev)
    fixed = next((pts for name, pts in fams.items() if "d_head varies" in name), [])
    counts = [
        (p.d_head, r.n_params) for p in fixed if (r := ev.get(p.name)) is not None and r.n_params
    ]
    if len(counts) < 2:
        return ""
    listed = ", ".join(
        (f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k") + f" at d_head {d}"
        for d, n in sorted(counts)
    )
    return (
        f"With the head count fixed, the parameter count moves with d_head ({listed}), so that "
        "family mixes the two; with n_heads × d_head fixed it stays the same. "
    )


def build(ev: Evidence) -> Section:
    fams = E.d_head_curve(ev)
    charts: list[Chart | None] = [
        bars(
            ev,
            list(SCORES),
            "Validation loss by score function",
        )
    ]
    xs = sorted({p.d_head for pts in fams.values() for p in pts})
    series = {}
    for family, pts in fams.items():
        if len(pts) > 1:  # the baseline alone is no curve
            by_d = {p.d_head: p.val_loss for p in pts}
            series[family] = (
                [by_d[x].mean if x in by_d else float("nan") for x in xs],
                [(by_d[x].std or 0.0) if x in by_d else 0.0 for x in xs],
            )
    if series:
        fig = band_lines(
            series,
            xs,
            title="The d_head sweep",
            x_title="d_head",
            y_title="val loss (nats/char)",
            log_x=True,
        )
        charts.append(Chart(fig, "Mean ± std over seeds; the baseline sits in both families."))
    hs = {n: h for n in SCORES if (h := health(ev, n)) is not None}
    if hs:
        charts.append(
            Chart(
                health_chart({n: (h.steps, h.entropy, h.max_logit) for n, h in hs.items()}),
                "Shipped seed; measured at every evaluation on a fixed batch of training text. "
                "The largest score is what reaches the softmax (for cosine: the cosine times its "
                "learned temperature).",
            )
        )
    learned = {n: h.entropy[-1] for n in SCORES if (h := health(ev, n)) is not None}
    if learned:
        depth = [f"L{i}" for i in range(max(len(v) for v in learned.values()))]
        fig = layer_lines(
            learned,
            depth,
            title="What each score function learned: attention entropy per layer",
            y_title="nats (end of training)",
        )
        charts.append(
            Chart(fig, "Shipped seed, fixed batch of training text; low = sharp attention.")
        )
    experiment = (
        "The baseline scores q·k/√d_head. Variants drop the scale, use cosine similarity with a "
        "learned temperature, or an additive score; a sweep changes d_head with the head count "
        "fixed, and with n_heads × d_head fixed. " + sweep_params(ev) + setup(suite_facts(ev))
    )
    return make_section("Q2", ev, answers.q2(ev), experiment, charts)
