"""Hugging Face GPT-2 -> our `Transformer`: config.json to `ModelConfig`, and each tensor's new
name and layout. The one place that knows GPT-2's file format.

GPT-2 stores its linear maps as Conv1D weights [in, out] (y = x @ W + b), which is already our
layout (W_in [d_model, d_mlp]; nn.Linear would be [out, in]), so no transposition is needed except
for an untied lm_head, an nn.Linear [vocab, d_model] that becomes W_U [d_model, vocab]. The fused
c_attn [d_model, 3 * d_model] holds Q, K and V side by side, each head's d_head columns in turn:
column (qkv * n_head + head) * d_head + j, which is split into W_Q/W_K/W_V [head, d_model, d_head].
"""

from __future__ import annotations

from typing import Any

from jaxtyping import Float
from torch import Tensor

from model.config import ModelConfig

ARCHITECTURE = "GPT2LMHeadModel"
# activation_function -> our `ModelConfig.gelu`: gelu_new is GPT-2's tanh approximation
_GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "gelu": "exact"}
# buffers some GPT-2 files carry: the causal mask and its fill value, rebuilt by our attention
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


class ConversionError(ValueError):
    """A config or tensor this converter cannot turn into our model; the message says why."""


def is_hf_config(data: Any) -> bool:
    """Whether a parsed config.json is a Hugging Face one (ours never has these keys)."""
    return isinstance(data, dict) and ("model_type" in data or "architectures" in data)


def _int(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConversionError(f"{key} must be an integer, got {value!r}")
    return value


def config_from_hf(data: dict[str, Any]) -> ModelConfig:
    """Our config for a GPT-2 family config.json (gpt2, distilgpt2, gpt2-medium/large/xl and
    fine-tunes of them). Anything with another architecture or a variant we do not compute the
    same way is refused with the reason."""
    archs = data.get("architectures") or [ARCHITECTURE]
    if data.get("model_type", "gpt2") != "gpt2" or archs != [ARCHITECTURE]:
        raise ConversionError(
            f"architecture {archs} (model_type {data.get('model_type')!r}) is not supported: "
            f"this lab loads the GPT-2 family ({ARCHITECTURE}, model_type 'gpt2') only"
        )
    act = data.get("activation_function", "gelu_new")
    if act not in _GELU:
        raise ConversionError(f"activation_function {act!r} is not supported ({sorted(_GELU)})")
    for flag in ("scale_attn_by_inverse_layer_idx", "add_cross_attention"):
        if data.get(flag):
            raise ConversionError(f"{flag}=true is not supported by this lab's attention")
    d_model, n_heads = _int(data, "n_embd", 768), _int(data, "n_head", 12)
    if n_heads <= 0 or d_model % n_heads:
        raise ConversionError(f"n_embd {d_model} is not a multiple of n_head {n_heads}")
    n_inner = data.get("n_inner")
    eps = data.get("layer_norm_epsilon", 1e-5)
    if isinstance(eps, bool) or not isinstance(eps, int | float):
        raise ConversionError(f"layer_norm_epsilon must be a number, got {eps!r}")
    try:
        return ModelConfig(
            vocab_size=_int(data, "vocab_size", 50257),
            n_ctx=_int(data, "n_positions", data.get("n_ctx", 1024)),
            d_model=d_model,
            n_layers=_int(data, "n_layer", 12),
            n_heads=n_heads,
            d_head=d_model // n_heads,
            d_mlp=4 * d_model if n_inner is None else _int(data, "n_inner"),
            gelu=_GELU[act],
            dropout=0.0,  # an inference model: the lab never trains these
            tied_embeddings=bool(data.get("tie_word_embeddings", True)),
            bias=True,
            ln_eps=float(eps),
            norm="pre",
            pos_encoding="learned",
            attn_score="scaled_dot" if data.get("scale_attn_weights", True) else "dot",
        )
    except (TypeError, ValueError) as e:
        raise ConversionError(f"its sizes are out of range ({e})") from None


def our_name(hf_name: str) -> str | None:
    """Our parameter name for one stored tensor; None for a tensor to skip (mask buffers, a tied
    lm_head). Prefixes "transformer." (save_pretrained) and none (the original upload) both work.
    The attention's c_attn gives "blocks.i.attn.qkv" / "qkv_bias", split by `split_qkv`."""
    name = hf_name.removeprefix("transformer.")
    if name.endswith(_IGNORED_SUFFIXES):
        return None
    fixed = {
        "wte.weight": "embed.W_E",
        "wpe.weight": "pos_embed.W_pos",
        "ln_f.weight": "ln_final.w",
        "ln_f.bias": "ln_final.b",
        "lm_head.weight": "unembed.W_U_own",
    }
    if name in fixed:
        return fixed[name]
    parts = name.split(".")
    if len(parts) < 4 or parts[0] != "h" or not parts[1].isdigit():
        raise ConversionError(f"unexpected tensor {hf_name!r} for {ARCHITECTURE}")
    block = f"blocks.{int(parts[1])}"
    rest = ".".join(parts[2:])
    per_block = {
        "ln_1.weight": "ln1.w",
        "ln_1.bias": "ln1.b",
        "ln_2.weight": "ln2.w",
        "ln_2.bias": "ln2.b",
        "attn.c_attn.weight": "attn.qkv",
        "attn.c_attn.bias": "attn.qkv_bias",
        "attn.c_proj.weight": "attn.W_O",
        "attn.c_proj.bias": "attn.b_O",
        "mlp.c_fc.weight": "mlp.W_in",
        "mlp.c_fc.bias": "mlp.b_in",
        "mlp.c_proj.weight": "mlp.W_out",
        "mlp.c_proj.bias": "mlp.b_out",
    }
    if rest not in per_block:
        raise ConversionError(f"unexpected tensor {hf_name!r} for {ARCHITECTURE}")
    return f"{block}.{per_block[rest]}"


def split_qkv(
    weight: Float[Tensor, "d_model qkv"], bias: Float[Tensor, " qkv"], n_heads: int
) -> dict[str, Tensor]:
    """c_attn's fused weight and bias as W_Q/W_K/W_V [head, d_model, d_head], b_Q/b_K/b_V
    [head, d_head]."""
    d_model = weight.shape[0]
    d_head = weight.shape[1] // (3 * n_heads)
    w = weight.reshape(d_model, 3, n_heads, d_head).permute(
        1, 2, 0, 3
    )  # [3, head, d_model, d_head]
    b = bias.reshape(3, n_heads, d_head)
    return {
        "W_Q": w[0],
        "W_K": w[1],
        "W_V": w[2],
        "b_Q": b[0],
        "b_K": b[1],
        "b_V": b[2],
    }


def convert_tensor(ours: str, tensor: Tensor, cfg: ModelConfig) -> Tensor:
    """A stored tensor in our layout (the split c_attn aside)."""
    if ours == "unembed.W_U_own":
        return tensor.T  # nn.Linear [vocab, d_model] -> W_U [d_model, vocab]
    if ours.endswith("attn.W_O"):
        return tensor.reshape(cfg.n_heads, cfg.d_head, cfg.d_model)  # [head, d_head, d_model]
    return tensor
