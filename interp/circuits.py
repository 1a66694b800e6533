"""Weight circuits (Elhage et al., "A Mathematical Framework for Transformer Circuits", 2021):
what a head does read off its weights, and the split of its scores into token and position terms.

Weights-only matrices (`full_qk`, `full_ov`, `positional_qk`) follow the direct path: the
embedding read straight by the head, the head's output read straight by the unembedding. In a
pre-LN model each LayerNorm on that path is folded in the way TransformerLens's `fold_ln` and
`center_writing_weights` do: the vectors are centred and multiplied by the LayerNorm's w, the
division by the per-token scale is left out (it is a positive number per token, which rescales a
row without changing which entries are large). Biases are left out. Token embeddings include
the sqrt(d_model) factor of `scale_embed` models, and W_pos the sinusoids' `pos_scale`.

`score_terms` is exact instead: it splits the raw scores (q.k, before the 1/sqrt(d_head) scale)
that the model computed for one prompt. For a dot-product score at layer 0 the query and key are
affine in the stream e + p (token plus positional embedding) once ln1's scale is frozen at this
prompt's values, so

    raw = (q_e + q_p + q_b) . (k_e + k_p + k_b)
        = tok_tok + tok_pos + pos_tok + pos_pos + bias

with q_e the query made from the token embedding alone, q_p from the positional one, q_b from
the biases (ln1's b, b_Q); `bias` collects every product with a bias factor and is 0 in a model
without biases. Conditions, each checked: layer 0 (later layers read what earlier heads and MLPs
wrote, not only e + p), a dot-product score (scaled_dot or dot; cosine normalises q and k, and
the additive score's tanh is not bilinear). Post-LN, no-LN and no-residual models read e + p
unnormalised at layer 0, so there nothing is frozen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.layout import DecompositionError, check_prompt, stream_layout
from model.hook_names import hook_name, layernorm_hook
from model.layernorm import LayerNorm
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

# [vocab, vocab] per head gets large quickly: 16 heads of a 1024-token BPE model are 64 MB
MAX_CIRCUIT_VOCAB = 512


def _fold(ln: LayerNorm | None, v: Float[Tensor, "n d_model"]) -> Float[Tensor, "n d_model"]:
    """A pre-LN LayerNorm's weights-only effect: centre, multiply by w (scale left out)."""
    if ln is None:
        return v
    return (v - v.mean(-1, keepdim=True)) * ln.w


def token_embeddings(model: Transformer) -> Float[Tensor, "vocab d_model"]:
    W_E = model.embed.W_E
    return W_E * math.sqrt(model.cfg.d_model) if model.cfg.scale_embed else W_E


def _reads(model: Transformer, layer: int, v: Tensor) -> Tensor:
    """What the attention of `layer` reads of vectors v written into the stream (direct path)."""
    block = model.blocks[layer]
    return _fold(block.ln1 if model.cfg.norm == "pre" else None, v)


def _check_vocab(model: Transformer) -> None:
    if model.cfg.vocab_size > MAX_CIRCUIT_VOCAB:
        raise ValueError(
            f"full [vocab, vocab] circuits are for small (character-level) vocabularies; this "
            f"model has {model.cfg.vocab_size} tokens (limit {MAX_CIRCUIT_VOCAB})"
        )


def full_qk(model: Transformer, layer: int, head: int) -> Float[Tensor, "vocab vocab"]:
    """W_E W_Q W_K^T W_E^T: how much a query token attends to a key token, from the weights alone
    (rows: query token, columns: key token; unscaled by 1/sqrt(d_head))."""
    _check_vocab(model)
    attn = model.blocks[layer].attn
    with torch.no_grad():
        e = _reads(model, layer, token_embeddings(model))
        return (e @ attn.W_Q[head]) @ (e @ attn.W_K[head]).T


def full_ov(model: Transformer, layer: int, head: int) -> Float[Tensor, "vocab vocab"]:
    """W_E W_V W_O W_U: the logits a head writes when it attends to a source token (rows: the
    attended token, columns: the output token). A copying head has a bright diagonal."""
    _check_vocab(model)
    attn = model.blocks[layer].attn
    with torch.no_grad():
        e = _reads(model, layer, token_embeddings(model))
        out = e @ attn.W_V[head] @ attn.W_O[head]  # [vocab, d_model]
        if model.ln_final is not None:
            out = _fold(model.ln_final, out)
        return out @ model.unembed.W_U


def positional_qk(
    model: Transformer, layer: int, head: int, n_pos: int | None = None
) -> Float[Tensor, "q_pos k_pos"]:
    """W_pos W_Q W_K^T W_pos^T: the head's preference among positions from the weights alone."""
    if model.pos_embed is None:
        raise DecompositionError("this model has no positional embeddings (pos_encoding='none')")
    attn = model.blocks[layer].attn
    with torch.no_grad():
        p = _reads(model, layer, model.pos_embed.W_pos[: n_pos or model.cfg.n_ctx])
        return (p @ attn.W_Q[head]) @ (p @ attn.W_K[head]).T


