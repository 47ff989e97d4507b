"""Bad inputs: each gives a reo_core error that says what to change, and leaves no output behind."""

from __future__ import annotations

import numpy as np
import pytest
from rasters import ORIGIN, UTM32N, s2_reflectance, write_palsar_4326, write_s2_stack

from reo_core.errors import ExtentError, InputError, ReoError
from reo_core.raster import Extent, PatchGridWriter, PatchReader, open_sar, open_sentinel2


def run_pipeline(s2_paths, out_dir, sar_paths=(), extent=None):
    """Open, stream and write per-patch mean reflectance, as a product pipeline does."""
    s2 = open_sentinel2(s2_paths)
    sar = open_sar(sar_paths) if sar_paths else None
    reader = PatchReader(s2, sar, extent=extent)
    grid = reader.patch_grid
    with PatchGridWriter(
        out_dir / "mean.tif", grid.grid, "float32", -1.0, ["mean reflectance"]
    ) as out:
        for block in reader.blocks():
            mean = np.where(block.keep, np.nanmean(block.s2, axis=(2, 3, 4)), -1.0)
            out.write(block.row, block.col, mean)


@pytest.fixture
def out_dir(tmp_path):
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_good_input_writes_the_output(tmp_path, out_dir):
    run_pipeline([write_s2_stack(tmp_path / "s2.tif", s2_reflectance(50, 50))], out_dir)
    assert [p.name for p in out_dir.iterdir()] == ["mean.tif"]


def test_raster_without_crs(tmp_path, out_dir):
    path = write_s2_stack(tmp_path / "s2.tif", s2_reflectance(50, 50), crs=None)
    with pytest.raises(InputError, match="has no coordinate reference system; assign one"):
        run_pipeline([path], out_dir)
    assert not any(out_dir.iterdir())


def test_sentinel2_input_with_a_missing_band(tmp_path, out_dir):
    reflectance = s2_reflectance(50, 50)
    bands = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11")
    path = write_s2_stack(tmp_path / "s2.tif", reflectance[:11], descriptions=bands)
    with pytest.raises(InputError, match=r"lacks band\(s\) B12\. Add the file"):
        run_pipeline([path], out_dir)
    assert not any(out_dir.iterdir())


def test_sentinel2_band_given_twice(tmp_path, out_dir):
    stack = write_s2_stack(tmp_path / "s2.tif", s2_reflectance(50, 50))
    extra = write_s2_stack(
        tmp_path / "T32TNN_B04.tif", s2_reflectance(50, 50)[:1], descriptions=None
    )
    with pytest.raises(InputError, match="band B04 is given more than once"):
        run_pipeline([stack, extra], out_dir)


def test_palsar_that_does_not_overlap_the_extent(tmp_path, out_dir):
    s2 = write_s2_stack(tmp_path / "s2.tif", s2_reflectance(50, 50))
    dn = np.full((20, 20), 3000)
    sar = write_palsar_4326(tmp_path / "sar", -70.0, -10.0, dn, dn)  # South America
    with pytest.raises(ExtentError, match="PALSAR-2 input does not overlap the extent"):
        run_pipeline([s2], out_dir, sar_paths=sar)
    assert not any(out_dir.iterdir())


def test_extent_outside_the_imagery(tmp_path, out_dir):
    s2 = write_s2_stack(tmp_path / "s2.tif", s2_reflectance(50, 50))
    far = Extent.from_bounds(2.0, 48.0, 2.1, 48.1, "EPSG:4326")  # Paris, the scene is in the Alps
    with pytest.raises(ExtentError, match="does not overlap the Sentinel-2 imagery; pan"):
        run_pipeline([s2], out_dir, extent=far)
    assert not any(out_dir.iterdir())


def test_extent_smaller_than_a_patch_gives_the_patch_that_holds_it(tmp_path, out_dir):
    s2 = write_s2_stack(tmp_path / "s2.tif", s2_reflectance(50, 50))
    tiny = Extent.from_bounds(
        ORIGIN[0] + 260, ORIGIN[1] - 400, ORIGIN[0] + 300, ORIGIN[1] - 300, UTM32N
    )
    reader = PatchReader(open_sentinel2([s2]), extent=tiny)
    assert (reader.patch_grid.rows, reader.patch_grid.cols) == (1, 1)
    assert reader.patch_grid.patch_bounds(0, 0) == (
        ORIGIN[0] + 250,
        ORIGIN[1] - 500,
        ORIGIN[0] + 500,
        ORIGIN[1] - 250,
    )


def test_all_no_data_extent(tmp_path, out_dir):
    reflectance = s2_reflectance(50, 50)
    reflectance[:] = 0  # DN 0 everywhere
    s2 = write_s2_stack(tmp_path / "s2.tif", reflectance)
    with pytest.raises(ExtentError, match=r"all no-data .* Choose an extent over valid imagery"):
        run_pipeline([s2], out_dir)
    assert not any(out_dir.iterdir())  # the writer had started: its partial file is gone


def test_nans_in_the_input(tmp_path, out_dir):
    reflectance = s2_reflectance(50, 50)
    reflectance[3, 40, 40] = np.nan
    s2 = write_s2_stack(tmp_path / "s2.tif", reflectance, dtype="float32", nodata=None)
    with pytest.raises(InputError, match=r"B04 .* contains NaN values .* -a_nodata nan"):
        run_pipeline([s2], out_dir)
    assert not any(out_dir.iterdir())


def test_non_raster_file(tmp_path, out_dir):
    text = tmp_path / "notes_B04.tif"
    text.write_text("this is not a raster")
    with pytest.raises(InputError, match="is not a raster GDAL can read"):
        run_pipeline([text], out_dir)
    with pytest.raises(InputError, match="does not exist; check the path"):
        run_pipeline([tmp_path / "missing.tif"], out_dir)
    assert not any(out_dir.iterdir())


def test_geographic_sentinel2_is_refused_with_the_fix(tmp_path, out_dir):
    path = tmp_path / "s2.tif"
    write_s2_stack(path, s2_reflectance(50, 50), crs="EPSG:4326", origin=(9.0, 46.0))
    with pytest.raises(InputError, match=r"geographic CRS.*gdalwarp -t_srs"):
        run_pipeline([path], out_dir)


def test_unknown_crs_text(tmp_path):
    with pytest.raises(InputError, match="not a coordinate reference system"):
        Extent.from_bounds(0, 0, 1, 1, "EPSG:999999")


def test_every_error_is_a_reo_error():
    assert issubclass(ExtentError, InputError) and issubclass(InputError, ReoError)
    assert issubclass(InputError, ValueError)  # callers catching ValueError still work
