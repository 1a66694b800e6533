"""The learning-rate search as the records hold it: which rate each variant got, which grid points
failed, and whether the rates it tried could be told apart at all."""

from __future__ import annotations

from dataclasses import dataclass

from curriculum.evidence import Evidence, fmt
from training.suite_record import Spread, VariantRecord
from training.verdict import CLEAR, judge


@dataclass(frozen=True)
class GridTie:
    """The completed grid points' held-out losses (one seed each), when they all lie within the
    verdict rule's bar of each other: the seed std of the held-out loss at the chosen rate."""

    losses: list[tuple[str, float]]  # (grid point, held-out loss)
    std: float  # seed std of the held-out loss at the chosen rate

    @property
    def span(self) -> float:
        values = [v for _, v in self.losses]
        return max(values) - min(values)


def grid_tie(r: VariantRecord) -> GridTie | None:
    done = [
        (g.point, g.holdout_loss)
        for g in r.recipe.get("grid", [])
        if g.status == "completed" and g.holdout_loss is not None
    ]
    s = r.spread.get("holdout_loss")
    if len(done) < 2 or s is None or s.std is None:
        return None
    tie = GridTie(done, s.std)
    return tie if tie.span < CLEAR * s.std else None


def at_unigram(r: VariantRecord) -> tuple[Spread, float] | None:
    """(val loss spread, count unigram loss) when the two cannot be told apart by the verdict rule:
    a model that predicts each token's overall frequency, whatever came before."""
    s, refs = r.spread.get("val_loss"), r.references or {}
    uni = refs.get("unigram_loss")
    if s is None or s.mean is None or uni is None:
        return None
    v = judge(s, Spread(uni, 0.0, 1))
    return (s, uni) if v is not None and v.label == "no clear difference" else None


def recipe_note(ev: Evidence, name: str) -> str | None:
    """The learning rate the search chose for `name`, whether the rates tried tie, and the grid
    points that failed."""
    r = ev.get(name)
    if r is None:
        return None
    grid = r.recipe.get("grid", [])
    chosen = r.recipe.get("chosen")
    failed = sorted({g.point for g in grid if g.status != "completed"})
    tried = sorted({g.point for g in grid})
    tie, unigram = grid_tie(r), at_unigram(r)
    if tie is None:
        text = f"**{name}**: recipe {chosen} chosen on held-out training text"
        if len(tried) > 1:
            text += f" out of {', '.join(tried)}"
    else:
        losses = ", ".join(f"{v:.4f} ({p})" for p, v in tie.losses)
        text = (
            f"**{name}**: {'every rate failed alike' if unigram else 'the rates tie'}: held-out "
            f"losses {losses} span {tie.span:.4f}, under twice the seed std of the held-out loss "
            f"({CLEAR * tie.std:.4f}), so {chosen} won a tie, not a comparison"
        )
    if unigram is not None:
        s, uni = unigram
        text += (
            f". Its validation loss, {fmt(s)} nats, is the count unigram's {uni:.3f} (no clear "
            "difference): the model predicts each token's overall frequency, whatever came before"
        )
    if failed:
        statuses = ", ".join(sorted({g.status for g in grid if g.status != "completed"}))
        text += f"; {', '.join(failed)} did not complete ({statuses})"
    bad = [s for s in r.seeds if s.status != "completed"]
    if bad:
        text += f"; {len(bad)} of {len(r.seeds)} seeds at the chosen recipe did not complete"
    return text + "."
