"""The one typed configuration of a transformer, including its train-time ablation switches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

Norm = Literal["pre", "post", "none"]
PosEncoding = Literal["sinusoidal", "learned", "none"]
AttnScore = Literal["scaled_dot", "dot", "additive", "cosine"]
Architecture = Literal["transformer", "lstm"]
Gelu = Literal["tanh", "exact"]


_UNSET = object()
# fields added after models were shipped, with the behaviour a config without them had
_LEGACY_DEFAULTS: dict[str, Any] = {"gelu": "tanh", "pos_scale": 1.0}


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
        for name, kind in (
            ("norm", Norm),
            ("pos_encoding", PosEncoding),
            ("attn_score", AttnScore),
            ("architecture", Architecture),
            ("gelu", Gelu),
        ):
            value = getattr(self, name)
            if value not in get_args(kind):
                raise ValueError(f"ModelConfig.{name}={value!r}; expected one of {get_args(kind)}")
        for name in ("vocab_size", "n_ctx", "d_model", "n_layers", "n_heads", "d_head", "d_mlp"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ModelConfig.{name} must be positive, got {getattr(self, name)}")
        if not self.pos_scale > 0.0:
            raise ValueError(f"ModelConfig.pos_scale must be positive, got {self.pos_scale}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {unknown}; known fields: {sorted(known)}")
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
