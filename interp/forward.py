"""The tail of `Transformer.forward` from any block on: what patching reruns.

A patch at layer l leaves every earlier layer as it was, so patching starts from the cached
stream entering block l instead of from the tokens; and a metric read at one position needs the
unembedding there only; and in a causal model a patch at position p changes nothing before p, so
only positions from p on need computing, the earlier ones entering as a KV cache. Mirrors `Transformer.forward` after the embeddings (kept in step by
`tests/test_interp.py::test_forward_from_layer_0_equals_the_model`).
"""

from __future__ import annotations

from collections.abc import Sequence

from jaxtyping import Float
from torch import Tensor

from model.kv_cache import LayerKV
from model.switches import NO_SWITCHES, Switches
from model.transformer import Transformer


def unembed_stream(
    model: Transformer, x: Float[Tensor, "batch pos d_model"], switches: Switches = NO_SWITCHES
) -> Float[Tensor, "batch pos vocab"]:
    """Final LayerNorm (pre-LN models only) and unembedding, as the model's last step."""
    if model.ln_final is not None:
        x = model.ln_final(x, enabled=switches.layernorm)
    return model.unembed(x)


def forward_from(
    model: Transformer,
    layer: int,
    resid_pre: Float[Tensor, "batch pos d_model"],
    switches: Switches = NO_SWITCHES,
    position: int | None = None,
    prefix: Sequence[LayerKV] | None = None,
) -> Float[Tensor, "batch out_pos vocab"]:
    """Logits from the stream entering block `layer`; only at `position` (kept as a length-1
    pos axis) when given.

    prefix: keys and values of earlier positions for each block from `layer` on, when
    `resid_pre` holds only the later positions of the prompt (a causal model's patch at position
    p leaves every position before p as it was). Extended in place, as a KV cache is.
    """
    if prefix is not None and len(prefix) != len(model.blocks) - layer:
        raise ValueError(f"prefix needs one LayerKV per block from {layer} on")
    x = resid_pre
    for i, block in enumerate(model.blocks[layer:]):
        x = block(x, switches, None, None if prefix is None else prefix[i])
    if position is not None:
        x = x[:, [position]]  # a list index keeps the pos axis
    return unembed_stream(model, x, switches)
