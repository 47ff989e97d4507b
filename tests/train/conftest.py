"""A small REO-Instruct build from synthetic AGBD files, made once per session, and tiny presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from reo_core.instruct.build import BuildConfig, build_instruct
from reo_core.synth.agbd_h5 import write_agbd


def _build(root: Path, patches: int) -> Path:
    """A REO-Instruct build of ``patches`` synthetic AGBD patches (seeded) in ``root``/build."""
    write_agbd(root / "synth", patches, seed=4)
    out = root / "build"
    build_instruct(
        BuildConfig(agbd=(root / "synth" / "data_subset-2019-v4_0-20.h5",), out=out, seed=0)
    )
    return out


@pytest.fixture(scope="session")
def instruct_folder(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("instruct"), 240)


@pytest.fixture(scope="session")
def small_instruct_folder(tmp_path_factory) -> Path:
    """A smaller build (28 AGB training dialogues on 15 patches) for the stage-2 tests."""
    return _build(tmp_path_factory.mktemp("small-instruct"), 48)


@pytest.fixture(scope="session")
def tiny_base_folder(tmp_path_factory) -> Path:
    """The tiny preset's base, built as training builds it, with seed 0 whichever test runs first
    (later runs reuse it)."""
    from train_helpers import TINY_PRESET

    from reo_core.train.config import load_train_config
    from reo_core.train.stage1 import ensure_base

    folder = tmp_path_factory.mktemp("bases") / "tiny"
    settings = [f"data={folder}", f"model.base_model={folder}", "seed=0"]
    ensure_base(load_train_config(TINY_PRESET, settings))
    return folder


@pytest.fixture(scope="session")
def stage1_model(small_instruct_folder, tiny_base_folder, tmp_path_factory) -> Path:
    """A briefly trained stage-1 tiny model with LoRA dropout on (stage 2 must switch it off)."""
    from train_helpers import tiny_config

    from reo_core.train.loop import train

    output = tmp_path_factory.mktemp("stage1-run")
    settings = {"stage": 1, "steps": 3, "seed": 11, "model.lora_dropout": 0.3}
    return train(tiny_config(small_instruct_folder, tiny_base_folder, output, **settings))
