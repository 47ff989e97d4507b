"""A synthetic scene read back through the raster pipeline agrees with its own truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio

from reo_core.raster import PatchReader, open_sar, open_sentinel2
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.synth.__main__ import main


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene")
    assert main(["--out", str(out), "--size-km", "5", "--seed", "11", "--per-band-files"]) == 0
    return out


@pytest.fixture(scope="module")
def read_back(scene_dir):
    """Per patch: mean reflectance, mean HV dB and keep flag, on the scene's own patch grid."""
    s2 = open_sentinel2(sorted((scene_dir / "s2").glob("*.tif")))  # per-band files + SCL
    sar = open_sar(sorted((scene_dir / "palsar2").glob("*.tif")))
    reader = PatchReader(s2, sar)
    grid = reader.patch_grid
    shape = (grid.rows, grid.cols)
    hv, nir, red = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    keep = np.zeros(shape, dtype=bool)
    for block in reader.blocks():
        rows = slice(block.row, block.row + block.n_rows)
        cols = slice(block.col, block.col + block.n_cols)
        keep[rows, cols] = block.keep
        with warnings.catch_warnings():  # all-NaN patches (wedge, clouds) average to NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            hv[rows, cols] = np.nanmean(block.sar[:, :, 1], axis=(2, 3))
            nir[rows, cols] = np.nanmean(block.s2[:, :, AGBD_BAND_ORDER.index("B08")], axis=(2, 3))
            red[rows, cols] = np.nanmean(block.s2[:, :, AGBD_BAND_ORDER.index("B04")], axis=(2, 3))
    return reader, keep, hv, nir, red


def test_patch_grid_matches_the_truth_grid(scene_dir, read_back):
    reader = read_back[0]
    with rasterio.open(scene_dir / "truth" / "patch_agb.tif") as truth:
        assert reader.patch_grid.grid.transform == truth.transform
        assert (reader.patch_grid.rows, reader.patch_grid.cols) == truth.shape
        assert reader.patch_grid.grid.crs == truth.crs


def test_palsar_hv_read_back_follows_truth_agb(scene_dir, read_back):
    _, keep, hv, _, _ = read_back
    with rasterio.open(scene_dir / "truth" / "patch_agb.tif") as truth:
        agb = truth.read(1)
    valid = keep & np.isfinite(hv) & (agb >= 0)
    assert valid.sum() > 100
    assert (
        np.corrcoef(agb[valid], hv[valid])[0, 1] > 0.5
    )  # reprojected from EPSG:4326 to the right place
    shuffled = np.roll(hv, 7, axis=1)  # misplaced by 1.75 km: the relation must weaken clearly
    both = valid & np.isfinite(shuffled)
    assert (
        np.corrcoef(agb[both], shuffled[both])[0, 1]
        < np.corrcoef(agb[valid], hv[valid])[0, 1] - 0.2
    )


def test_forest_patches_are_greener_than_cropland(scene_dir, read_back):
    _, keep, _, nir, red = read_back
    with rasterio.open(scene_dir / "truth" / "patch_landcover.tif") as truth:
        landcover = truth.read(1)
    ndvi = (nir - red) / (nir + red)
    forest = keep & np.isin(landcover, [111, 112, 114, 115, 116])
    cropland = keep & (landcover == 40)
    assert forest.sum() > 5 and cropland.sum() > 5
    assert np.nanmean(ndvi[forest]) > np.nanmean(ndvi[cropland])


def test_clouds_and_the_no_data_wedge_are_skipped(scene_dir, read_back):
    _, keep, _, _, _ = read_back
    assert 0.5 < keep.mean() < 1.0  # the wedge and the thickest clouds leave some patches out
