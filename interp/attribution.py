"""Direct logit attribution: what each head, each MLP and the embeddings write straight into one
token's logit (or the difference of two tokens' logits), per position.

An exact decomposition, not an approximation, once every LayerNorm between the stream and the
logits has its scale frozen at the value of this very forward pass. A LayerNorm with input
x = sum_c v_c computes w * (x - mean(x)) / s + b; with s frozen (the `hook_scale` it divided by)
that map is affine in x, so it distributes over the sum:

    LN(x) = sum_c  w * (v_c - mean(v_c)) / s   +   b

Each component keeps its own term, and b joins the bias terms. Pre-LN models pass through one
LayerNorm (the final one); post-LN models through every LayerNorm after the component's block,
each frozen the same way; no-LN models through none. The decomposition

    logit[pos] = sum(components) + sum(bias terms)                 (to float rounding)

then holds for every variant with a residual stream. Components: the token and positional
embeddings, each head's output (z times its slice of W_O), each MLP's output (its b_out
included: it is part of what the MLP writes). Bias terms: each layer's b_O, every LayerNorm's b,
and b_U. Without a residual stream the logits are not a sum of what components wrote (each
sublayer replaces the stream), so `direct_logit_attribution` raises `DecompositionError`.

Freezing the scale is what makes the parts add up; it also means a component's number says what
it adds *given* the normalisation this prompt produced, not what removing it would do (that is
what patching measures).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.layout import DecompositionError, StreamLayout, check_prompt, stream_layout
from model.hook_names import hook_name, layernorm_hook
from model.layernorm import LayerNorm
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer

Target = int | Int[Tensor, " pos"]


@dataclass(frozen=True)
class Attribution:
    """Contributions to `logit` at every position; `total` + `bias` = `logit` (to rounding)."""

    tokens: Int[Tensor, " pos"]
    target: Int[Tensor, " pos"]  # the token whose logit is attributed, per position
    versus: Int[Tensor, " pos"] | None  # subtracted token, per position (a logit difference)
    embed: Float[Tensor, " pos"]  # token embeddings
    pos_embed: Float[Tensor, " pos"]  # positional embeddings (zeros without them)
    heads: Float[Tensor, "layer head pos"]  # each head's output
    mlps: Float[Tensor, "layer pos"]  # each MLP's output
    bias_terms: dict[str, Float[Tensor, " pos"]]  # b_O per layer, LayerNorm b's, b_U
    logit: Float[Tensor, " pos"]  # the model's own logit (difference)
    frozen_scales: tuple[str, ...]  # hook names of the LayerNorm scales held fixed

    @property
    def bias(self) -> Float[Tensor, " pos"]:
        return sum(self.bias_terms.values(), torch.zeros_like(self.logit))

    @property
    def total(self) -> Float[Tensor, " pos"]:
        """Sum of the component contributions (bias terms excluded)."""
        return self.embed + self.pos_embed + self.heads.sum((0, 1)) + self.mlps.sum(0)

    @property
    def residual_error(self) -> Float[Tensor, " pos"]:
        """logit - (components + bias): float rounding only, the decomposition being exact."""
        return self.logit - self.total - self.bias


def _as_positions(target: Target, n_pos: int, vocab: int) -> Int[Tensor, " pos"]:
    t = torch.as_tensor(target)
    t = t.expand(n_pos).clone() if t.dim() == 0 else t
    if t.shape != (n_pos,):
        raise ValueError(
            f"a target is one token id or one per position ({n_pos}), got {tuple(t.shape)}"
        )
    if int(t.min()) < 0 or int(t.max()) >= vocab:
        raise ValueError(f"target ids must be in [0, {vocab})")
    return t


class _Stream:
    """The stream as named parts, each [pos, d_model], that sum to it exactly."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.is_bias: list[bool] = []
        self.parts: list[Tensor] = []

    def add(self, name: str, part: Float[Tensor, "pos d_model"], is_bias: bool = False) -> None:
        self.names.append(name)
        self.is_bias.append(is_bias)
        self.parts.append(part)

    def freeze_ln(self, ln: LayerNorm, scale: Float[Tensor, "pos 1"], name: str) -> None:
        """Pass every part through `ln` with its scale held at `scale`; its b becomes a bias part."""
        stack = torch.stack(self.parts)  # [part, pos, d_model]
        stack = ln.w * (stack - stack.mean(-1, keepdim=True)) / scale
        self.parts = list(stack.unbind(0))
        if ln.b is not None:
            self.add(f"{name}.b", ln.b.expand_as(self.parts[0]), is_bias=True)


def _required_hooks(layout: StreamLayout) -> list[str]:
    hooks = [hook_name("embed")] + ([hook_name("pos_embed")] if layout.positions else [])
    for layer in range(layout.n_layers):
        hooks += [hook_name("result", layer)] + [hook_name("mlp_out", layer)] * layout.mlp
        if layout.norm == "post":
            hooks += [layernorm_hook("ln1", "scale", layer)]
            hooks += [layernorm_hook("ln2", "scale", layer)] * layout.mlp
    if layout.final_ln:
        hooks.append(layernorm_hook("ln_final", "scale"))
    return hooks


