"""Question 1's isolating experiment: recall at a controlled distance (multi-query associative recall).

A sequence lists `n_pairs` key-value pairs (distinct keys), then a gap of random filler tokens of
random length (0 to `max_gap`), then asks for every key again in a random order, each query
followed by its value; filler pads the front so every sequence has the same length:

    f f  k7 v3  k2 v9  k5 v1  f f f f f f  k2 v9  k7 v3  k5 v1
                                            ^ predict v9: its pair is `distance` tokens back

Values are random, so the only way to predict the value after a query is to find the pair: a
transformer looks it up by content wherever it is (a previous-token head copies each key onto its
value, a second-layer head matches the query to it: induction); a recurrent network must have kept
it in its fixed-size state across `distance` tokens of other pairs. Accuracy by distance (binned in
powers of two, 1 to 4 * n_pairs) separates the two ways of handling time. This is the multi-query
associative recall task of Arora et al. (2023, "Zoology"), which measures the same gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

IGNORE = -100  # cross_entropy's ignore_index: targets that are not a recalled value


@dataclass(frozen=True)
class RecallTask:
    n_pairs: int = 16
    n_keys: int = 32  # ids 0 .. n_keys-1; then n_values value ids; then n_filler filler ids
    n_values: int = 32
    n_filler: int = 16
    max_gap: int = (
        160  # filler between the pairs and the queries: distances reach 4 * n_pairs + max_gap
    )
    # True: each pair is one token (id for (key, value)), so a query finds its answer with one
    # content match (one attention layer suffices); False: key and value are two tokens, and the
    # lookup needs a previous-token head composed with a matching head (induction: two layers)
    fused: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.n_pairs <= self.n_keys:
            raise ValueError(f"n_pairs must be in [1, n_keys={self.n_keys}], got {self.n_pairs}")

    @property
    def vocab(self) -> int:
        pair_tokens = self.n_keys * self.n_values if self.fused else 0
        return self.n_keys + self.n_values + pair_tokens + self.n_filler

    @property
    def pair_width(self) -> int:
        return 1 if self.fused else 2

    @property
    def length(self) -> int:
        return (self.pair_width + 2) * self.n_pairs + self.max_gap

    @property
    def n_ctx(self) -> int:
        return self.length - 1  # inputs: the sequence without its last token

    def bins(self) -> list[tuple[int, int]]:
        """Distance bins [lo, hi) in powers of two covering every possible distance."""
        out, lo = [], 1
        while lo < self.length:
            out.append((lo, min(2 * lo, self.length)))
            lo *= 2
        return out


def recall_batch(
    task: RecallTask, batch: int, generator: torch.Generator
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """(x, y, distance): y is IGNORE except at the values that follow a query; distance is how many
    positions back from the query (x) the pair's value sits (0 where y is IGNORE)."""
    p, n, w = task.n_pairs, task.length, task.pair_width
    keys = torch.argsort(torch.rand(batch, task.n_keys, generator=generator), dim=1)[:, :p]
    values = torch.randint(task.n_values, (batch, p), generator=generator)
    order = torch.argsort(torch.rand(batch, p, generator=generator), dim=1)  # query order
    gap = torch.randint(task.max_gap + 1, (batch, 1), generator=generator)
    filler_id = task.vocab - task.n_filler
    seq = torch.randint(task.n_filler, (batch, n), generator=generator) + filler_id
    pair_start = task.max_gap - gap  # [batch, 1]: the front padding
    query_start = n - 2 * p  # queries always end the sequence
    i = torch.arange(p)[None, :]
    rows = torch.arange(batch)[:, None]
    value_ids = values + task.n_keys
    if task.fused:
        pair_ids = task.n_keys + task.n_values + keys * task.n_values + values
        seq[rows, pair_start + i] = pair_ids
    else:
        seq[rows, pair_start + 2 * i] = keys
        seq[rows, pair_start + 2 * i + 1] = value_ids
    seq[:, query_start + 2 * i[0]] = keys.gather(1, order)
    seq[:, query_start + 2 * i[0] + 1] = value_ids.gather(1, order)
    x, y = seq[:, :-1], seq[:, 1:].clone()
    query_pos = query_start + 2 * i  # [1, p]: where each query key sits in x
    answer_pos = pair_start + w * order + (w - 1)  # [batch, p]: the token holding the answer
    distance = torch.zeros_like(y)
    distance[rows, query_pos] = query_pos - answer_pos
    scored = torch.zeros_like(y, dtype=torch.bool)
    scored[:, query_pos[0]] = True
    y[~scored] = IGNORE
    return x, y, distance
