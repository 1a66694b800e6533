"""Attention Lab's from-scratch decoder-only transformer.

Dimension legend, used in every shape annotation of this package (and of `training/`, `viz/`):

    batch    sequences in a batch
    pos      token positions of one sequence (q_pos / k_pos when a tensor has both)
    q_pos    the querying position of an attention score
    k_pos    the attended-to (key) position of an attention score
    d_model  width of the residual stream
    head     attention heads of one layer
    d_head   width of one head's query, key and value vectors
    d_mlp    hidden width of an MLP
    vocab    token vocabulary

Hook points follow TransformerLens's names (`blocks.0.attn.hook_pattern`), derived from the module tree.
"""

from model.config import ModelConfig
from model.switches import HeadAblation, Switches

__all__ = ["ModelConfig", "Switches", "HeadAblation"]
