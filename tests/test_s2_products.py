"""Real Sentinel-2 product layouts: what REO decides for each, from where, and what the model gets.

Each test writes a small product as users download it (``tests/s2_products.py``), opens it as a
user would point at it, and checks the decision (level, BOA offset and its source, units, band
identity, cloud source, warnings) and the reflectance of the first patch against the truth.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import rasterio
from s2_products import (
    CLOUD,
    product_name,
    reflectance,
    to_dn,
    write_band_folder,
    write_safe,
    write_stack,
    zip_folder,
)

from reo_core.errors import ExtentError, InputError
from reo_core.raster import CloudOptions, PatchReader, open_sentinel2
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, EUROSAT_BAND_ORDER

TEN_METRE = ("B02", "B03", "B04", "B08")
GEE_NAMES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12")


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    return reflectance(100, seed=1)


def first_patch(s2) -> np.ndarray:
    """What the model receives for the patch at the products' corner: (bands, 25, 25)."""
    block = next(iter(PatchReader(s2, block_patches=1).blocks()))
    assert block.keep[0, 0]
    return block.s2[0, 0]


def assert_reads_truth(s2, truth, bands=TEN_METRE) -> None:
    """The 10 m bands reach the model as the true reflectance (to the DN's rounding)."""
    patch = first_patch(s2)
    order = list(AGBD_BAND_ORDER)
    for band in bands:
        np.testing.assert_allclose(patch[order.index(band)], truth[band][:25, :25], atol=5.1e-5)
    # Every band, coarse ones resampled onto the 10 m grid, has the true patch mean.
    means = patch.mean(axis=(1, 2))
    expected = [truth[b][:25, :25].mean() for b in AGBD_BAND_ORDER]
    np.testing.assert_allclose(means, expected, rtol=0.03)


def test_safe_folder_is_read_from_its_metadata(tmp_path, truth):
    safe = write_safe(tmp_path, truth, baseline="05.09", offset=1000)
    s2 = open_sentinel2([safe])
    decision = s2.decision.to_dict()
    assert decision["product"] == product_name()
    assert decision["layouts"] == [".SAFE folder"]
    assert decision["level"]["value"] == "L2A" and decision["level"]["source"] == "MTD"
    offset = decision["boa_offset"]
    assert (offset["value"], offset["source"]) == (1000, "MTD")
    assert "offset list of" in offset["detail"] and offset["data_check"]["verdict"] == "offset"
    assert decision["clouds"]["kind"] == "scl" and decision["clouds"]["path"].endswith(
        "_SCL_20m.jp2"
    )
    files = {band: entry["file"] for band, entry in decision["bands"].items()}
    assert files["B02"].endswith("IMG_DATA/R10m/T32TNN_20230615T101559_B02_10m.jp2")
    assert files["B8A"].endswith("R20m/T32TNN_20230615T101559_B8A_20m.jp2")  # native, not 60 m
    assert files["B01"].endswith("R60m/T32TNN_20230615T101559_B01_60m.jp2")
    not_used = decision["files_not_used"]
    assert "T32TNN_20230615T101559_AOT_10m.jp2" in not_used  # not a band
    assert "T32TNN_20230615T101559_B02_20m.jp2" in not_used  # B02 resampled to 20 m
    assert not any(name.endswith("_B8A_20m.jp2") for name in not_used)
    assert decision["warnings"] == []
    assert_reads_truth(s2, truth)


def test_zipped_safe_reads_as_the_folder_does(tmp_path, truth):
    safe = write_safe(tmp_path / "unzipped", truth)
    archive = zip_folder(safe, tmp_path / f"{safe.stem}.zip")
    from_zip = open_sentinel2([archive])
    decision = from_zip.decision.to_dict()
    assert decision["layouts"] == ["zipped product"]
    assert decision["bands"]["B02"]["file"].startswith("/vsizip/")
    assert (decision["boa_offset"]["value"], decision["boa_offset"]["source"]) == (1000, "MTD")
    assert (
        decision["boa_offset"]["detail"].startswith("offset list of")
        and ".zip/" in (decision["boa_offset"]["detail"])
    )
    np.testing.assert_array_equal(first_patch(from_zip), first_patch(open_sentinel2([safe])))


