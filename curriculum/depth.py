"""Question 4 from the records, step by step: how the gradient reaching the first block compares
with the last's from initialisation on, when the stream collapses, and what that leaves for depth
to show. A median over training would mix the state before collapse with the state after it, and
read a consequence as a cause; every number here is tied to its step."""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis.curriculum import depth_ratio, grad_norm_at_init, grad_norm_series
from curriculum.evidence import Evidence
from curriculum.series import health
from model.config import ModelConfig
from training.suite_record import VariantRecord

UNDIMINISHED = (0.5, 2.0)  # first block over last: the gradient reaches block 0 about as strong
VANISHED = 1e-2  # first block over last: under this, block 0 is left out of training
UNIFORM = 0.99  # attention entropy over that of uniform attention: every key looks alike
COLLAPSED = 0.999  # mean token cosine: every position carries the same vector


@dataclass(frozen=True)
class GradByStep:
    """The shipped seed's gradient norms per block: at initialisation, then at each evaluation."""

    steps: list[int]  # 0 (initialisation, when measured) then the evaluation steps
    groups: dict[str, list[float]]  # group ("embed", "blocks.0" ..) -> its norm at each step
    ratios: list[float | None]  # first block over last at each step
    at_init: bool  # steps[0] is the initialisation, rebuilt from the record
    uniform_from: int | None  # first evaluation where attention past block 0 is uniform


def init_norms(r: VariantRecord) -> dict[str, float] | None:
    """The gradient norms of the shipped seed's own initial weights (its config, built after
    seeding with its seed, as training does) on the record's fixed batch of training text; None
    for a record without a config or a fixed batch."""
    rows = (r.fixed_batch or {}).get("tokens")
    if not r.model_config or not rows:
        return None
    try:
        cfg = ModelConfig.from_dict(r.model_config)
        return grad_norm_at_init(cfg, rows, seed=r.shipped_seed)
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def grad_by_step(ev: Evidence, name: str) -> GradByStep | None:
    r = ev.get(name)
    if r is None:
        return None
    steps, groups = grad_norm_series(r.curve)
    if not steps:
        return None
    init = init_norms(r)
    if init is not None:
        steps = [0, *steps]
        groups = {g: [init.get(g, math.nan), *v] for g, v in groups.items()}
    ratios = [depth_ratio({g: v[i] for g, v in groups.items()}) for i in range(len(steps))]
    h, uniform_from = health(ev, name), None
    if h is not None:
        uniform_from = next(
            (
                s
                for s, ent in zip(h.steps, h.entropy, strict=True)
                if len(ent) > 1 and min(ent[1:]) >= UNIFORM * h.uniform_entropy
            ),
            None,
        )
    return GradByStep(steps, groups, ratios, init is not None, uniform_from)


def _ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2g}"


def grad_sentence(name: str, g: GradByStep) -> str:
    """The first block's gradient over the last's, by step, and what the steps say about cause."""
    pts = list(zip(g.steps, g.ratios, strict=True))
    evals = pts[1:] if g.at_init else pts
    said = [f"{_ratio(x)} at initialisation" for _, x in pts[:1] if g.at_init]
    shown = evals if len(evals) <= 4 else [evals[0], evals[1], evals[len(evals) // 2], evals[-1]]
    said += [f"{_ratio(x)} at step {s:,}" for s, x in shown]
    text = f"**{name}**: first block over last " + ", ".join(said)
    init = pts[0][1] if g.at_init else None
    gone = next((s for s, x in evals if x is not None and x < VANISHED), None)
    if init is not None and UNDIMINISHED[0] <= init <= UNDIMINISHED[1] and gone is not None:
        text += (
            ". At initialisation the gradient reaches the first block undiminished, so vanishing "
            f"gradients did not stop training from starting; by step {gone:,} it has vanished"
        )
        if g.uniform_from is not None and g.uniform_from <= gone:
            text += (
                f", and from step {g.uniform_from:,} attention past the first block is uniform "
                "(every key alike to every query, as when all positions carry one vector): the "
                "stream had collapsed by then. The gradient was whole when training began, so it "
                "vanished with the collapse or after it, not before it"
            )
    elif gone is None and all(x is not None and x >= UNDIMINISHED[0] for _, x in pts):
        text += ". The first block's gradient never falls far below the last's"
    return text + "."


def grad_note(ev: Evidence, names: tuple[str, ...]) -> str:
    """One line per model with gradient norms in its record."""
    lines = [grad_sentence(n, g) for n in names if (g := grad_by_step(ev, n)) is not None]
    if not lines:
        return ""
    return (
        "Gradient norm of the first block over the last, by step (shipped seed, one seed each, "
        "so no verdict; initialisation is the seed's own initial weights on the record's fixed "
        "batch, later steps the training batch at each evaluation):\n"
        + "\n".join(f"- {line}" for line in lines)
    )


def collapse_block(r: VariantRecord) -> tuple[int, float] | None:
    """(block, cosine): the first block after which the record's mean token cosine (a fixed batch
    of validation text, end of training) reaches COLLAPSED; None when it never does."""
    cosines = r.probe.get("token_cosine") or []
    for i, c in enumerate(cosines[1:]):  # index 0 is the embedding
        if isinstance(c, int | float) and c >= COLLAPSED:
            return i, float(c)
    return None


def depth_limits(ev: Evidence, n_layers: int, name: str = "no_residual") -> str:
    """What n_layers blocks cannot show about skips, given what the records already show."""
    r = ev.get(name)
    hit = collapse_block(r) if r is not None else None
    if hit is None:
        return (
            f"{n_layers} blocks are shallow: failures that grow with depth (vanishing gradients, "
            f"rank collapse over dozens of layers) can only be hinted at."
        )
    block, cosine = hit
    return (
        f"Rank collapse needs no depth here: without skips every position carries the same vector "
        f"(mean token cosine {cosine:.3f}) after block {block} of {n_layers} (blocks 0–"
        f"{n_layers - 1}; shipped seed, a fixed batch of validation text). What {n_layers} blocks "
        "cannot show is how these failures scale: at what depth a model with skips starts to "
        "lose its gradient or its differences between tokens, and whether other remedies "
        "(initialisation, normalisation) carry a skip-free model deeper."
    )
