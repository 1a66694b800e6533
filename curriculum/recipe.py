"""The learning-rate search as the records hold it: which rate each variant got, which grid points
failed, and whether the rates it tried could be told apart at all."""

from __future__ import annotations

from curriculum.evidence import Evidence


def recipe_note(ev: Evidence, name: str) -> str | None:
    """The learning rate the search chose for `name` and the grid points that failed."""
    r = ev.get(name)
    if r is None:
        return None
    grid = r.recipe.get("grid", [])
    failed = sorted({g.point for g in grid if g.status != "completed"})
    tried = sorted({g.point for g in grid})
    text = f"**{name}**: recipe {r.recipe.get('chosen')} chosen on held-out training text"
    if len(tried) > 1:
        text += f" out of {', '.join(tried)}"
    if failed:
        text += f"; {', '.join(failed)} did not complete ({', '.join(sorted({g.status for g in grid if g.status != 'completed'}))})"
    bad = [s for s in r.seeds if s.status != "completed"]
    if bad:
        text += f"; {len(bad)} of {len(r.seeds)} seeds at the chosen recipe did not complete"
    return text + "."
