"""A small REO-Instruct build from synthetic AGBD files, made once per session, and tiny presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from reo_core.instruct.build import BuildConfig, build_instruct
from reo_core.synth.agbd_h5 import write_agbd


@pytest.fixture(scope="session")
def instruct_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("instruct")
    write_agbd(root / "synth", 240, seed=4)
    out = root / "build"
    build_instruct(
        BuildConfig(agbd=(root / "synth" / "data_subset-2019-v4_0-20.h5",), out=out, seed=0)
    )
    return out


@pytest.fixture(scope="session")
def tiny_base_folder(tmp_path_factory) -> Path:
    """Where the tiny preset builds its base (once; later runs reuse it)."""
    return tmp_path_factory.mktemp("bases") / "tiny"
