"""Tiny REO models on a tiny base, for the model and inference tests: heads small, LoRA that
matters."""

from __future__ import annotations

from pathlib import Path

import torch

from reo_core.model.checkpoint import LoadedModel, create_model
from reo_core.model.config import ReoConfig

TINY_HEAD = {
    "head_token_hidden": 16,
    "head_channel_hidden": 32,
    "lora_r": 4,
    "lora_alpha": 8,
    "lora_dropout": 0.0,
}


def tiny_model(base: Path, **overrides: object) -> LoadedModel:
    """A seeded tiny REO model on ``base`` whose LoRA adapters change its answers."""
    torch.manual_seed(0)
    loaded = create_model(ReoConfig(base_model=str(base), **{**TINY_HEAD, **overrides}))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # peft starts LoRA B at zero (adapters do nothing): give them weights
        for name, parameter in loaded.model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return loaded
