"""Shared fixtures: paths to the real sample data and small seeded rasters written on demand."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The read-only sample data (``../shared/data`` beside the repository, or $REO_SHARED_DATA)."""
    return Path(os.environ.get("REO_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the sample data at {path}")
        pytest.skip(f"sample data not found at {path} (set REO_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def bigearthnet_patch(shared_data: Path) -> Path:
    """Folder of one real BigEarthNet Sentinel-2 L2A patch: one GeoTIFF per band, native
    resolution."""
    return shared_data / "real" / "bigearthnet-s2-l2a" / "S2A_MSIL2A_20170613T101031_87_48"


@pytest.fixture(scope="session")
def palsar_tile(shared_data: Path) -> Path:
    """Folder of the real PALSAR-2 2020 mosaic tile N23W161."""
    return shared_data / "real" / "palsar2-mosaic"


@pytest.fixture(scope="session")
def synthetic_agbd(tmp_path_factory) -> Path:
    """Synthetic AGBD files, made once (python -m reo_core.synth --agbd-h5 300, seed 0): the raw
    data_subset-2019-v4_0-20.h5 and AGBD-Lite-{train,val,test}.h5. Tests copy before they edit."""
    from reo_core.synth import write_agbd

    out = tmp_path_factory.mktemp("synthetic-agbd") / "agbd"
    write_agbd(out, 300, seed=0)
    return out
