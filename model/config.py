"""The one typed configuration of a transformer, including its train-time ablation switches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from model.field_types import Bounds, check_bounds, check_types

Norm = Literal["pre", "post", "none"]
PosEncoding = Literal["sinusoidal", "learned", "none"]
AttnScore = Literal["scaled_dot", "dot", "additive", "cosine"]
Architecture = Literal["transformer", "lstm"]
Gelu = Literal["tanh", "exact"]


_UNSET = object()
# fields added after models were shipped, with the behaviour a config without them had
_LEGACY_DEFAULTS: dict[str, Any] = {"gelu": "tanh", "pos_scale": 1.0, "mlp": True}


# Upper limits are sanity limits, generous for this lab (GPT-3 has 96 layers, Llama 3 a 128k
# vocabulary): a checkpoint's config.json is checked against them before any model is built, so a
# small file claiming 100,000 layers is refused at once. (The weights are then bounded by the size
# of the file that must hold them; model/checkpoint.py bounds what a config derives, not stores.)
_BOUNDS: dict[str, Bounds] = {
    "vocab_size": Bounds(low=1, high=2**20),
    "n_ctx": Bounds(low=1, high=2**16),
    "d_model": Bounds(low=1, high=2**14),
    "n_layers": Bounds(low=1, high=1024),
    "n_heads": Bounds(low=1, high=1024),
    "d_head": Bounds(low=1, high=2**14),
    "d_mlp": Bounds(low=1, high=2**16),
    "dropout": Bounds(low=0.0, high=1.0, high_open=True),
    "ln_eps": Bounds(low=0.0, high=1.0, low_open=True),  # <= 0 divides by zero or gives NaN
    "pos_scale": Bounds(low=0.0, low_open=True),
}


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and architecture switches. Frozen so a config can key caches and be hashed."""

    vocab_size: int = 65  # tokens in the vocabulary (65 = Tiny Shakespeare's characters)
    n_ctx: int = 128  # longest sequence the model attends over (positional table size)
    d_model: int = 128  # residual-stream width
    n_layers: int = 4  # transformer blocks (LSTM layers for architecture="lstm")
    n_heads: int = 4  # attention heads per block
    d_head: int = 32  # query/key/value width per head; d_model // n_heads is the usual choice
    d_mlp: int = 512  # MLP hidden width; 4 * d_model as in GPT-2
    # False: no MLP (and no ln2) in any block, Olsson et al.'s attention-only transformer, whose
    # every path from embedding to logits is a composition of heads
    mlp: bool = True
    # GELU in the MLP: GPT-2's tanh approximation, or the exact erf form (nn.GELU's default, as
    # nanoGPT uses), which makes a baby-GPT training step 4-6% cheaper on CPU (bench_train).
    # Configs saved before this field existed load as "tanh", what they were trained with.
    gelu: Gelu = "tanh"
    dropout: float = (
        0.0  # dropout on embeddings, attention pattern and sublayer outputs while training
    )
    tied_embeddings: bool = False  # W_U = W_E^T: fewer parameters, as GPT-2 does
    bias: bool = True  # biases in the linear maps and LayerNorms
    ln_eps: float = 1e-5  # LayerNorm epsilon
    scale_embed: bool = False  # token embeddings times sqrt(d_model) (Vaswani et al.): else unit-amplitude sinusoids drown the 0.02-scale token signal
    # --- train-time ablations (each answers one of the curriculum's questions) ---
    residual: bool = (
        True  # skip connections around attention and MLP; False: each sublayer replaces the stream
    )
    causal_mask: bool = (
        True  # False lets each position attend to later ones, including the token it predicts
    )
    share_layers: bool = (
        False  # one block's weights reused at every layer instead of one set per layer
    )
    norm: Norm = "pre"  # LayerNorm before each sublayer (GPT-2), after the residual add (Vaswani et al.), or none
    pos_encoding: PosEncoding = (
        "sinusoidal"  # fixed sin/cos table (Vaswani et al.), learned W_pos, or none
    )
    # amplitude of the sinusoidal table: 1.0 is Vaswani et al.'s unit sin/cos (RMS 0.71 per dim,
    # which drowns 0.02-std token embeddings); 0.02 * sqrt(2) gives the table the tokens' RMS
    pos_scale: float = 1.0
    attn_score: AttnScore = "scaled_dot"  # q.k/sqrt(d_head), q.k, additive v^T tanh(q+k) (Bahdanau), or cosine * learned temperature
    architecture: Architecture = (
        "transformer"  # "lstm": the recurrent baseline for curriculum question 1
    )

    def __post_init__(self) -> None:
        check_types(ModelConfig, vars(self))
        check_bounds(self, _BOUNDS)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        """From parsed JSON or TOML: untrusted, so its shape and every value are checked."""
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict):
            raise ValueError(f"a ModelConfig is a table of fields, got {type(data).__name__}")
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {unknown}; known fields: {sorted(known)}")
        # checked before construction too, so the message is ours even where __init__ itself
        # is type-checked (the tests run model/ under beartype)
        check_types(cls, data)
        return cls(**data)

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def hash(self) -> str:
        """Short stable digest, recorded with exports so a figure names the exact model.
        A field added later is left out while it holds the value older configs imply, so the
        digests already recorded for existing models stay valid."""
        fields = {k: v for k, v in self.to_dict().items() if _LEGACY_DEFAULTS.get(k, _UNSET) != v}
        blob = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]
