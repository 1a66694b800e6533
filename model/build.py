"""Construct the model a config describes."""

from __future__ import annotations

import torch

from model.config import ModelConfig
from model.lstm import LSTMLanguageModel
from model.transformer import Transformer

LanguageModel = Transformer | LSTMLanguageModel


def build_model(cfg: ModelConfig, init: bool = True) -> LanguageModel:
    """init=False leaves the weights as allocated (for the meta device, or before a load)."""
    if cfg.architecture == "lstm":
        return LSTMLanguageModel(cfg, init=init)
    return Transformer(cfg, init=init)


def build_meta_model(cfg: ModelConfig) -> LanguageModel:
    """The model's structure (tensor names, shapes, dtypes) with no memory behind it, to check a
    checkpoint's header before anything is allocated. Not initialised: there is nothing to draw
    into, and the first arithmetic on the meta device imports torch's reference ops (~2 s of a
    check that otherwise takes milliseconds; PosEmbed skips its table there for the same reason)."""
    with torch.device("meta"):
        return build_model(cfg, init=False)
