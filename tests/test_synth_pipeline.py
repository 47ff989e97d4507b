"""A synthetic scene read back through the raster pipeline agrees with its own truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.windows import from_bounds

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


def truth_on_patches(reader, path) -> np.ndarray:
    """A 10 m truth raster cut into the reader's patches: (rows, cols, 25, 25), NaN outside."""
    grid = reader.patch_grid
    with rasterio.open(path) as src:
        window = from_bounds(*grid.pixels.bounds, transform=src.transform)
        values = src.read(1, window=window, boundless=True, fill_value=src.nodata).astype(float)
        values[values == src.nodata] = np.nan
    size = grid.size
    return values.reshape(grid.rows, size, grid.cols, size).transpose(0, 2, 1, 3)


def read_truth(scene_dir, name: str) -> tuple[np.ndarray, rasterio.Affine, object]:
    """A 250 m truth raster: values (NaN = no data), transform and CRS."""
    with rasterio.open(scene_dir / "truth" / name) as src:
        values = src.read(1).astype(float)
        values[values == src.nodata] = np.nan
        return values, src.transform, src.crs


def test_truth_patches_are_the_cells_of_reo_output_grid(scene_dir, read_back):
    reader = read_back[0]
    grid = reader.patch_grid
    for name in ("patch_agb.tif", "patch_landcover.tif", "patch_count.tif"):
        values, transform, crs = read_truth(scene_dir, name)
        assert grid.grid.crs == crs
        assert grid.grid.transform == transform  # scene corners lie on the 250 m lattice
        assert (grid.rows, grid.cols) == values.shape
    # Cell by cell: the truth's patch AGB is AGBD's label (mean of the centre 3 x 3 pixels) of the
    # patch REO reads in that cell.
    agb, _, _ = read_truth(scene_dir, "patch_agb.tif")
    centres = truth_on_patches(reader, scene_dir / "truth" / "agb_10m.tif")[..., 11:14, 11:14]
    labelled = np.isfinite(agb)
    assert labelled.mean() > 0.9
    np.testing.assert_allclose(centres.mean(axis=(-2, -1))[labelled], agb[labelled], atol=1e-3)


def test_palsar_hv_read_back_follows_truth_agb(scene_dir, read_back):
    _, keep, hv, _, _ = read_back
    agb, _, _ = read_truth(scene_dir, "patch_agb.tif")
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
    landcover, _, _ = read_truth(scene_dir, "patch_landcover.tif")  # dominant class per cell
    ndvi = (nir - red) / (nir + red)
    forest = keep & np.isin(landcover, [111, 112, 114, 115, 116])
    cropland = keep & (landcover == 40)
    assert forest.sum() > 5 and cropland.sum() > 5
    assert np.nanmean(ndvi[forest]) > np.nanmean(ndvi[cropland])


def test_clouds_and_the_no_data_wedge_are_skipped(scene_dir, read_back):
    _, keep, _, _, _ = read_back
    assert 0.5 < keep.mean() < 1.0  # the wedge and the thickest clouds leave some patches out
