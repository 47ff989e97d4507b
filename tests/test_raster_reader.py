"""Reading: band identity, the 10 m reference grid, resampling, reprojection and patch streaming."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasters import (
    ORIGIN,
    UTM32N,
    s2_reflectance,
    write_palsar_4326,
    write_s2_band_files,
    write_s2_stack,
)
from shapely.geometry import Polygon

from reo_core.errors import InputError
from reo_core.raster import CloudOptions, Extent, PatchReader, open_sar, open_sentinel2
from reo_core.raster.reader import read_native
from reo_core.sensors.palsar2 import SarUnits, dn_to_db
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER


def assemble(reader: PatchReader, field: str = "s2") -> np.ndarray:
    """Put the patches of a stride-25 reader back together into (bands, H, W)."""
    grid = reader.patch_grid
    size = grid.size
    out = None
    for block in reader.blocks():
        values = getattr(block, field)  # (R, C, B, size, size)
        if out is None:
            out = np.full((values.shape[2], grid.rows * size, grid.cols * size), np.nan, np.float32)
        for r in range(block.n_rows):
            for c in range(block.n_cols):
                y, x = (block.row + r) * size, (block.col + c) * size
                out[:, y : y + size, x : x + size] = values[r, c]
    return out


NO_SCREENING = CloudOptions(screening=False)


def data_offset(reader: PatchReader, ref) -> tuple[int, int]:
    """(row, col) of a band's top-left pixel in the reader's reference grid."""
    transform = reader.patch_grid.pixels.transform
    return (round((transform.f - ref.bounds[3]) / 10), round((ref.bounds[0] - transform.c) / 10))


def test_bigearthnet_bands_stack_on_the_b02_grid(bigearthnet_patch):
    files = sorted(bigearthnet_patch.glob("*_B*.tif"))
    s2 = open_sentinel2(files, clouds=NO_SCREENING)  # every pixel, to compare with the files
    assert set(s2.bands) == set(AGBD_BAND_ORDER)
    reader = PatchReader(s2, block_patches=2)
    pixels = reader.patch_grid.pixels
    with rasterio.open(next(f for f in files if f.stem.endswith("_B02"))) as b02:
        assert pixels.crs == b02.crs
        # The patch lattice: corners on multiples of 250 m, on B02's 10 m pixels (404400, 5342400).
        assert (pixels.transform.c, pixels.transform.f) == (404250.0, 5342500.0)
        assert pixels.transform.a == b02.transform.a == 10.0
        native_b02 = b02.read(1)
    row, col = data_offset(reader, s2.bands["B02"])
    assert (row, col) == (10, 15)
    stack = assemble(reader)
    assert stack.shape == (12, 150, 150)  # 6 x 6 cells of 250 m cover the 1.2 km patch
    inside = np.zeros(stack.shape[1:], dtype=bool)
    inside[row : row + 120, col : col + 120] = True
    assert np.isnan(stack[:, ~inside]).all()  # beyond the imagery: no-data
    b02 = stack[1, row : row + 120, col : col + 120]
    np.testing.assert_allclose(b02, native_b02 / 10000.0, rtol=0, atol=1e-7)


@pytest.mark.parametrize("band", ["B05", "B11", "B09"])
def test_coarse_band_matches_rasterios_own_resampling(bigearthnet_patch, band):
    files = sorted(bigearthnet_patch.glob("*_B*.tif"))
    reader = PatchReader(open_sentinel2(files, clouds=NO_SCREENING))
    stack = assemble(reader)
    row, col = data_offset(reader, reader.s2.bands["B02"])
    path = next(f for f in files if f.stem.endswith("_" + band))
    with rasterio.open(path) as src:
        expected = np.zeros((120, 120), dtype=np.uint16)
        reproject(
            rasterio.band(src, 1),
            expected,
            dst_transform=rasterio.Affine(10, 0, src.bounds.left, 0, -10, src.bounds.top),
            dst_crs=src.crs,
            resampling=Resampling.bilinear,
            src_nodata=0,
            dst_nodata=0,
        )
    got = stack[AGBD_BAND_ORDER.index(band), row : row + 120, col : col + 120]
    # Both are GDAL's bilinear warp; at most a rounding step (1 DN) apart, almost always equal.
    np.testing.assert_allclose(got, expected / 10000.0, rtol=0, atol=1.01e-4)
    assert np.mean(np.abs(got - expected / 10000.0) < 1e-7) > 0.98


def test_real_palsar_tile_converts_to_db_and_keeps_no_data(palsar_tile):
    sar = open_sar(sorted(palsar_tile.glob("*_sl_H?_*.tif")))
    assert sar.units is SarUnits.DN
    hh = sar.bands["HH"]
    window = (3900, 2400, 600, 600)  # row, col, height, width: across the swath edge
    db = read_native(hh, sar.units, window)
    with rasterio.open(hh.path) as src:
        dn = src.read(1, window=rasterio.windows.Window(2400, 3900, 600, 600))
    declared = src.nodata
    assert 0 < (dn == declared).mean() < 1
    assert np.isnan(db[dn == declared]).all()
    valid = dn != declared
    np.testing.assert_allclose(db[valid], 20 * np.log10(dn[valid].astype(float)) - 83, atol=1e-4)
    assert -40 < np.median(db[valid]) < 0  # sea backscatter is dark


def test_palsar_in_epsg4326_lands_on_the_right_sentinel2_pixels(tmp_path):
    """A bright PALSAR-2 square whose UTM position is known must appear on exactly those S2
    pixels."""
    from pyproj import Transformer

    size = 100  # 1 km of 10 m pixels
    s2_path = write_s2_stack(tmp_path / "s2.tif", s2_reflectance(size, size))
    to_geo = Transformer.from_crs(UTM32N, "EPSG:4326", always_xy=True)
    to_utm = Transformer.from_crs("EPSG:4326", UTM32N, always_xy=True)
    west, _ = to_geo.transform(ORIGIN[0] - 300, ORIGIN[1])
    _, north = to_geo.transform(ORIGIN[0], ORIGIN[1] + 300)
    step = 1 / 4500
    n = 90
    lons = west + (np.arange(n) + 0.5) * step
    lats = north - (np.arange(n) + 0.5) * step
    lon_grid, lat_grid = np.meshgrid(lons, lats)
    x, y = to_utm.transform(lon_grid, lat_grid)
    # The bright square: UTM x in [300, 600) m and y in [-700, -400) m from the S2 origin.
    inside = (
        (x >= ORIGIN[0] + 300)
        & (x < ORIGIN[0] + 600)
        & (y < ORIGIN[1] - 400)
        & (y >= ORIGIN[1] - 700)
    )
    dn = np.where(inside, 20000, 2000)
    sar_paths = write_palsar_4326(tmp_path / "sar", west, north, dn, dn)
    reader = PatchReader(open_sentinel2([s2_path]), open_sar(sar_paths))
    hh = assemble(reader, "sar")[0]
    bright, dark = 20 * np.log10(20000) - 83, 20 * np.log10(2000) - 83
    margin = 4  # PALSAR-2 pixels are ~25 m: stay 40 m clear of the square's edges
    square = hh[40 + margin : 70 - margin, 30 + margin : 60 - margin]
    np.testing.assert_allclose(square, bright, atol=0.01)
    outside = np.ones_like(hh, dtype=bool)
    outside[40 - margin : 70 + margin, 30 - margin : 60 + margin] = False
    np.testing.assert_allclose(hh[outside], dark, atol=0.01)


def test_per_band_files_at_native_resolution_equal_the_stack(tmp_path):
    reflectance = s2_reflectance(60, 60, seed=2)
    paths = write_s2_band_files(tmp_path / "bands", reflectance)
    stack = assemble(PatchReader(open_sentinel2(paths)))
    b04 = AGBD_BAND_ORDER.index("B04")
    np.testing.assert_allclose(stack[b04, :50, :50], reflectance[b04, :50, :50], atol=6e-5)
    # A 60 m band is smooth at 10 m: neighbouring values differ less than native 60 m pixels do.
    b09 = stack[AGBD_BAND_ORDER.index("B09"), :50, :50]
    assert np.isfinite(b09).all()


def test_stack_without_band_names_is_read_in_the_order_the_user_names(tmp_path):
    reflectance = s2_reflectance(30, 30)
    agbd = write_s2_stack(tmp_path / "agbd.tif", reflectance, descriptions=None)
    with pytest.raises(InputError, match=r"12 bands without band names.*--band-order"):
        open_sentinel2([agbd])
    s2 = open_sentinel2([agbd], band_order="agbd")
    assert [s2.bands[b].index for b in AGBD_BAND_ORDER] == list(range(1, 13))
    assert s2.decision.to_dict()["bands"]["B11"]["identified_by"] == "band order 'agbd'"
    l1c = np.insert(reflectance, 10, 0.01, axis=0)  # B10 between B09 and B11
    l1c_path = write_s2_stack(tmp_path / "l1c.tif", l1c, descriptions=None)
    with pytest.raises(InputError, match=r"13 unnamed bands fit several orders: l1c .*; eurosat"):
        open_sentinel2([l1c_path])
    s2_l1c = open_sentinel2([l1c_path], band_order="l1c", allow_l1c=True)
    assert s2_l1c.bands["B11"].index == 12 and "B10" not in s2_l1c.bands
    with pytest.raises(InputError, match=r"has 13 bands, but the band order 'agbd' has 12"):
        open_sentinel2([l1c_path], band_order="agbd")


def test_explicit_mapping_overrides_detection(tmp_path):
    reflectance = s2_reflectance(30, 30)
    stack = write_s2_stack(tmp_path / "s2.tif", reflectance, descriptions=None)
    swapped = open_sentinel2(
        [stack], band_mapping={"B02": (str(stack), 4), "B04": (str(stack), 2)}, band_order="agbd"
    )
    assert swapped.bands["B02"].index == 4 and swapped.bands["B04"].index == 2
    assert swapped.decision.to_dict()["bands"]["B02"]["identified_by"] == "band mapping"


def test_boa_offset_comes_from_tags_or_product_name(tmp_path):
    with_offset = s2_reflectance(30, 30) + 0.1  # DN + 1000
    tagged = write_s2_stack(tmp_path / "tagged.tif", with_offset)
    with rasterio.open(tagged, "r+") as dst:
        dst.update_tags(BOA_ADD_OFFSET="-1000")
    offset = open_sentinel2([tagged]).decision.offset
    assert (offset.value, offset.source) == (1000, "GDAL metadata")
    named = write_s2_stack(
        tmp_path / "S2B_MSIL2A_20220601T101559_N0400_R065_T32TNN.tif", with_offset
    )
    offset = open_sentinel2([named]).decision.offset
    assert (offset.value, offset.source) == (1000, "product name")
    insisted = open_sentinel2([named], boa_offset=0).decision
    assert (insisted.offset.value, insisted.offset.source) == (0, "user")
    assert "Kept as you asked" in insisted.warnings[0]  # the data say otherwise: never silent
    plain = write_s2_stack(tmp_path / "plain.tif", s2_reflectance(30, 30))
    offset = open_sentinel2([plain]).decision.offset
    assert (offset.value, offset.source) == (0, "data")


def test_offset_data_reads_as_the_same_reflectance(tmp_path):
    reflectance = s2_reflectance(25, 25)
    plain = write_s2_stack(tmp_path / "plain.tif", reflectance)
    offset = write_s2_stack(
        tmp_path / "S2B_MSIL2A_20220601T101559_N0400_R065.tif", reflectance + 0.1
    )
    a = assemble(PatchReader(open_sentinel2([plain])))
    b = assemble(PatchReader(open_sentinel2([offset])))
    np.testing.assert_allclose(a, b, atol=1.01e-4)  # one DN of rounding


def test_extent_in_another_crs_snaps_to_the_10m_grid(tmp_path):
    from pyproj import Transformer

    s2 = open_sentinel2([write_s2_stack(tmp_path / "s2.tif", s2_reflectance(200, 200))])
    to_geo = Transformer.from_crs(UTM32N, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_geo.transform(ORIGIN[0] + 503, ORIGIN[1] - 1497)
    lon1, lat1 = to_geo.transform(ORIGIN[0] + 1004, ORIGIN[1] - 996)
    reader = PatchReader(s2, extent=Extent.from_bounds(lon0, lat0, lon1, lat1, "EPSG:4326"))
    pixels = reader.patch_grid.pixels
    assert (pixels.transform.c - ORIGIN[0]) % 10 == 0 and (ORIGIN[1] - pixels.transform.f) % 10 == 0
    left, _, _, top = pixels.bounds
    assert (left - ORIGIN[0]) % 250 == 0 and (ORIGIN[1] - top) % 250 == 0  # on the lattice
    assert left <= ORIGIN[0] + 503 and top >= ORIGIN[1] - 996  # covers the request
    assert left > ORIGIN[0] + 503 - 250 - 20 and top < ORIGIN[1] - 996 + 250 + 20  # one cell
    assert reader.patch_grid.grid.transform.a == 250.0


def test_stride_gives_overlapping_patches_centred_on_grid_cells(tmp_path):
    reflectance = s2_reflectance(100, 100)
    s2 = open_sentinel2([write_s2_stack(tmp_path / "s2.tif", reflectance)])
    reader = PatchReader(s2, stride=10)
    grid = reader.patch_grid
    # Cells of 100 m centred on patches whose corners lie on multiples of 100 m: 11 cells cover
    # the 1 km of imagery, the first and last holding patches that reach past it.
    assert (grid.rows, grid.cols) == (11, 11)
    cell = grid.grid
    assert cell.transform.a == 100.0
    # Cell (1, 1) is centred on patch (1, 1), whose corner is the imagery's: 12.5 px from it.
    centre_x = cell.transform.c + 1.5 * cell.transform.a
    assert centre_x == pytest.approx(ORIGIN[0] + 125.0)
    assert grid.patch_bounds(1, 1)[0] == ORIGIN[0]
    block = next(iter(reader.blocks()))
    np.testing.assert_allclose(block.s2[1, 2, :, :, :15], block.s2[1, 1, :, :, 10:], atol=1e-6)


def test_polygon_area_of_interest_keeps_only_patches_it_touches(tmp_path):
    s2 = open_sentinel2([write_s2_stack(tmp_path / "s2.tif", s2_reflectance(250, 250))])
    x0, y0 = ORIGIN
    # A triangle over the upper-left half of the scene.
    triangle = Polygon([(x0 + 1, y0 - 1), (x0 + 2499, y0 - 1), (x0 + 1, y0 - 2499)])
    reader = PatchReader(s2, extent=Extent.from_geometry(triangle, UTM32N))
    keep = np.zeros((reader.patch_grid.rows, reader.patch_grid.cols), dtype=bool)
    for block in reader.blocks():
        keep[block.row : block.row + block.n_rows, block.col : block.col + block.n_cols] = (
            block.keep
        )
    assert keep[0, 0] and keep[0, 9] and keep[9, 0]
    assert not keep[9, 9] and not keep[5, 9]
    assert keep.sum() == sum(range(1, 11)) + 9  # the diagonal's neighbours touch the edge too


def test_no_data_rule_skips_mostly_empty_patches(tmp_path):
    reflectance = s2_reflectance(50, 50)
    reflectance[:, :25, :20] = 0  # DN 0: 80% of patch (0, 0) is no data
    reflectance[:, 25:, :5] = 0  # 20% of patch (1, 0)
    s2 = open_sentinel2([write_s2_stack(tmp_path / "s2.tif", reflectance)])
    block = next(iter(PatchReader(s2).blocks()))
    assert block.keep.tolist() == [[False, True], [True, True]]
    np.testing.assert_allclose(block.valid_fraction, [[0.2, 1.0], [0.8, 1.0]])
    strict = next(iter(PatchReader(s2, max_nodata_fraction=0.1).blocks()))
    assert strict.keep.tolist() == [[False, True], [False, True]]


def test_float_input_with_declared_nan_no_data_is_reflectance(tmp_path):
    reflectance = s2_reflectance(25, 25)
    reflectance[:, 0, 0] = np.nan
    path = write_s2_stack(tmp_path / "s2.tif", reflectance, dtype="float32", nodata=float("nan"))
    block = next(iter(PatchReader(open_sentinel2([path])).blocks()))
    assert np.isnan(block.s2[0, 0, :, 0, 0]).all()
    np.testing.assert_allclose(block.s2[0, 0, :, 5, 5], reflectance[:, 5, 5])


def test_blocks_cover_the_patch_grid_exactly_once(tmp_path):
    s2 = open_sentinel2([write_s2_stack(tmp_path / "s2.tif", s2_reflectance(175, 125))])
    reader = PatchReader(s2, block_patches=3)
    seen = np.zeros((reader.patch_grid.rows, reader.patch_grid.cols), dtype=int)
    for row, col, n_rows, n_cols in reader.block_layout():
        seen[row : row + n_rows, col : col + n_cols] += 1
    assert seen.shape == (7, 5) and (seen == 1).all()


def test_native_read_of_db_values_is_unchanged(tmp_path):
    dn = np.full((10, 10), 5000)
    paths = write_palsar_4326(tmp_path, 9.0, 46.0, dn, dn)
    sar = open_sar(paths)
    db = read_native(sar.bands["HV"], sar.units)
    np.testing.assert_allclose(db, dn_to_db(np.array(5000)), atol=1e-5)


def test_scene_classification_masks_clouds_and_shadows(tmp_path):
    reflectance = s2_reflectance(50, 50)
    stack = write_s2_stack(tmp_path / "T32TNN_20200601.tif", reflectance)
    scl = np.full((25, 25), 4, dtype=np.uint8)  # 20 m: vegetation
    scl[:12, :12] = 9  # cloud over most of patch (0, 0): 10 m pixels 0..23
    scl[20:, 20:] = 3  # a cloud shadow corner in patch (1, 1)
    scl_path = tmp_path / "T32TNN_20200601_SCL_20m.tif"
    with rasterio.open(
        scl_path,
        "w",
        driver="GTiff",
        width=25,
        height=25,
        count=1,
        dtype="uint8",
        crs=UTM32N,
        transform=rasterio.transform.from_origin(*ORIGIN, 20, 20),
    ) as dst:
        dst.write(scl, 1)
    s2 = open_sentinel2([stack, scl_path])  # the SCL file is recognised by its name
    assert s2.cloud_mask is not None and s2.cloud_mask.path == scl_path
    assert s2.decision.clouds.kind == "scl"
    block = next(iter(PatchReader(s2).blocks()))
    assert np.isnan(block.s2[0, 0, :, :24, :24]).all() and np.isfinite(block.s2[0, 0, :, 24]).all()
    assert (
        np.isnan(block.s2[1, 1, :, 15:, 15:]).all()
        and np.isfinite(block.s2[1, 1, :, :15, :15]).all()
    )
    assert block.keep.tolist() == [[False, True], [True, True]]


def patches_by_cell(reader: PatchReader) -> dict[tuple[float, float], np.ndarray]:
    """Every patch's reflectance by the CRS position of its top-left corner."""
    grid, found = reader.patch_grid, {}
    for block in reader.blocks():
        for r in range(block.n_rows):
            for c in range(block.n_cols):
                left, _, _, top = grid.patch_bounds(block.row + r, block.col + c)
                found[(left, top)] = block.s2[r, c]
    return found


def test_sub_extents_read_the_same_patches_as_the_whole_scene(bigearthnet_patch):
    """Patches sit on one lattice in the CRS: any extent's patches are the whole scene's."""
    s2 = open_sentinel2(sorted(bigearthnet_patch.glob("*_B*.tif")))
    whole = patches_by_cell(PatchReader(s2))
    x0, y0 = 404400.0, 5342400.0  # the patch's corner, not on the 250 m lattice
    for bounds in (
        (x0 + 111.1, y0 - 987.6, x0 + 654.3, y0 - 222.2),
        (x0 + 333.3, y0 - 1100.0, x0 + 1190.0, y0 - 501.0),
    ):
        part = patches_by_cell(PatchReader(s2, extent=Extent.from_bounds(*bounds, "EPSG:32633")))
        assert part and set(part) < set(whole)
        for corner, values in part.items():
            assert corner[0] % 250 == 0 and corner[1] % 250 == 0
            np.testing.assert_array_equal(values, whole[corner])  # bitwise, NaNs included
