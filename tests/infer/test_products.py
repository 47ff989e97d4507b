"""The summary's arithmetic and the products' round trip through GeoTIFF blocks."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from reo_core.infer.engine import BlockResult
from reo_core.infer.products import (
    FLOAT_NODATA,
    ProductWriters,
    SummaryAccumulator,
    product_keys,
    read_block_result,
)
from reo_core.raster.grid import PixelGrid


def block(row: int, col: int, agb, classes) -> BlockResult:
    agb = np.array(agb, dtype=np.float32)
    keep = np.isfinite(agb)
    return BlockResult(
        row,
        col,
        keep,
        agb,
        np.where(keep, 5.0, np.nan).astype(np.float32),
        np.where(keep, classes, 255).astype(np.uint8),
        np.where(keep, 2, 255).astype(np.uint8),
    )


def test_totals_are_agb_times_cell_area_and_carbon_a_fraction_of_them():
    summary = SummaryAccumulator(cell_area_ha=6.25, total_patches=8)
    summary.add(block(0, 0, [[100.0, np.nan], [50.0, 10.0]], [[112, 0], [40, 40]]))
    summary.add(block(0, 2, [[np.nan, np.nan], [0.0, np.nan]], [[0, 0], [80, 0]]))
    numbers = summary.summary(carbon_fraction=0.5)
    assert numbers["patches"] == {"total": 8, "done": 4, "skipped": 4}
    assert numbers["agb"]["mean"] == pytest.approx(40.0)
    assert numbers["agb"]["total_mg"] == pytest.approx(160.0 * 6.25)
    assert numbers["carbon"] == {"fraction": 0.5, "total_mg": pytest.approx(80.0 * 6.25)}
    assert numbers["valid_area_ha"] == 25.0 and numbers["agb"]["mean_std"] == 5.0
    areas = {code: c["area_ha"] for code, c in numbers["land_cover_area_ha"].items()}
    assert areas == {"40": 12.5, "80": 6.25, "112": 6.25}


def test_blocks_written_and_read_back_are_the_same(tmp_path):
    grid = PixelGrid(CRS.from_epsg(32632), from_origin(500_000, 5_000_000, 250, 250), 4, 2)
    first = block(0, 0, [[1.5, np.nan], [3.0, 4.0]], [[112, 0], [40, 40]])
    second = block(0, 2, [[np.nan, 7.0], [8.0, np.nan]], [[0, 30], [20, 0]])
    keys = product_keys(has_std=True)
    with ProductWriters(tmp_path, grid, keys) as writers:
        writers.write(first)
        writers.write(second)
    datasets = {key: rasterio.open(tmp_path / f"{key}.tif") for key in keys}
    try:
        assert datasets["agb"].read(1)[0, 1] == FLOAT_NODATA
        for original in (first, second):
            back = read_block_result(datasets, original.row, original.col, 2, 2)
            for name in ("keep", "agb", "agb_std", "land_cover", "patch_count"):
                np.testing.assert_array_equal(
                    getattr(back, name), getattr(original, name), err_msg=name
                )
    finally:
        for dataset in datasets.values():
            dataset.close()


def test_a_failure_inside_the_writers_leaves_no_file(tmp_path):
    grid = PixelGrid(CRS.from_epsg(32632), from_origin(500_000, 5_000_000, 250, 250), 2, 2)
    with (
        pytest.raises(RuntimeError),
        ProductWriters(tmp_path, grid, product_keys(False)) as writers,
    ):
        writers.write(block(0, 0, [[1.0, 2.0], [3.0, 4.0]], [[40, 40], [40, 40]]))
        raise RuntimeError("canceled half way")
    assert list(tmp_path.iterdir()) == []
