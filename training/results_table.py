"""Write the results tables of docs/results.md from the suite's records; never typed by hand.

    python -m training.results_table [--root checkpoints] [--suite configs/suite.toml] [--doc docs/results.md]

Replaces the text between the RESULTS markers in that page. Every number is a mean ± standard
deviation over the seeds of the variant's chosen recipe; a difference from the baseline smaller
than twice the larger of the two standard deviations is written "no clear difference". Variants the
suite lists but that have no record yet are listed as not trained, never left out silently.
Running it twice on the same records gives the same bytes.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from training.grid_slack import FinerGrid, finer_grid
from training.references import BLOCK, far_reading, position_ranges, range_means
from training.suite import read_suite
from training.suite_record import RECORD, Spread, VariantRecord, spec_changes
from training.verdict import judge

START, END = "<!-- RESULTS:START -->", "<!-- RESULTS:END -->"


def fmt(s: Spread | None, digits: int = 3) -> str:
    return "–" if s is None else s.text(digits, say_one_seed=True)


def compare(a: Spread | None, b: Spread | None, digits: int = 3) -> str:
    """a - b by the one rule of training/verdict.py."""
    v = judge(a, b)
    return "–" if v is None else v.text(digits)


def _recipe(r: VariantRecord) -> str:
    cells = []
    for g in r.recipe["grid"]:
        value = "diverged" if g.status != "completed" else f"{g.holdout_loss:.3f}"
        mark = "**" if g.point == r.recipe["chosen"] else ""
        cells.append(f"{mark}{g.point}: {value}{mark}")
    return "; ".join(cells) if cells else r.recipe.get("chosen", "–")


def _slack(r: VariantRecord) -> FinerGrid | None:
    bigram = r.references.get("bigram_loss") if r.references else None
    return finer_grid(
        r.recipe["grid"], str(r.recipe.get("chosen")), bigram if bigram is not None else math.inf
    )


def _finer(r: VariantRecord) -> str:
    f = _slack(r)
    if f is None:
        return "– (a neighbouring rung missing or not trained)"
    if f.slack < 0.0005:
        return f"< 0.001 (at lr ≈ {f.lr:.1e})"
    return f"-{f.slack:.3f} at lr ≈ {f.lr:.1e}"


def _full_curves(r: VariantRecord) -> list[list[float]]:
    """The seeds' loss-by-position curves of the longest length any seed has (at least 8)."""
    curves = [s.loss_by_position for s in r.seeds if s.loss_by_position]
    n = max((len(c) for c in curves), default=0)
    return [c for c in curves if len(c) == n and n >= 8]


def far_context(base: VariantRecord) -> str | None:
    """Whether the baseline's loss still falls past a quarter of the window, in the plain sense of
    the words (`references.far_reading` of its mean curve over seeds). Every seed (and every model)
    is scored on the same fixed windows, so each position holds the same slice of text for all of
    them: the blocks' ups and downs past the first dozens of positions are that text's (the LSTM's
    curve has them too), and the seed spread cannot show them."""
    curves = _full_curves(base)
    if not curves:
        return None
    r = far_reading([sum(col) / len(col) for col in zip(*curves, strict=True)])
    if r is None:
        return None
    n = len(curves[0])
    verdict = "still falls" if r.still_falls else "no longer falls: the gain is made before it"
    return (
        f"past position {r.quarter} the baseline's loss {verdict}. Its mean over positions "
        f"{r.half}–{n - 1} is {r.second_half:.3f} against {r.second_quarter:.3f} over "
        f"{r.quarter}–{r.half - 1} ({r.change:+.3f}); {BLOCK}-position blocks from {r.quarter} on "
        f"vary by ±{r.wobble:.3f} with the text the fixed evaluation windows put at each position"
    )


