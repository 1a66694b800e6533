"""Construct the model a config describes."""

from __future__ import annotations

from model.config import ModelConfig
from model.lstm import LSTMLanguageModel
from model.transformer import Transformer

LanguageModel = Transformer | LSTMLanguageModel


def build_model(cfg: ModelConfig) -> LanguageModel:
    return LSTMLanguageModel(cfg) if cfg.architecture == "lstm" else Transformer(cfg)
