"""Sampling with temperature, top-k and top-p, streamed through a cache of the past.

Works for any language model with `forward(tokens, switches=..., kv_cache=...)`, `new_cache()` and an
`n_ctx` (the transformer's KV cache; the LSTM's recurrent state). Hooks installed around the call
(`with model.hooks(...)`) see every step, so the app can show the attention of generated tokens.

Reaching the context length: a transformer's positions are absolute, so cached keys cannot be
shifted. Once prompt + generated tokens fill n_ctx, each further step re-encodes the last n_ctx - 1
tokens without the cache (a sliding window): the logits equal a full recomputation over that window.

Without a causal mask, earlier positions attend to later ones, so cached keys go stale as the text
grows: such models are always decoded by recomputation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from model.field_types import Bounds, check_bounds, check_types
from model.switches import NO_SWITCHES, Switches, causal_mask_on

# Below this a sampled token is the argmax in all but name (float32 logits a hundredth apart differ
# by e^10 at T=1e-3), and far below it logits / T overflowed to inf and softmax gave NaN: 0 says
# "greedy" plainly.
MIN_TEMPERATURE = 1e-3


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 100  # tokens to sample, at least 1
    temperature: float = 1.0  # 0 means greedy; otherwise at least MIN_TEMPERATURE
    top_k: int | None = None  # keep only the k most likely tokens (k >= 1)
    top_p: float | None = None  # keep the smallest set whose probability reaches p, 0 < p <= 1
    seed: int | None = None  # fixed seed -> the same sample every time
    use_cache: bool = (
        True  # False recomputes the whole window each step (the benchmark's reference)
    )

    def __post_init__(self) -> None:
        # settings come from widgets and scripts; unchecked, a bad one surfaces as a RuntimeError
        # from torch (topk, multinomial on NaN) or as an empty result
        check_types(GenerationSettings, vars(self))
        check_bounds(self, _BOUNDS)
        if self.temperature != 0 and self.temperature < MIN_TEMPERATURE:
            raise ValueError(
                f"GenerationSettings.temperature must be 0 (greedy) or at least "
                f"{MIN_TEMPERATURE:g}, got {self.temperature!r}"
            )


_BOUNDS = {
    "max_new_tokens": Bounds(low=1),
    "temperature": Bounds(low=0.0),
    "top_k": Bounds(low=1),
    "top_p": Bounds(low=0.0, high=1.0, low_open=True),
    "seed": Bounds(low=0, high=2**63 - 1),
}


def sample_next(
    logits: Float[Tensor, "batch vocab"],
    settings: GenerationSettings,
    generator: torch.Generator | None,
) -> Int[Tensor, " batch"]:
    if settings.temperature <= 0:
        return logits.argmax(-1)
    # the max first: large logits over a small temperature stay finite (no inf - inf = NaN)
    logits = (logits - logits.max(-1, keepdim=True).values) / settings.temperature
    if settings.top_k is not None and settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p is not None and settings.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        sorted_probs = sorted_logits.softmax(-1)
        # drop a token when the ones before it already reach top_p; the most likely always stays
        drop_sorted = (sorted_probs.cumsum(-1) - sorted_probs) >= settings.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate_stream(
    model: Any,
    tokens: Int[Tensor, "batch pos"],
    settings: GenerationSettings,
    switches: Switches = NO_SWITCHES,
) -> Iterator[Int[Tensor, " batch"]]:
    """Yield one sampled token per step for every sequence of the batch."""
    if tokens.dim() != 2 or tokens.shape[1] == 0:
        raise ValueError(
            f"prompt must be a non-empty [batch, pos] tensor, got {tuple(tokens.shape)}"
        )
    generator = None
    if settings.seed is not None:
        generator = torch.Generator(device=tokens.device).manual_seed(settings.seed)
    n_ctx = model.n_ctx
    context = tokens[:, -n_ctx:]
    causal = causal_mask_on(model.cfg, switches)
    use_cache = settings.use_cache and causal
    cache = model.new_cache(tokens.shape[0]) if use_cache else None
    logits = model(context, switches=switches, kv_cache=cache)[:, -1]
    for step in range(settings.max_new_tokens):
        nxt = sample_next(logits.float(), settings, generator)
        yield nxt
        if step == settings.max_new_tokens - 1:
            break
        context = torch.cat([context, nxt[:, None]], dim=1)
        if cache is not None and cache.length < n_ctx:
            logits = model(nxt[:, None], switches=switches, kv_cache=cache)[:, -1]
        else:
            # no cache, or the window is full: re-encode the last n_ctx tokens from scratch
            context = context[:, -n_ctx:]
            if cache is not None:
                cache = model.new_cache(tokens.shape[0])
            logits = model(context, switches=switches, kv_cache=cache)[:, -1]


def generate(
    model: Any, tokens: Int[Tensor, "batch pos"], settings: GenerationSettings, **kwargs: Any
) -> Int[Tensor, "batch new"]:
    """All sampled tokens at once: [batch, max_new_tokens]."""
    return torch.stack(list(generate_stream(model, tokens, settings, **kwargs)), dim=1)