def position_table(records: list[VariantRecord]) -> list[str]:
    """Mean loss (over seeds) in each position range, for every language-model variant."""
    rows = [(r, _full_curves(r)) for r in records]
    rows = [(r, c) for r, c in rows if c]
    if not rows:
        return []
    n = len(rows[0][1][0])
    ranges = position_ranges(n)
    heads = [f"{a}" if a == b else f"{a}–{b}" for a, b in ranges]
    lines = [
        "",
        "Loss by position (nats/token, mean over seeds; each column a range of positions in the "
        f"{n}-token window, the first position predicted with no context):",
        "",
        "| variant | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(heads),
    ]
    for r, curves in rows:
        if len(curves[0]) != n:
            continue  # another window length: not on these columns
        seeds = [range_means(c) for c in curves]
        means = [sum(s[i] for s in seeds) / len(seeds) for i in range(len(ranges))]
        lines.append(f"| {r.name} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    return lines


def _grid_check(records: list[VariantRecord], base: VariantRecord) -> str:
    """Whether a finer grid could plausibly undo a clear verdict: a clear difference from the
    baseline no larger than the two variants' estimated slack together."""
    b = _slack(base)
    judged = []
    for r in records:
        v = judge(r.spread.get("val_loss"), base.spread.get("val_loss"))
        if r is base or v is None or not v.clear:
            continue
        f = _slack(r)
        slack = (f.slack if f else math.nan) + (b.slack if b else math.nan)
        judged.append((r.name, abs(v.delta), slack))
    if not judged:
        return "No clear difference from the baseline to check against the grid."
    checked = [(n, d, s) for n, d, s in judged if math.isfinite(s)]
    unsure = [f"{n} (|Δ| {d:.3f}, estimates {s:.3f})" for n, d, s in checked if not d > s]
    unknown = [n for n, _, s in judged if not math.isfinite(s)]
    larger = len(checked) - len(unsure)
    text = (
        f"Of the {len(judged)} clear difference{'s' if len(judged) > 1 else ''} from the baseline, "
        f"{larger} {'is' if larger == 1 else 'are'} larger than the two variants' finer-grid "
        "estimates together"
    )
    if checked and not unsure:
        text += f" (the largest such sum: {max(s for _, _, s in checked):.3f})"
    if unsure:
        text += "; a finer grid could plausibly undo " + "; ".join(unsure)
    if unknown:
        text += "; no estimate for " + ", ".join(unknown) + " (a neighbouring rung did not train)"
    return text + "."


def _status(r: VariantRecord) -> str:
    bad = [s for s in r.seeds if s.status != "completed"]
    if not bad:
        return "trained"
    return f"**{len(bad)}/{len(r.seeds)} seeds {bad[0].status}** (step {bad[0].steps})"


def bars(records: list[VariantRecord]) -> list[str]:
    """The suite's acceptance bars, checked against the records, one line each."""
    by = {r.name: r for r in records}
    out = []

    def line(ok: bool | None, text: str) -> None:
        mark = "not yet measured" if ok is None else ("met" if ok else "**not met**")
        out.append(f"- {text}: {mark}")

    base = by.get("baseline")
    if base is not None and base.spread.get("val_loss") and base.references:
        loss = base.spread["val_loss"].mean
        bpc = base.spread["val_bpc"].mean
        gain = base.spread["context_gain"].mean
        big = base.references["bigram_loss"]
        line(
            loss is not None and loss <= big - 0.5,
            f"baseline at least 0.5 nats below the count bigram ({fmt(base.spread['val_loss'])} vs {big:.3f})",
        )
        line(
            bpc is not None and bpc <= 2.45,
            f"baseline at most 2.45 bits per character ({fmt(base.spread['val_bpc'])})",
        )
        line(
            gain is not None and gain >= 0.3,
            f"baseline uses context: loss at position 2 minus mean over the second half of the context at least 0.3 nats ({fmt(base.spread['context_gain'])})",
        )
        far = far_context(base)
        if far is not None:
            out.append(f"- not a bar, where that gain is made: {far}")
    else:
        line(None, "baseline bars")
    leak = by.get("no_causal_mask")
    if leak is not None and base is not None and leak.mask_flip:
        s = leak.spread["val_loss"].mean
        back = leak.mask_flip["spread"]
        back_mean = back.mean if isinstance(back, Spread) else back["mean"]
        line(
            s is not None and s < 0.5,
            f"no_causal_mask's leaky validation loss below 0.5 nats ({fmt(leak.spread['val_loss'])})",
        )
        worse = (
            None
            if back_mean is None or base.spread["val_loss"].mean is None
            else back_mean - base.spread["val_loss"].mean
        )
        line(
            worse is not None and worse >= 1.0,
            f"no_causal_mask at least 1 nat worse than the baseline with the mask put back ({worse:+.3f})"
            if worse is not None
            else "no_causal_mask with the mask put back",
        )
    else:
        line(None, "no_causal_mask bars")
    for name in ("post_ln", "lstm"):
        r = by.get(name)
        if r is None or not r.references:
            line(None, f"{name} trains below the count bigram at its own best recipe")
            continue
        m = r.spread["val_loss"].mean
        line(
            m is not None and m < r.references["bigram_loss"],
            f"{name} trains below the count bigram at its own best recipe ({fmt(r.spread['val_loss'])} vs {r.references['bigram_loss']:.3f})",
        )
    return out


def compute(records: list[VariantRecord]) -> str:
    """What the records cost: every run they list once (a search point, and each further seed of
    the chosen point), its recorded wall time, and the devices that trained them."""
    seconds: list[float] = []
    devices: set[str] = set()
    for r in records:
        searched = {(g.point, g.seed) for g in r.recipe["grid"]}
        seconds += [g.seconds for g in r.recipe["grid"]]
        for s in r.seeds:
            devices.add(f"{s.device} ({s.precision})")
            if (r.recipe.get("chosen"), s.seed) not in searched:
                seconds.append(s.train_seconds)
    if not seconds:
        return "Compute: no runs recorded."
    seconds.sort()
    median = seconds[len(seconds) // 2]
    return (
        f"Compute recorded in these records: {len(seconds)} runs, {sum(seconds) / 3600:.1f} run-hours "
        f"of wall time (median run {median:.0f} s), trained on {', '.join(sorted(devices))}."
    )


def table(
    records: list[VariantRecord], pending: list[str], other: dict[str, list[str]] | None = None
) -> str:
    """other: pending variants whose record was written at another spec, and how it differs."""
    lm = [r for r in records if r.reversal is None]
    rev = [r for r in records if r.reversal is not None]
    base = next((r for r in lm if r.name == "baseline"), None)
    lines: list[str] = [
        "The suite's acceptance bars, checked against these records:",
        "",
        *bars(records),
        "",
    ]
    if base is not None and base.references:
        ref = base.references
        lines += [
            f"References on the same validation split ({base.tokenizer} tokens; count models fitted on "
            "the tokens the models trained on): count-unigram "
            f"{ref['unigram_loss']:.3f} nats/token ({ref['unigram_bpc']:.3f} bits/char), count-bigram "
            f"{ref['bigram_loss']:.3f} ({ref['bigram_bpc']:.3f} bits/char)"
            + (
                f", interpolated Kneser-Ney {ref['ngram_order']}-gram (the order the held-out "
                f"slice chose) {ref['ngram_loss']:.3f} ({ref['ngram_bpc']:.3f} bits/char)"
                if "ngram_loss" in ref
                else ""
            )
            + ".",
            "",
        ]
    lines += [compute(records), ""]
    lines += [
        "| variant | question | status | val loss (nats/token) | Δ vs baseline | bits/char | context gain | mask flipped | seeds | params | train s (wall, shipped seed) | device |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in lm:
        delta = (
            "–"
            if base is None or r is base
            else compare(r.spread.get("val_loss"), base.spread.get("val_loss"))
        )
        flip = r.mask_flip.get("spread") if r.mask_flip else None
        flip_text = "–"
        if flip is not None:
            flip_text = fmt(Spread(**flip) if isinstance(flip, dict) else flip)
            flip_text += (
                " (mask put back)" if not r.mask_flip["trained_with_mask"] else " (mask removed)"
            )
        lines.append(
            f"| {r.name} | {r.question} | {_status(r)} | {fmt(r.spread.get('val_loss'))} | {delta} "
            f"| {fmt(r.spread.get('val_bpc'))} | {fmt(r.spread.get('context_gain'))} | {flip_text} "
            f"| {len(r.seeds)} | {r.n_params:,} | {r.train_seconds:.0f} | {r.device} ({r.precision}) |"
        )
    for name in pending:
        status = "not trained yet"
        if other and name in other:
            changes = other[name]
            more = f"; {len(changes) - 3} more" if len(changes) > 3 else ""
            status = f"not trained at this spec (its record: {'; '.join(changes[:3])}{more})"
        lines.append(f"| {name} | | {status} | | | | | | | | | |")
    lines += position_table(lm)
    searched = [r for r in records if r.recipe["grid"] and len(r.recipe["grid"]) > 1]
    lines += [
        "",
        "Recipe search (held-out slice of the training split, first seed; the chosen point in bold). "
        "The last column fits a parabola in log(lr) through the chosen rung and its neighbours "
        "(`training/grid_slack.py`): how much lower its minimum is than the chosen rung, an "
        "estimate of what a finer grid might still buy.",
        "",
        "| variant | learning rate: held-out loss | finer grid (parabola minimum) |",
        "|---|---|---|",
    ]
    lines += [f"| {r.name} | {_recipe(r)} | {_finer(r)} |" for r in searched]
    if base is not None and searched:
        lines += ["", _grid_check(lm, base)]
    health = [r for r in lm if r.probe.get("token_cosine") and r.curve]
    if health:
        lines += [
            "",
            "| variant (shipped seed) | grad norm, first block / last block (last step) | token cosine after embedding → after last layer | attention entropy per layer (nats) |",
            "|---|---|---|---|",
        ]
        for r in health:
            g = next(
                (c["grad_norm_by_layer"] for c in reversed(r.curve) if "grad_norm_by_layer" in c),
                {},
            )
            layers = [k for k in g if k.startswith(("blocks.", "layers."))]
            ratio = g[layers[0]] / g[layers[-1]] if len(layers) > 1 and g[layers[-1]] else None
            cos = r.probe["token_cosine"]
            ent = next((c["attn_entropy"] for c in reversed(r.curve) if "attn_entropy" in c), None)
            lines.append(
                f"| {r.name} | {f'{ratio:.2f}' if ratio is not None else '–'} | {cos[0]:.3f} → {cos[-1]:.3f} "
                f"| {', '.join(f'{e:.2f}' for e in ent) if ent else '–'} |"
            )
    if rev:
        lines += [
            "",
            "| reversal task | first-half accuracy | second-half accuracy | chance | seeds |",
            "|---|---|---|---|---|",
        ]
        for r in rev:
            assert r.reversal is not None
            lines.append(
                f"| {r.name} | {fmt(r.spread.get('first_half_accuracy'))} | {fmt(r.spread.get('second_half_accuracy'))} "
                f"| {r.reversal['chance']:.3f} | {len(r.seeds)} |"
            )
    return "\n".join(lines)


def load_records(root: Path, order: list[str] | None = None) -> list[VariantRecord]:
    """Schema-2 records under root, in the suite's order when given (else by name)."""
    found = {p.parent.name: p.parent for p in root.glob(f"*/{RECORD}")}
    names = [n for n in order if n in found] if order else sorted(found)
    out = []
    for n in names:
        try:
            out.append(VariantRecord.read(found[n]))
        except (ValueError, KeyError, TypeError):
            continue  # an older record: not part of this suite's results
    return out


def render(root: Path, suite: Path) -> str:
    """The tables for the records under root, variants in the suite's order, pending ones listed.
    A record written from runs of another spec (an earlier budget, say) is listed as not trained at
    this one, with what differs, and compared with nothing."""
    spec = read_suite(suite)
    order = [v.name for v in spec.variants]
    records, other = [], {}
    for r in load_records(root, order):
        changes = spec_changes(spec, r)
        if changes:
            other[r.name] = changes
        else:
            records.append(r)
    done = {r.name for r in records}
    return table(records, [n for n in order if n not in done], other)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="checkpoints")
    parser.add_argument("--suite", default="configs/suite.toml")
    parser.add_argument(
        "--doc", "--readme", dest="doc", default="docs/results.md", help="the page to rewrite"
    )
    parser.add_argument("--print", action="store_true", help="print the tables, leave the page")
    args = parser.parse_args(argv)
    body = render(Path(args.root), Path(args.suite))
    if args.print:
        print(body)
        return 0
    page = Path(args.doc)
    text = page.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{page} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{START}\n{body}\n{END}{tail}")
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