def stream_parts(
    model: Transformer, tokens: Int[Tensor, " pos"], switches: Switches = NO_SWITCHES
) -> tuple[_Stream, Float[Tensor, "pos vocab"], tuple[str, ...]]:
    """The stream entering the unembedding as named parts (components, then bias terms), the
    model's logits, and the LayerNorm scales frozen to get there."""
    layout = stream_layout(model, switches)
    if not layout.residual:
        raise DecompositionError(
            "this model has no residual stream (residual=False or the residual switch is off): "
            "each sublayer replaces the stream instead of adding to it, so the logits are not a "
            "sum of what the heads and MLPs wrote. Use activation patching to measure effects."
        )
    hooks = _required_hooks(layout)
    frozen = tuple(h for h in hooks if h.endswith("hook_scale"))
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens[None], names=hooks, switches=switches)
        stream = _Stream()
        stream.add("embed", cache[hook_name("embed")][0])
        if layout.positions:
            stream.add("pos_embed", cache[hook_name("pos_embed")][0])
        for layer, block in enumerate(model.blocks):
            for head, out in enumerate(cache[hook_name("result", layer)][0].unbind(1)):
                stream.add(f"L{layer}H{head}", out)
            if block.attn.b_O is not None:
                stream.add(f"blocks.{layer}.attn.b_O", block.attn.b_O.expand_as(out), is_bias=True)
            if layout.norm == "post":
                scale = cache[layernorm_hook("ln1", "scale", layer)][0]
                stream.freeze_ln(block.ln1, scale, f"blocks.{layer}.ln1")
            if block.mlp is None:  # an attention-only block writes nothing more
                continue
            stream.add(f"L{layer}MLP", cache[hook_name("mlp_out", layer)][0])
            if layout.norm == "post":
                scale = cache[layernorm_hook("ln2", "scale", layer)][0]
                stream.freeze_ln(block.ln2, scale, f"blocks.{layer}.ln2")
        if layout.final_ln:
            stream.freeze_ln(
                model.ln_final, cache[layernorm_hook("ln_final", "scale")][0], "ln_final"
            )
    return stream, logits[0], frozen


def direct_logit_attribution(
    model: Transformer,
    tokens: Int[Tensor, "*one pos"],
    target: Target,
    versus: Target | None = None,
    *,
    switches: Switches = NO_SWITCHES,
) -> Attribution:
    """Each component's direct contribution to logit[pos, target] (minus logit[pos, versus]).

    target / versus: one token id for every position, or one per position (e.g. `tokens[1:]`
    padded, for the true next token). Raises DecompositionError without a residual stream.
    """
    layout = stream_layout(model, switches)
    tokens = check_prompt(model, tokens)
    n_pos = tokens.shape[0]
    stream, logits, frozen = stream_parts(model, tokens, switches)
    device = logits.device
    tgt = _as_positions(target, n_pos, model.cfg.vocab_size).to(device)
    vs = None if versus is None else _as_positions(versus, n_pos, model.cfg.vocab_size).to(device)
    with torch.no_grad():
        W_U = model.unembed.W_U  # [d_model, vocab]
        direction = W_U[:, tgt].T  # [pos, d_model]
        logit = logits.gather(-1, tgt[:, None])[:, 0]
        if vs is not None:
            direction = direction - W_U[:, vs].T
            logit = logit - logits.gather(-1, vs[:, None])[:, 0]
        each = (torch.stack(stream.parts) * direction).sum(-1).float().cpu()  # [part, pos]
        bias_terms = {
            name: each[i]
            for i, (name, is_bias) in enumerate(zip(stream.names, stream.is_bias, strict=True))
            if is_bias
        }
        b_U = model.unembed.b_U
        if b_U is not None:
            term = b_U[tgt] - (b_U[vs] if vs is not None else 0.0)
            bias_terms["unembed.b_U"] = term.float().cpu()
    by_name = dict(zip(stream.names, each, strict=True))
    zeros = torch.zeros(n_pos)
    heads = torch.stack(
        [
            torch.stack([by_name[f"L{layer}H{head}"] for head in range(layout.n_heads)])
            for layer in range(layout.n_layers)
        ]
    )
    # an attention-only block writes nothing besides its heads: its MLP term is exactly 0
    mlps = torch.stack([by_name.get(f"L{layer}MLP", zeros) for layer in range(layout.n_layers)])
    return Attribution(
        tokens=tokens.cpu(),
        target=tgt.cpu(),
        versus=None if vs is None else vs.cpu(),
        embed=by_name["embed"],
        pos_embed=by_name.get("pos_embed", zeros),
        heads=heads,
        mlps=mlps,
        bias_terms=bias_terms,
        logit=logit.float().cpu(),
        frozen_scales=frozen,
    )
