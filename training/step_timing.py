"""How long one training step of each model takes, measured side by side.

Wall times that runs record while they train are not comparable between runs: on a shared machine
the baseline's runs took 243 s to 769 s depending on what else was running. A comparison "at equal
training time" needs the models timed under the same conditions, so this trains each of them for
a few steps in turn, round after round, in one process and one thread, with the suite's own
training step (batch, context, bf16 autocast or not, AdamW with clipping; evaluation left out), on
this machine's CPU: whatever else the machine does weighs on every model alike, and the median
over rounds drops the rounds it disturbed most. With one thread (the default) the clock is this
process's CPU time, blind to the time other processes hold the core: on a machine whose cores are
busy with two suite runs, wall time put an LSTM's step at 0.72x the baseline's, CPU time minutes
later at 0.59x (what the two steps' costs predict). With several threads CPU time would count
threads spinning at barriers, so the clock is wall time there.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.build import build_model
from model.config import ModelConfig
from training.config import TrainConfig
from training.optim import build_optimizer


@dataclass(frozen=True)
class StepTiming:
    seconds: dict[str, float]  # median seconds per training step, by label
    rounds: int
    steps_per_round: int
    threads: int
    device: str  # always this machine's CPU: the timing never moves models to a GPU
    clock: str  # "cpu": this process's CPU time (one thread); "wall" with more threads

    def ratio(self, a: str, b: str) -> float:
        """How many of b's steps fit in the time of one of a's."""
        return self.seconds[a] / self.seconds[b]


def time_steps_side_by_side(
    models: Mapping[str, tuple[ModelConfig, TrainConfig]],
    *,
    rounds: int = 5,
    steps_per_round: int = 4,
    threads: int = 1,
    seed: int = 0,
) -> StepTiming:
    """Median over interleaved rounds of each model's mean step time (forward under the run's
    autocast, backward, gradient clipping, AdamW). Freshly initialised weights: a step's cost does
    not depend on what the weights have learned."""
    if rounds < 1 or steps_per_round < 1:
        raise ValueError("rounds and steps_per_round must be at least 1")
    clock_name = "cpu" if threads == 1 else "wall"
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        setups = {}
        for label, (cfg, train) in models.items():
            torch.manual_seed(seed)
            model = build_model(cfg.replace(dropout=0.0))
            model.train()
            gen = torch.Generator().manual_seed(seed)
            x = torch.randint(cfg.vocab_size, (train.batch_size, cfg.n_ctx + 1), generator=gen)
            cast = (
                torch.autocast("cpu", dtype=torch.bfloat16)
                if train.precision == "bfloat16"
                else nullcontext()
            )
            setups[label] = (model, build_optimizer(model, train), x, cast, train.grad_clip)

        def step(label: str) -> None:
            model, opt, x, cast, clip = setups[label]
            with cast:
                logits = model(x[:, :-1])
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)
            )
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            opt.zero_grad(set_to_none=True)

        with torch.enable_grad():
            for label in setups:  # warm-up: first-call allocations and kernel selection
                step(label)
            per_round: dict[str, list[float]] = {label: [] for label in setups}
            # process_time counts every thread of the process, idle pools included: with one
            # intra-op thread nothing else here works during a step
            clock = time.process_time if clock_name == "cpu" else time.perf_counter
            for _ in range(rounds):
                for label in setups:
                    t0 = clock()
                    for _ in range(steps_per_round):
                        step(label)
                    per_round[label].append((clock() - t0) / steps_per_round)
    finally:
        torch.set_num_threads(before)
    return StepTiming(
        {label: statistics.median(v) for label, v in per_round.items()},
        rounds,
        steps_per_round,
        threads,
        f"cpu:{platform.processor() or platform.machine()}",
        clock_name,
    )