def test_major_tom_folder_takes_the_offset_from_the_product_name_in_its_path(tmp_path, truth):
    folder = write_band_folder(tmp_path / product_name() / "cell_433U_1185R", truth, offset=1000)
    s2 = open_sentinel2([folder])
    decision = s2.decision.to_dict()
    assert decision["layouts"] == ["product folder"]
    offset = decision["boa_offset"]
    assert (offset["value"], offset["source"]) == (1000, "product name")
    assert "N0509" in offset["detail"]
    assert decision["level"]["value"] == "L2A"
    assert decision["clouds"]["kind"] == "screening"  # no SCL beside the bands
    assert decision["bands"]["B02"]["identified_by"] == "file name"
    assert_reads_truth(s2, truth)


def test_band_folder_without_any_name_or_date_is_decided_by_its_data(tmp_path, truth):
    with_offset = open_sentinel2([write_band_folder(tmp_path / "a", truth, offset=1000)])
    offset = with_offset.decision.offset
    assert (offset.value, offset.source) == (1000, "data")
    assert with_offset.decision.data_check.verdict == "offset"
    assert_reads_truth(with_offset, truth)
    without = open_sentinel2([write_band_folder(tmp_path / "b", truth, offset=0)])
    assert (without.decision.offset.value, without.decision.data_check.verdict) == (0, "no offset")
    assert_reads_truth(without, truth)


