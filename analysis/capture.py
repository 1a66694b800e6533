"""One instrumented forward pass -> a typed bundle of numpy arrays: everything the pages draw.

Only the hook points the pages show are cached (TransformerLens's "run_with_cache uses a ton of
memory" lesson), and everything is converted to numpy once, here, so the cached result is plain
data that Streamlit can pickle and the figure builders can take as is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from model.generate import GenerationSettings, generate_stream
from model.hook_names import LayerNormName, hook_name, layernorm_module
from model.hooks import HookPoint
from model.switches import Switches, causal_mask_on

if TYPE_CHECKING:
    from jaxtyping import Float, Int

    from model.build import LanguageModel
    from model.tokenizers import Tokenizer

TOP_K = 5  # predictions kept per position for the top-k table


@dataclass(frozen=True)
class Capture:
    """A prompt's activations. Attention fields are None for a model without attention (LSTM)."""

    ids: Int[np.ndarray, " pos"]
    tokens: list[str]  # printable label per position
    losses: Float[np.ndarray, " pos"]  # nats; losses[i] predicts ids[i] from ids[:i]; [0] is NaN
    top_ids: Int[np.ndarray, "pos k"]  # the k likeliest next tokens predicted *at* position i
    top_probs: Float[np.ndarray, "pos k"]
    top_tokens: list[list[str]]
    stream: Float[np.ndarray, "layer_plus_1 pos d_model"]  # residual stream (LSTM: hidden states)
    stream_labels: list[str]  # row labels of `stream`: "embed", "after block 0", ...
    patterns: Float[np.ndarray, "layer head q_pos k_pos"] | None = None
    raw_scores: Float[np.ndarray, "layer head q_pos k_pos"] | None = None
    scaled_scores: Float[np.ndarray, "layer head q_pos k_pos"] | None = None
    masked_scores: Float[np.ndarray, "layer head q_pos k_pos"] | None = None
    q: Float[np.ndarray, "layer pos head d_head"] | None = None
    k: Float[np.ndarray, "layer pos head d_head"] | None = None
    v: Float[np.ndarray, "layer pos head d_head"] | None = None
    z: Float[np.ndarray, "layer pos head d_head"] | None = None
    ln_mean: Float[np.ndarray, "ln pos"] | None = None  # one row per LayerNorm that ran
    ln_std: Float[np.ndarray, "ln pos"] | None = None
    ln_labels: list[str] = field(default_factory=list)
    entropy: Float[np.ndarray, "layer head"] | None = None  # bits, mean over queries
    causal: bool = True  # whether the pass masked the future (`model.switches.causal_mask_on`)
    n_chars: int = 0  # characters the losses predict: the text after the first token

    @property
    def bits_per_char(self) -> float:
        """The prompt's loss in bits per character, which compares across tokenizers: a BPE
        token covers several characters, so nats per token of two tokenizers do not."""
        if self.n_chars <= 0 or self.losses.size < 2:
            return float("nan")
        return float(np.sum(self.losses[1:]) / math.log(2) / self.n_chars)

    @property
    def has_attention(self) -> bool:
        return self.patterns is not None

    @property
    def mean_loss(self) -> float:
        """Mean next-token loss over the prompt (NaN with fewer than two tokens)."""
        finite = self.losses[1:]
        return float(finite.mean()) if finite.size else float("nan")

    @property
    def resid_norms(self) -> Float[np.ndarray, "layer_plus_1 pos"]:
        return np.linalg.norm(self.stream, axis=-1)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every captured array by field name (for the NPZ export); absent fields are left out."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                out[f.name] = value
        return out


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def _entropy_bits(pattern: Float[Tensor, "layer head q_pos k_pos"]) -> np.ndarray:
    """interp.attention_stats.attention_entropy in float32 torch: the float64 numpy version costs
    ~30 ms at 256 tokens, a fifth of the page's budget. 0 * log 0 is 0 because the clamp keeps log
    finite."""
    p = pattern.float()
    return _numpy(-(p * p.clamp_min(1e-30).log2()).sum(-1).mean(-1))


# what the pages show of each attention layer (hook_result and the MLP are left out: not drawn)
_ATTENTION_SHOWN = ("q", "k", "v", "z", "raw_scores", "scaled_scores", "attn_scores", "pattern")
_BLOCK_LNS: tuple[LayerNormName, ...] = ("ln1", "ln2")


def layernorm_rows(model: LanguageModel) -> list[tuple[str, str]]:
    """(row label, hook prefix) of every LayerNorm the model has, in the order they run."""
    rows = [
        (f"L{layer} {ln}", layernorm_module(ln, layer))
        for layer in range(model.cfg.n_layers)
        for ln in _BLOCK_LNS
    ]
    rows.append(("final", layernorm_module("ln_final")))
    return [(label, prefix) for label, prefix in rows if f"{prefix}.hook_mean" in model.hook_dict]


def capture_hook_names(model: LanguageModel) -> list[str]:
    """Exactly the hook points `capture` reads for this model, nothing more."""
    names = list(model.stream_hooks())
    if not model.has_attention:
        return names
    for layer in range(model.cfg.n_layers):
        names += [hook_name(kind, layer) for kind in _ATTENTION_SHOWN]
    for _, prefix in layernorm_rows(model):
        names += [f"{prefix}.hook_mean", f"{prefix}.hook_std"]
    return names


