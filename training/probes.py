"""What a trained model is measured on besides loss: fixed-sample statistics and samples.

Used by the experiment suite to fill each variant's record; every function takes a model and
returns plain JSON-ready numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from interp.attention_stats import attention_entropy, future_attention_fraction
from model.build import LanguageModel
from model.generate import GenerationSettings, generate
from model.hook_names import pattern_hooks
from model.tokenizers import Tokenizer


@torch.no_grad()
def sample_statistics(model: LanguageModel, tokens: torch.Tensor) -> dict[str, Any]:
    """On a fixed batch [batch, pos]: residual-stream norm per layer (embedding first), mean pairwise
    cosine of token representations per layer (rank collapse shows as it nears 1), and for
    transformers attention entropy per head (bits) and the share of attention on future positions."""
    model.eval()
    stream = model.stream_hooks()  # the LSTM's hidden states stand in for the residual stream
    patterns = pattern_hooks(model.cfg.n_layers) if model.has_attention else []
    _, cache = model.run_with_cache(tokens, names=stream + patterns)
    out: dict[str, Any] = {"residual_norm": [], "token_cosine": []}
    for name in stream:
        r = cache[name].float()  # [batch, pos, d_model]
        out["residual_norm"].append(r.norm(dim=-1).mean().item())
        unit = F.normalize(r, dim=-1)
        sim = unit @ unit.transpose(1, 2)  # [batch, pos, pos]
        n = sim.shape[-1]
        off_diag = (sim.sum((-1, -2)) - sim.diagonal(dim1=-2, dim2=-1).sum(-1)) / (n * (n - 1))
        out["token_cosine"].append(off_diag.mean().item())
    if patterns:
        stacked = np.stack([cache[name].numpy() for name in patterns])  # [layer, batch, head, q, k]
        # mean over the batch
        out["attention_entropy"] = attention_entropy(stacked).mean(1).round(4).tolist()
        out["future_attention"] = future_attention_fraction(stacked).mean(1).round(4).tolist()
    return out


@torch.no_grad()
def probe_patterns(model: LanguageModel, tokens: torch.Tensor) -> torch.Tensor:
    """Attention patterns of one probe prompt: [layer, head, q_pos, k_pos]."""
    names = pattern_hooks(model.cfg.n_layers)
    was_training = model.training
    model.eval()
    _, cache = model.run_with_cache(tokens, names=names)
    model.train(was_training)
    return torch.stack([cache[n][0] for n in names])


def samples(
    model: LanguageModel, tokenizer: Tokenizer, prompts: list[str], n_tokens: int, seed: int
) -> list[dict[str, str]]:
    """Generations from fixed prompts with a fixed seed (temperature 0.8, top-k 40)."""
    model.eval()
    out = []
    for prompt in prompts:
        ids = torch.tensor([tokenizer.encode(prompt)])
        new = generate(
            model,
            ids,
            GenerationSettings(max_new_tokens=n_tokens, temperature=0.8, top_k=40, seed=seed),
        )
        out.append({"prompt": prompt, "text": tokenizer.decode(new[0].tolist())})
    return out


@torch.no_grad()
def batch_loss(model: LanguageModel, tokens: torch.Tensor) -> float:
    """Mean next-token loss on [batch, pos + 1] token ids."""
    model.eval()
    logits = model(tokens[:, :-1]).float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1)).item()
