"""Fixtures of the inference tests: tiny models (built once), engines and a small synthetic
scene."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from infer_helpers import FAST, make_model

from reo_core.infer.engine import EngineOptions, load_engine
from reo_core.model.base import TINY_BASE, build_base
from reo_core.synth.__main__ import SynthArgs
from reo_core.synth.__main__ import run as run_synth


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy machine threads spin-wait for
    seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    return build_base(tmp_path_factory.mktemp("tiny-llava"), TINY_BASE, seed=0)


@pytest.fixture(scope="session")
def models(tmp_path_factory, tiny_base) -> dict[str, Path]:
    """Checkpoint folders of tiny models: 'ms' (with the uncertainty head), 'rgb', 'ms+sar'."""
    root = tmp_path_factory.mktemp("models")
    return {
        "ms": make_model(root / "ms", tiny_base, modality="ms", uncertainty="gaussian"),
        "rgb": make_model(root / "rgb", tiny_base, modality="rgb"),
        "ms+sar": make_model(root / "ms-sar", tiny_base, modality="ms+sar"),
    }


@pytest.fixture(scope="session")
def engines(models):
    """``engines(name, **options)``: loaded engines, shared by the in-process tests."""
    cache = {}

    def get(name: str, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = load_engine(models[name], EngineOptions(**{**FAST.__dict__, **options}))
        return cache[key]

    return get


@pytest.fixture(scope="session")
def scene(tmp_path_factory) -> Path:
    """A 2.5 km synthetic scene (250 x 250 pixels, 10 x 10 patches) with PALSAR-2 and clouds."""
    out = tmp_path_factory.mktemp("scene")
    run_synth(SynthArgs(out, 2.5, 3, False, None, 0.05, "temperate"))
    return out
