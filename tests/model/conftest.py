"""A tiny LLaVA base, built once per session from configs and saved in the llava-hf folder
layout."""

from __future__ import annotations

import pytest
from tiny_models import tiny_model

from reo_core.model.base import TINY_BASE, build_base


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    return build_base(tmp_path_factory.mktemp("tiny-llava"), TINY_BASE, seed=0)


@pytest.fixture
def make_model(tiny_base):
    def make(**overrides):
        return tiny_model(tiny_base, **overrides)

    return make
