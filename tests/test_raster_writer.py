"""Writing patch-grid GeoTIFFs: self-describing, tiled, with overviews, and never half-written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from small_disk import fill, small_disk

from reo_core import landcover
from reo_core.errors import OutputError
from reo_core.raster import PatchGridWriter, PixelGrid
from reo_core.raster.writer import overview_factors, partial_path

REPO_ROOT = Path(__file__).resolve().parents[1]
GRID = PixelGrid(
    rasterio.crs.CRS.from_epsg(32632), from_origin(600_000, 5_100_000, 250, 250), 300, 280
)


def agb_writer(path):
    return PatchGridWriter(
        path,
        GRID,
        "float32",
        nodata=-1.0,
        descriptions=["AGB (Mg/ha)"],
        units=["Mg/ha"],
        tags={"REO_PRODUCT": "agb"},
    )


def test_agb_raster_describes_itself(tmp_path):
    path = tmp_path / "agb.tif"
    values = np.arange(GRID.height * GRID.width, dtype=np.float32).reshape(GRID.height, GRID.width)
    with agb_writer(path) as writer:
        for row in range(0, GRID.height, 100):  # block by block
            writer.write(row, 0, values[row : row + 100])
    with rasterio.open(path) as src:
        assert src.crs == GRID.crs and src.transform == GRID.transform
        assert (src.width, src.height, src.count, src.dtypes[0]) == (300, 280, 1, "float32")
        assert src.nodata == -1.0
        assert src.descriptions == ("AGB (Mg/ha)",) and src.units == ("Mg/ha",)
        assert src.tags()["REO_PRODUCT"] == "agb"
        assert src.profile["tiled"] and src.profile["blockxsize"] == 256
        assert src.compression.name == "deflate"
        assert src.overviews(1) == [2, 4, 8, 16]
        np.testing.assert_array_equal(src.read(1), values)
    assert not partial_path(path).exists()


def test_land_cover_raster_carries_the_copernicus_colours(tmp_path):
    path = tmp_path / "landcover.tif"
    grid = PixelGrid(GRID.crs, GRID.transform, 40, 30)
    classes = np.full((30, 40), 112, dtype=np.uint8)
    classes[:, :10] = 255
    with PatchGridWriter(
        path,
        grid,
        "uint8",
        nodata=255,
        descriptions=["land cover (CGLS-LC100)"],
        colormap=landcover.color_table(),
        categorical=True,
    ) as writer:
        writer.write(0, 0, classes)
    with rasterio.open(path) as src:
        assert src.colormap(1)[112] == (0, 153, 0, 255)
        assert src.colormap(1)[50] == (250, 0, 0, 255)
        assert src.overviews(1) == [2]
        np.testing.assert_array_equal(src.read(1), classes)


def test_failure_inside_the_block_leaves_no_file(tmp_path):
    path = tmp_path / "agb.tif"
    with pytest.raises(RuntimeError, match="model crashed"), agb_writer(path) as writer:
        writer.write(0, 0, np.ones((10, 10), dtype=np.float32))
        raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_killed_run_leaves_only_a_partial_file(tmp_path):
    path = tmp_path / "agb.tif"
    script = textwrap.dedent(
        f"""
        import os, sys, numpy as np
        sys.path.insert(0, {str(REPO_ROOT)!r}); sys.path.insert(0, {str(REPO_ROOT / "tests")!r})
        from test_raster_writer import agb_writer
        with agb_writer({str(path)!r}) as writer:
            writer.write(0, 0, np.ones((10, 10), dtype=np.float32))
            os._exit(9)  # killed mid-run: no cleanup runs
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 9, result.stderr
    assert not path.exists()
    assert partial_path(path).exists()
    with agb_writer(path) as writer:  # the next run replaces the stale partial file
        writer.write(0, 0, np.ones((10, 10), dtype=np.float32))
    assert path.exists() and not partial_path(path).exists()


def test_blocks_outside_the_grid_are_refused(tmp_path):
    with agb_writer(tmp_path / "agb.tif") as writer, pytest.raises(ValueError, match="exceeds"):
        writer.write(275, 0, np.ones((10, 10), dtype=np.float32))


def test_writer_refuses_non_geotiff_names(tmp_path):
    with pytest.raises(ValueError, match="GeoTIFF"):
        PatchGridWriter(tmp_path / "agb.png", GRID, "float32", nodata=-1, descriptions=["AGB"])


def test_overviews_stop_near_32_pixels():
    assert overview_factors(20, 20) == []
    assert overview_factors(64, 10) == [2, 4]
    assert overview_factors(1000, 800) == [2, 4, 8, 16, 32]  # 1000 / 32 = 31 px


@pytest.mark.parametrize(("size", "free_kib"), [(20, 0), (60, 16), (120, 4)])
def test_a_full_disk_is_an_error_and_leaves_no_file(tmp_path, size, free_kib):
    """GDAL itself raises in some of these cases and only logs an IO error in others (20 x 20 with
    no space left: an empty agb.tif; 60 x 60 with 16 KiB: a truncated one)."""
    grid = PixelGrid(GRID.crs, GRID.transform, size, size)
    values = np.random.default_rng(0).random((size, size)).astype(np.float32)
    with small_disk(tmp_path / "disk", 512) as disk:
        fill(disk, free_kib * 1024)
        full = r"^Writing agb.tif into .* MB free on that disk\)"
        writer = PatchGridWriter(disk / "agb.tif", grid, "float32", -1.0, ["AGB"])
        with pytest.raises(OutputError, match=full), writer:
            writer.write(0, 0, values)
        assert sorted(p.name for p in disk.iterdir()) == ["ballast"]
