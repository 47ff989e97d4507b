"""A tiny LLaVA base, built once per session from configs and saved in the llava-hf folder layout."""

from __future__ import annotations

import pytest
import torch

from reo_core.model.base import TINY_BASE, build_base
from reo_core.model.checkpoint import create_model
from reo_core.model.config import ReoConfig

TINY_HEAD = {
    "head_token_hidden": 16,
    "head_channel_hidden": 32,
    "lora_r": 4,
    "lora_alpha": 8,
    "lora_dropout": 0.0,
}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    return build_base(tmp_path_factory.mktemp("tiny-llava"), TINY_BASE, seed=0)


@pytest.fixture
def make_model(tiny_base):
    def make(**overrides):
        torch.manual_seed(0)
        config = ReoConfig(base_model=str(tiny_base), **{**TINY_HEAD, **overrides})
        loaded = create_model(config)
        _randomise_lora(loaded.model)
        return loaded

    return make


def _randomise_lora(model) -> None:
    """peft starts LoRA B at zero (adapters do nothing); give them weights so they matter in tests."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
