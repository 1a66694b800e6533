"""Multi-head self-attention with per-head weights in circuits notation and a visible score pipeline."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from model.config import ModelConfig
from model.hooks import HookPoint, any_active
from model.kv_cache import LayerKV
from model.scores import ScoreFunction
from model.switches import HeadAblation


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        h, m, d = cfg.n_heads, cfg.d_model, cfg.d_head
        self.cfg = cfg
        self.W_Q = nn.Parameter(torch.empty(h, m, d))  # [head, d_model, d_head]
        self.W_K = nn.Parameter(torch.empty(h, m, d))  # [head, d_model, d_head]
        self.W_V = nn.Parameter(torch.empty(h, m, d))  # [head, d_model, d_head]
        self.W_O = nn.Parameter(torch.empty(h, d, m))  # [head, d_head, d_model]
        self.b_Q = nn.Parameter(torch.zeros(h, d)) if cfg.bias else None  # [head, d_head]
        self.b_K = nn.Parameter(torch.zeros(h, d)) if cfg.bias else None
        self.b_V = nn.Parameter(torch.zeros(h, d)) if cfg.bias else None
        self.b_O = nn.Parameter(torch.zeros(m)) if cfg.bias else None  # [d_model]
        self.score_fn = ScoreFunction(cfg)

        self.hook_q = HookPoint()  # [batch, pos, head, d_head]
        self.hook_k = (
            HookPoint()
        )  # [batch, pos, head, d_head]  (k_pos: all positions, cached ones too)
        self.hook_v = HookPoint()  # [batch, pos, head, d_head]
        self.hook_raw_scores = (
            HookPoint()
        )  # [batch, head, q_pos, k_pos]  q.k, or additive / cosine before scaling
        self.hook_scaled_scores = (
            HookPoint()
        )  # [batch, head, q_pos, k_pos]  what the mask and softmax see
        self.hook_attn_scores = (
            HookPoint()
        )  # [batch, head, q_pos, k_pos]  after the mask (-inf where hidden)
        self.hook_pattern = HookPoint()  # [batch, head, q_pos, k_pos]  softmax: each row sums to 1
        self.hook_z = HookPoint()  # [batch, pos, head, d_head]  pattern-weighted values
        self.hook_result = (
            HookPoint()
        )  # [batch, pos, head, d_model]  each head's output; only made when hooked
        # the concatenated Q/K/V weights, reused while no parameter changed (see _qkv_weight)
        self._fused_qkv: tuple[tuple[int, ...], Tensor, Tensor | None] | None = None
        self._pipeline = (
            self.hook_raw_scores,
            self.hook_scaled_scores,
            self.hook_attn_scores,
            self.hook_pattern,
        )

    def _qkv_weight(self) -> tuple[Float[Tensor, "d_model qkv"], Float[Tensor, " qkv"] | None]:
        # one matmul for Q, K and V together: three small ones cost more dispatch than the copy.
        # The copy itself is reused without autograd: every in-place change to a parameter
        # (optimizer step, load_state_dict) bumps its _version, and .to() moves its data_ptr.
        params = [
            p for p in (self.W_Q, self.W_K, self.W_V, self.b_Q, self.b_K, self.b_V) if p is not None
        ]
        key = tuple(v for p in params for v in (p._version, p.data_ptr()))
        reuse = not torch.is_grad_enabled()
        if reuse and self._fused_qkv is not None and self._fused_qkv[0] == key:
            return self._fused_qkv[1], self._fused_qkv[2]
        h, m, d = self.W_Q.shape
        w = torch.cat([self.W_Q, self.W_K, self.W_V]).transpose(0, 1).reshape(m, 3 * h * d)
        b = None if self.b_Q is None else torch.cat([self.b_Q, self.b_K, self.b_V]).reshape(-1)
        self._fused_qkv = (key, w, b) if reuse else None
        return w, b

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        causal: bool = True,
        key_mask: Bool[Tensor, "batch k_pos"] | None = None,
        kv: LayerKV | None = None,
        ablations: tuple[HeadAblation, ...] = (),
    ) -> Float[Tensor, "batch pos d_model"]:
        batch, n_pos, _ = x.shape
        h, d = self.cfg.n_heads, self.cfg.d_head
        w, b = self._qkv_weight()
        qkv = F.linear(x, w.T, b).view(batch, n_pos, 3, h, d)
        q, k, v = qkv.unbind(2)  # each [batch, pos, head, d_head]
        q = self.hook_q(q)
        offset = 0
        if kv is not None:
            offset = kv.length
            k, v = kv.extend(k, v)
        k, v = self.hook_k(k), self.hook_v(v)

        # [batch, head, pos, d_head] for the matmuls
        qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        dropout = self.cfg.dropout if self.training else 0.0

        fused = None if any_active(*self._pipeline) else self.score_fn.fused_qk(qh, kh)
        # is_causal aligns the mask top-left, which is only right without cached positions
        use_is_causal = fused is not None and causal and key_mask is None and offset == 0
        # a single new query after the cache sees every key: no mask to build either
        sees_all = causal and key_mask is None and n_pos == 1
        mask = None
        if not (use_is_causal or sees_all):  # True = may attend
            mask = _visibility(n_pos, kh.shape[2], offset, causal, key_mask, x.device)
        if fused is not None:
            fq, fk, scale = fused
            zh = _sdpa(
                fq,
                fk,
                vh,
                attn_mask=None if use_is_causal else mask,
                dropout_p=dropout,
                is_causal=use_is_causal,
                scale=scale,
            )
        else:
            # the causal mask will hide every score above the diagonal, and no hook looks at them
            hidden = causal and key_mask is None and offset == 0 and not sees_all
            skip = hidden and not any_active(*self._pipeline)
            raw = self.hook_raw_scores(self.score_fn.raw(qh, kh, skip))
            scaled = self.hook_scaled_scores(self.score_fn.scale(raw))
            # adding 0 / -inf is one vectorised pass; masked_fill with a broadcast mask is 5x slower
            masked = scaled if mask is None else scaled + _additive(mask, scaled.dtype)
            masked = self.hook_attn_scores(masked)
            pattern = torch.softmax(masked, dim=-1)
            if key_mask is not None:  # a query row whose keys are all padding: 0/0, not a weight
                pattern = pattern.nan_to_num(0.0)
            pattern = self.hook_pattern(pattern)
            zh = (F.dropout(pattern, dropout) if dropout else pattern) @ vh

        z = self.hook_z(zh.transpose(1, 2))  # [batch, pos, head, d_head]
        if ablations:
            z = _ablate(z, ablations)
        if self.hook_result.active:
            result = self.hook_result(torch.einsum("bphd,hdm->bphm", z, self.W_O))
            out = result.sum(2)
            return out + self.b_O if self.b_O is not None else out
        return F.linear(z.reshape(batch, n_pos, h * d), self.W_O.reshape(h * d, -1).T, self.b_O)


# Under CPU autocast, run the fused kernel on float32 copies of q, k, v rather than in bfloat16.
# PyTorch's CPU flash-attention kernel is about 3x slower in bfloat16 than in float32 at this
# project's shapes (forward + backward at [12, 4, 128, 32]: 2.7x on one core). Its inputs
# are bf16-valued already (autocast's projections made them), so nothing is less exact; the cosine
# score's normalised q is float32 and is no longer rounded. The whole training step is 1.6x faster
# (bench/bench_precision.py). False restores autocast's own choice.
CPU_AUTOCAST_SDPA_FLOAT32 = True


def _sdpa(
    q: Float[Tensor, "batch head q_pos d"],
    k: Float[Tensor, "batch head k_pos d"],
    v: Float[Tensor, "batch head k_pos d_head"],
    attn_mask: Bool[Tensor, "#batch 1 #q_pos k_pos"] | None,
    dropout_p: float,
    is_causal: bool,
    scale: float,
) -> Float[Tensor, "batch head q_pos d_head"]:
    """F.scaled_dot_product_attention; under CPU autocast its float32 kernel, cast back."""
    kwargs = dict(attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale)
    if not (
        CPU_AUTOCAST_SDPA_FLOAT32 and q.device.type == "cpu" and torch.is_autocast_enabled("cpu")
    ):
        return F.scaled_dot_product_attention(q, k, v, **kwargs)
    low = torch.get_autocast_dtype("cpu")
    # float64 stays float64 under autocast, and a float mask must match the inputs' dtype:
    # those calls keep autocast's own handling
    ours = all(x.dtype in (torch.float32, low) for x in (q, k, v))
    if not ours or (attn_mask is not None and attn_mask.dtype != torch.bool):
        return F.scaled_dot_product_attention(q, k, v, **kwargs)
    with torch.autocast("cpu", enabled=False):
        z = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), **kwargs)
    return z.to(low)  # the dtype autocast's own call returns


def _visibility(
    n_q: int,
    n_k: int,
    offset: int,
    causal: bool,
    key_mask: Bool[Tensor, "batch k_pos"] | None,
    device: torch.device,
) -> Bool[Tensor, "batch 1 q_pos k_pos"] | None:
    """Which keys each query may see: True = visible. None when every key is visible."""
    mask = None
    if causal:
        q_abs = torch.arange(offset, offset + n_q, device=device)[:, None]
        mask = (torch.arange(n_k, device=device)[None, :] <= q_abs)[None, None]
    if key_mask is not None:
        keys = key_mask.bool()[:, None, None, :]
        mask = keys if mask is None else mask & keys
    return mask


def _additive(
    mask: Bool[Tensor, "batch 1 q_pos k_pos"], dtype: torch.dtype
) -> Float[Tensor, "batch 1 q_pos k_pos"]:
    """The visibility mask as a score offset: 0 where visible, -inf where hidden."""
    return torch.zeros((), dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


def _ablate(
    z: Float[Tensor, "batch pos head d_head"], ablations: tuple[HeadAblation, ...]
) -> Float[Tensor, "batch pos head d_head"]:
    z = z.clone()
    for a in ablations:
        if a.mode == "zero":
            z[:, :, a.head] = 0.0
        else:  # mean over positions: keeps the head's average contribution, removes what varies
            z[:, :, a.head] = z[:, :, a.head].mean(dim=1, keepdim=True)
    return z