def _losses_and_topk(
    logits: Float[Tensor, "pos vocab"], ids: Int[Tensor, " pos"], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    logp = F.log_softmax(logits.float(), dim=-1)
    losses = torch.full((ids.shape[0],), float("nan"))
    if ids.shape[0] > 1:
        # position i predicts token i + 1, so the loss of token i sits at logp[i - 1]
        losses[1:] = -logp[:-1].gather(-1, ids[1:, None]).squeeze(-1)
    top = logp.topk(min(k, logp.shape[-1]), dim=-1)
    return losses.numpy(), top.indices.numpy(), top.values.exp().numpy()


@torch.no_grad()
def capture(
    model: LanguageModel,
    tokenizer: Tokenizer,
    ids: tuple[int, ...],
    switches: Switches,
    top_k: int = TOP_K,
) -> Capture:
    """Run `ids` once with the given switches and collect every array the pages show."""
    if not ids:
        raise ValueError("capture needs at least one token")
    tokens = torch.tensor([ids], dtype=torch.long)
    labels = tokenizer.token_strings(list(ids))
    causal = causal_mask_on(model.cfg, switches)
    logits, cache = model.run_with_cache(tokens, names=capture_hook_names(model), switches=switches)
    stream = np.stack([_numpy(cache[n][0]) for n in model.stream_hooks()])
    extra: dict[str, Any] = {"causal": causal}
    if not model.has_attention:
        return _finish(
            logits[0], ids, labels, tokenizer, stream, model.stream_labels(), top_k, extra
        )

    n_layers = model.cfg.n_layers

    def stack(kind: str) -> np.ndarray:
        return _numpy(torch.stack([cache[hook_name(kind, i)][0] for i in range(n_layers)]))

    # LayerNorm hooks only fire when the LayerNorm runs (not when switched off), so look them up
    present = [(label, p) for label, p in layernorm_rows(model) if f"{p}.hook_mean" in cache]
    if present:
        extra["ln_mean"] = np.stack([_numpy(cache[f"{p}.hook_mean"][0]) for _, p in present])
        extra["ln_std"] = np.stack([_numpy(cache[f"{p}.hook_std"][0]) for _, p in present])
        extra["ln_labels"] = [label for label, _ in present]
    # [layer, head, q_pos, k_pos]
    pattern_t = torch.stack([cache[hook_name("pattern", i)][0] for i in range(n_layers)])
    extra.update(
        patterns=_numpy(pattern_t),
        raw_scores=stack("raw_scores"),
        scaled_scores=stack("scaled_scores"),
        masked_scores=stack("attn_scores"),
        q=stack("q"),
        k=stack("k"),
        v=stack("v"),
        z=stack("z"),
        entropy=_entropy_bits(pattern_t),
    )
    return _finish(logits[0], ids, labels, tokenizer, stream, model.stream_labels(), top_k, extra)


def _finish(
    logits: Tensor,
    ids: tuple[int, ...],
    labels: list[str],
    tokenizer: Tokenizer,
    stream: np.ndarray,
    stream_labels: list[str],
    top_k: int,
    extra: dict[str, Any],
) -> Capture:
    losses, top_ids, top_probs = _losses_and_topk(logits, torch.tensor(ids), top_k)
    n_chars = len(tokenizer.decode(list(ids))) - len(tokenizer.decode(list(ids[:1])))
    # one token_strings call for the whole table: per-row calls cost more than the forward pass
    flat = tokenizer.token_strings(top_ids.reshape(-1).tolist())
    k = top_ids.shape[1]
    top_tokens = [flat[i * k : (i + 1) * k] for i in range(top_ids.shape[0])]
    return Capture(
        ids=np.asarray(ids, dtype=np.int64),
        tokens=labels,
        losses=losses,
        top_ids=top_ids,
        top_probs=top_probs,
        top_tokens=top_tokens,
        stream=stream,
        stream_labels=stream_labels,
        n_chars=n_chars,
        **extra,
    )


# --- generation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationStep:
    """One sampled token and the attention of the query that predicted it.

    rows[layer, head, k] is the last query's pattern over the context at that step; the context is
    the `rows.shape[-1]` tokens ending at position `query_pos` (a sliding window once n_ctx is full).
    """

    token: int
    query_pos: int  # absolute position (in prompt + generated) of the predicting query
    rows: Float[np.ndarray, "layer head k_pos"] | None


def generate_with_attention(
    model: LanguageModel,
    ids: tuple[int, ...],
    settings: GenerationSettings,
    switches: Switches,
) -> Iterator[GenerationStep]:
    """Stream tokens through the KV cache, recording each step's attention of the newest query."""
    """Stream tokens through the KV cache, recording each step's attention of the newest query.

    The pattern hooks are installed around each step's forward pass only, never across a `yield`:
    while the caller holds the paused generator its context has no hooks of ours, and closing the
    generator (from any thread) has nothing to uninstall.
    """
    n_layers = model.cfg.n_layers
    rows: list[Tensor | None] = [None] * n_layers

    def keep_last_row(layer: int) -> Callable[[Tensor, HookPoint], None]:
        def hook(pattern: Tensor, _: HookPoint) -> None:
            rows[layer] = pattern[0, :, -1, :].detach().clone()  # [head, k_pos]

        return hook

    hooks = [(hook_name("pattern", i), keep_last_row(i)) for i in range(n_layers)]
    hooks = hooks if model.has_attention else []
    stream = generate_stream(model, torch.tensor([ids], dtype=torch.long), settings, switches)
    query_pos = len(ids) - 1
    try:
        while True:
            with model.hooks(hooks):
                nxt = next(stream, None)
            if nxt is None:
                return
            step_rows = None
            if hooks and all(r is not None for r in rows):
                step_rows = np.stack([_numpy(r) for r in rows if r is not None])
            yield GenerationStep(int(nxt[0]), query_pos, step_rows)
            query_pos += 1
    finally:
        stream.close()