def test_stac_item_beside_the_bands_gives_the_offset(tmp_path, truth):
    item = {"offset": -0.1, "properties": {"s2:processing_baseline": "05.09"}}
    folder = write_band_folder(tmp_path / "S2B_32TNN_20230615_0_L2A", truth, 1000, stac=item)
    s2 = open_sentinel2([folder])
    offset = s2.decision.to_dict()["boa_offset"]
    assert (offset["value"], offset["source"]) == (1000, "STAC item")
    assert "raster:bands offset of B" in offset["detail"]
    assert s2.decision.level.value == "L2A"
    assert_reads_truth(s2, truth)
    # Earth Search's harmonised items: the offset was taken out of the DN, the item says so.
    removed = {
        "properties": {"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True}
    }
    folder = write_band_folder(tmp_path / "S2B_32TNN_20230616_0_L2A", truth, 0, stac=removed)
    offset = open_sentinel2([folder]).decision.offset
    assert (offset.value, offset.source) == (0, "STAC item")


def test_google_earth_engine_stack_is_read_by_its_band_names(tmp_path, truth):
    layers = [to_dn(truth[b], 0) for b in AGBD_BAND_ORDER]  # S2_SR_HARMONIZED: no offset left
    path = write_stack(tmp_path / "export.tif", layers, descriptions=GEE_NAMES)
    s2 = open_sentinel2([path])
    decision = s2.decision.to_dict()
    assert decision["bands"]["B8A"] == {
        "file": str(path),
        "band": 9,
        "identified_by": "band description",
        "read": True,
    }
    assert decision["bands"]["B11"]["band"] == 11
    assert (decision["boa_offset"]["value"], decision["boa_offset"]["source"]) == (0, "data")
    assert decision["level"]["value"] == "unknown"  # nothing says; read as L2A
    assert_reads_truth(s2, truth)


def test_l1c_product_is_refused_and_can_be_allowed(tmp_path, truth):
    safe = write_safe(tmp_path, truth, level="L1C")
    with pytest.raises(InputError, match=r"Level-1C product .*surface reflectance.*--allow-l1c"):
        open_sentinel2([safe])
    s2 = open_sentinel2([safe], allow_l1c=True)
    decision = s2.decision.to_dict()
    assert (decision["level"]["value"], decision["level"]["source"]) == ("L1C", "MTD")
    assert any("Level-1C input read" in w for w in decision["warnings"])
    assert "B10" in decision["bands"] and decision["bands"]["B10"]["read"] is False
    assert decision["boa_offset"]["value"] == 1000  # RADIO_ADD_OFFSET of baseline 05.09
    assert_reads_truth(s2, truth)


def test_eurosat_order_stack_needs_its_order_named(tmp_path, truth):
    layers = [to_dn(truth[b], 0) for b in EUROSAT_BAND_ORDER]
    path = write_stack(tmp_path / "Forest_17.tif", layers)
    with pytest.raises(InputError, match=r"fit several orders: l1c .*eurosat .*B12, B8A\)"):
        open_sentinel2([path])
    with pytest.raises(InputError, match=r"Level-1C .*band B10 in Forest_17.tif"):
        open_sentinel2([path], band_order="eurosat")  # EuroSAT is top-of-atmosphere
    s2 = open_sentinel2([path], band_order="eurosat", allow_l1c=True)
    assert (s2.bands["B8A"].index, s2.bands["B11"].index, s2.bands["B12"].index) == (13, 11, 12)
    assert_reads_truth(s2, truth, bands=AGBD_BAND_ORDER)  # one 10 m stack: every band exact


def test_n0400_in_the_name_does_not_overrule_data_without_offset(tmp_path, truth):
    name = product_name(baseline="N0400", sensed=date(2022, 6, 1))
    path = write_stack(
        tmp_path / f"{name}.tif",
        [to_dn(truth[b], 0) for b in AGBD_BAND_ORDER],
        descriptions=AGBD_BAND_ORDER,
    )
    s2 = open_sentinel2([path])
    decision = s2.decision
    assert (decision.offset.value, decision.offset.source) == (0, "data")
    assert "product name said 1000" in decision.offset.detail
    assert "read with offset 0" in decision.warnings[0]
    assert_reads_truth(s2, truth)  # dark pixels are not clipped to 0


def test_a_baseline_esa_never_used_is_not_believed(tmp_path, truth):
    name = product_name(baseline="N9999")  # a Sen2Cor run of one's own, sensed in 2023
    layers = [to_dn(truth[b], 0) for b in AGBD_BAND_ORDER]
    path = write_stack(tmp_path / f"{name}.tif", layers, descriptions=AGBD_BAND_ORDER)
    decision = open_sentinel2([path]).decision
    assert "acquisition date said 1000" in decision.offset.detail  # not the name's N9999
    assert decision.offset.value == 0 and decision.data_check.verdict == "no offset"


def test_float_rasters_holding_digital_numbers_are_read_as_digital_numbers(tmp_path, truth):
    dn = [to_dn(truth[b], 0).astype(np.float32) for b in AGBD_BAND_ORDER]
    path = write_stack(tmp_path / "float_dn.tif", dn, descriptions=AGBD_BAND_ORDER, dtype="float32")
    s2 = open_sentinel2([path])
    units = s2.decision.units[str(path)]
    assert units.kind == "dn" and "99th percentile" in units.reason
    assert "float raster holding digital numbers" in s2.decision.warnings[0]
    assert_reads_truth(s2, truth)
    as_reflectance = [truth[b] for b in AGBD_BAND_ORDER]
    path = write_stack(
        tmp_path / "float_reflectance.tif",
        as_reflectance,
        descriptions=AGBD_BAND_ORDER,
        dtype="float32",
    )
    s2 = open_sentinel2([path])
    assert s2.decision.units[str(path)].kind == "reflectance" and s2.decision.warnings == ()
    assert_reads_truth(s2, truth)
    odd = [truth[b] * 30 for b in AGBD_BAND_ORDER]  # neither reflectance nor DN
    path = write_stack(tmp_path / "odd.tif", odd, descriptions=AGBD_BAND_ORDER, dtype="float32")
    with pytest.raises(InputError, match=r"too large for reflectance .* too small for digital"):
        open_sentinel2([path])
    bytes_ = [np.full((100, 100), 90) for _ in AGBD_BAND_ORDER]
    path = write_stack(tmp_path / "tci.tif", bytes_, descriptions=AGBD_BAND_ORDER, dtype="uint8")
    with pytest.raises(InputError, match=r"8-bit values .* not Sentinel-2 reflectance"):
        open_sentinel2([path])


def test_overcast_scene_without_scl_gives_no_patch_and_says_so(tmp_path):
    clouds = reflectance(100, seed=2, spectrum=CLOUD)
    path = write_stack(
        tmp_path / "overcast.tif",
        [to_dn(clouds[b], 0) for b in AGBD_BAND_ORDER],
        descriptions=AGBD_BAND_ORDER,
    )
    s2 = open_sentinel2([path])
    assert s2.decision.clouds.kind == "screening"
    reader = PatchReader(s2)
    with pytest.raises(ExtentError, match=r"of 16 patches, mostly 16 cloud .* overcast here"):
        list(reader.blocks())
    assert reader.skips.counts == {"no_data": 0, "cloud": 16, "shadow": 0, "outside_area": 0}


@pytest.mark.parametrize(
    ("kind", "values", "threshold"),
    [
        ("binary", (0, 1), None),
        ("probability", (10, 90), None),
        ("probability", (0.1, 0.3), 0.25),
        ("fmask", (0, 4), None),
        ("scl", (4, 9), None),
    ],
)
def test_a_cloud_mask_of_each_kind_skips_the_patches_it_marks(
    tmp_path, truth, kind, values, threshold
):
    clear, cloudy = values
    mask = np.full((100, 100), clear, dtype=np.float32 if threshold else np.uint8)
    mask[:25, :25] = cloudy  # patch (0, 0)
    mask_path = write_stack(tmp_path / "mask.tif", [mask], dtype=mask.dtype.name)
    bands = write_stack(
        tmp_path / "s2.tif",
        [to_dn(truth[b], 0) for b in AGBD_BAND_ORDER],
        descriptions=AGBD_BAND_ORDER,
    )
    options = CloudOptions(mask=mask_path, kind=kind, threshold=threshold)
    s2 = open_sentinel2([bands], clouds=options)
    assert s2.decision.clouds.kind == "mask" and s2.decision.clouds.mask_kind == kind
    reader = PatchReader(s2)
    keep = np.concatenate([block.keep.ravel() for block in reader.blocks()])
    assert not keep[0] and keep[1:].all()
    assert reader.skips.counts["cloud"] == 1


def test_a_cloud_mask_in_another_crs_is_refused(tmp_path, truth):
    mask = tmp_path / "mask.tif"
    with rasterio.open(
        mask,
        "w",
        driver="GTiff",
        width=10,
        height=10,
        count=1,
        dtype="uint8",
        crs="EPSG:4326",
        transform=rasterio.transform.from_origin(9, 46, 0.01, 0.01),
    ) as dst:
        dst.write(np.zeros((1, 10, 10), np.uint8))
    bands = write_stack(
        tmp_path / "s2.tif",
        [to_dn(truth[b], 0) for b in AGBD_BAND_ORDER],
        descriptions=AGBD_BAND_ORDER,
    )
    with pytest.raises(InputError, match=r"cloud mask mask\.tif is in another CRS"):
        open_sentinel2([bands], clouds=CloudOptions(mask=mask, kind="binary"))


def test_real_bigearthnet_patches_are_read_without_offset(shared_data):
    """Six real L2A patches of 2017-2018 (one in snow): every decision agrees with the data."""
    folders = sorted((shared_data / "real" / "bigearthnet-s2-l2a").iterdir())
    assert len(folders) == 6
    for folder in folders:
        decision = open_sentinel2(sorted(folder.glob("*_B*.tif"))).decision
        assert decision.level.value == "L2A" and decision.level.source == "product name"
        assert (decision.offset.value, decision.offset.source) == (0, "acquisition date")
        assert decision.data_check.verdict == "no offset", folder.name
        assert decision.warnings == (), folder.name
        assert decision.clouds.kind == "screening"