@dataclass(frozen=True)
class ScoreTerms:
    """A layer-0 head's raw scores split into what tokens and positions contribute (float64)."""

    tok_tok: Float[Tensor, "head q_pos k_pos"]  # query token . key token
    tok_pos: Float[Tensor, "head q_pos k_pos"]  # query token . key position
    pos_tok: Float[Tensor, "head q_pos k_pos"]  # query position . key token
    pos_pos: Float[Tensor, "head q_pos k_pos"]  # query position . key position
    bias: Float[Tensor, "head q_pos k_pos"]  # every product with a bias factor (0 without biases)
    raw: Float[Tensor, "head q_pos k_pos"]  # the model's own hook_raw_scores
    frozen_scale: str | None  # the LayerNorm scale held at this prompt's values, if any

    @property
    def total(self) -> Float[Tensor, "head q_pos k_pos"]:
        return self.tok_tok + self.tok_pos + self.pos_tok + self.pos_pos + self.bias


def score_terms(
    model: Transformer,
    tokens: Int[Tensor, "*one pos"],
    layer: int = 0,
    *,
    switches: Switches = NO_SWITCHES,
) -> ScoreTerms:
    """The exact four-term (plus bias) split of layer 0's raw scores; see the module docstring."""
    layout = stream_layout(model, switches)
    tokens = check_prompt(model, tokens)
    if layer != 0:
        raise DecompositionError(
            f"score terms are exact at layer 0 only: layer {layer} reads what earlier heads and "
            "MLPs wrote, not just token plus position"
        )
    if model.cfg.attn_score not in ("scaled_dot", "dot"):
        raise DecompositionError(
            f"attn_score={model.cfg.attn_score!r} is not bilinear in q and k (cosine normalises "
            "them, additive passes q + k through tanh): only dot-product scores split into terms"
        )
    block = model.blocks[0]
    scale_hook = layernorm_hook("ln1", "scale", 0) if layout.norm == "pre" else None
    hooks = [hook_name("embed"), hook_name("raw_scores", 0)] + ([scale_hook] if scale_hook else [])
    if layout.positions:
        hooks.append(hook_name("pos_embed"))
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens[None], names=hooks, switches=switches)
        # float64 so that the terms' own rounding is far below the float32 raw scores' rounding
        e = cache[hook_name("embed")][0].double()  # [pos, d_model]
        p = cache[hook_name("pos_embed")][0].double() if layout.positions else torch.zeros_like(e)
        beta = torch.zeros_like(e[0])
        if scale_hook is not None:
            ln, s = block.ln1, cache[scale_hook][0].double()  # s: [pos, 1]
            w = ln.w.double()
            e = (e - e.mean(-1, keepdim=True)) * w / s
            p = (p - p.mean(-1, keepdim=True)) * w / s
            if ln.b is not None:
                beta = ln.b.double()
        attn = block.attn
        W_Q, W_K = attn.W_Q.double(), attn.W_K.double()

        def project(v: Tensor, W: Tensor) -> Tensor:
            return torch.einsum("pm,hmd->hpd", v, W)  # [head, pos, d_head]

        q_e, q_p = project(e, W_Q), project(p, W_Q)
        k_e, k_p = project(e, W_K), project(p, W_K)
        q_b = torch.einsum("m,hmd->hd", beta, W_Q)[:, None]  # [head, 1, d_head]
        k_b = torch.einsum("m,hmd->hd", beta, W_K)[:, None]
        if attn.b_Q is not None and attn.b_K is not None:
            q_b = q_b + attn.b_Q.double()[:, None]
            k_b = k_b + attn.b_K.double()[:, None]

        def dot(q: Tensor, k: Tensor) -> Tensor:
            return q @ k.transpose(-1, -2)  # [head, q_pos, k_pos]

        q_all = q_e + q_p
        bias = dot(q_b.expand_as(q_e), k_e + k_p + k_b) + dot(q_all, k_b.expand_as(k_e))
        return ScoreTerms(
            tok_tok=dot(q_e, k_e).cpu(),
            tok_pos=dot(q_e, k_p).cpu(),
            pos_tok=dot(q_p, k_e).cpu(),
            pos_pos=dot(q_p, k_p).cpu(),
            bias=bias.cpu(),
            raw=cache[hook_name("raw_scores", 0)][0].double().cpu(),
            frozen_scale=scale_hook,
        )


@dataclass(frozen=True)
class HeadCircuits:
    """Everything the circuits view shows for one head; a part that does not exist for this
    model is None, with the reason in `missing`."""

    layer: int
    head: int
    qk: Float[Tensor, "vocab vocab"] | None  # full_qk
    ov: Float[Tensor, "vocab vocab"] | None  # full_ov
    pos_qk: Float[Tensor, "q_pos k_pos"] | None  # positional_qk over the prompt's positions
    terms: ScoreTerms | None  # layer 0 only (the terms of every head of layer 0)
    missing: dict[str, str]  # part -> why it is absent


def head_circuits(
    model: Transformer,
    layer: int,
    head: int,
    tokens: Int[Tensor, "*one pos"],
    *,
    switches: Switches = NO_SWITCHES,
) -> HeadCircuits:
    tokens = check_prompt(model, tokens)
    parts: dict[str, object] = {}
    missing: dict[str, str] = {}
    makers = {
        "qk": lambda: full_qk(model, layer, head).cpu(),
        "ov": lambda: full_ov(model, layer, head).cpu(),
        "pos_qk": lambda: positional_qk(model, layer, head, len(tokens)).cpu(),
        "terms": lambda: score_terms(model, tokens, layer, switches=switches),
    }
    for part, make in makers.items():
        try:
            parts[part] = make()
        except (DecompositionError, ValueError) as e:
            parts[part], missing[part] = None, str(e)
    return HeadCircuits(layer, head, missing=missing, **parts)  # type: ignore[arg-type]
