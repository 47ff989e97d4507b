"""Sensor tables, unit conversions, statistics and the paper's composites."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reo_core.errors import InputError
from reo_core.sensors import palsar2, sentinel2
from reo_core.sensors.composites import (
    MODALITY_IMAGES,
    SPECTRAL_COMPOSITES,
    bands_needed,
    modality_images,
    sar_pseudo_rgb,
    scale_to_byte,
)
from reo_core.sensors.statistics import SAR_DYNAMIC_RANGE_DB, load_statistics


def test_band_table_holds_agbd_order_and_native_resolutions():
    assert sentinel2.AGBD_BAND_ORDER == (
        "B01",
        "B02",
        "B03",
        "B04",
        "B05",
        "B06",
        "B07",
        "B08",
        "B8A",
        "B09",
        "B11",
        "B12",
    )
    assert "B10" not in sentinel2.AGBD_BAND_ORDER
    resolutions = {b: sentinel2.ALL_BANDS[b].resolution_m for b in sentinel2.ALL_BANDS}
    assert [b for b, r in resolutions.items() if r == 10] == ["B02", "B03", "B04", "B08"]
    assert [b for b, r in resolutions.items() if r == 60] == ["B01", "B09", "B10"]
    wavelengths = [sentinel2.ALL_BANDS[b].wavelength_nm for b in sentinel2.L1C_BAND_ORDER]
    assert wavelengths == sorted(wavelengths)


@pytest.mark.parametrize(
    ("text", "band"),
    [
        ("B02", "B02"),
        ("b2", "B02"),
        ("B8A", "B8A"),
        ("band 8a", "B8A"),
        ("B12", "B12"),
        ("b8a", "B8A"),
        ("B08_10m", "B08"),
        ("B8A_20m", "B8A"),
        ("B4, central wavelength 665 nm", "B04"),  # GDAL's SENTINEL2 driver
        ("nir", "B08"),  # STAC common names
        ("nir08", "B8A"),
        ("swir22", "B12"),
        ("rededge", None),  # three bands share this common name
        ("NDVI", None),
    ],
)
def test_band_names_normalise(text, band):
    assert sentinel2.normalize_band_name(text) == band


@pytest.mark.parametrize(
    ("stem", "band"),
    [
        ("S2A_MSIL2A_20170613T101031_87_48_B8A", "B8A"),
        ("T32TNN_20200601T101559_B04_10m", "B04"),
        ("T32TNN_20200601T101559_B4", "B04"),
        ("mosaic_red", None),
        ("B02", "B02"),  # Major-TOM, Earth Search downloads
        ("red", "B04"),  # a STAC asset saved under its key
        ("S2B_33UUP_20230615_0_L2A", None),
    ],
)
def test_band_from_file_name(stem, band):
    assert sentinel2.band_from_file_name(stem) == band


def test_file_name_with_two_bands_is_ambiguous():
    with pytest.raises(InputError, match="B04, B08"):
        sentinel2.band_from_file_name("ndvi_B08_B04")


def test_reflectance_subtracts_the_baseline_04_offset():
    dn = np.array([0, 1000, 1500, 11000, 900], dtype=np.uint16)
    reflectance = sentinel2.dn_to_reflectance(dn, boa_offset=1000)
    assert np.isnan(reflectance[0])  # DN 0 is no data
    np.testing.assert_allclose(
        reflectance[1:], [0.0, 0.05, 1.0, 0.0]
    )  # below the offset clips to 0
    np.testing.assert_allclose(sentinel2.dn_to_reflectance(dn[1:4]), [0.1, 0.15, 1.1])


def test_processing_baseline_decides_the_offset():
    old = "S2A_MSIL2A_20190601T101031_N0212_R022_T32TNN_20190601T130000"
    new = "S2B_MSIL2A_20220601T101559_N0400_R065_T32TNN_20220601T130000"
    assert sentinel2.processing_baseline(old) == (2, 12)
    assert sentinel2.boa_offset_for_baseline(sentinel2.processing_baseline(old)) == 0
    assert sentinel2.boa_offset_for_baseline(sentinel2.processing_baseline(new)) == 1000
    assert sentinel2.boa_offset_for_baseline(None) == 0


def test_reflectance_round_trips_through_dn():
    reflectance = np.array([0.0123, 0.4, np.nan])
    dn = sentinel2.reflectance_to_dn(reflectance, boa_offset=1000)
    assert dn.tolist() == [1123, 5000, 0]
    np.testing.assert_allclose(sentinel2.dn_to_reflectance(dn, 1000)[:2], [0.0123, 0.4], atol=1e-6)


def test_palsar_dn_to_db_follows_jaxa_and_keeps_no_data():
    db = palsar2.dn_to_db(np.array([0, 1, 10000, 14125], dtype=np.uint16))
    assert np.isnan(db[0])
    np.testing.assert_allclose(db[1:], [-83.0, -3.0, 20 * np.log10(14125) - 83], atol=1e-5)
    np.testing.assert_array_equal(palsar2.db_to_dn(db), [0, 1, 10000, 14125])


def test_palsar_units_convert_to_db():
    np.testing.assert_allclose(
        palsar2.to_db(np.array([0.1, 0.01]), palsar2.SarUnits.LINEAR), [-10, -20]
    )
    assert np.isnan(palsar2.linear_to_db(np.array([0.0]))[0])
    with pytest.raises(InputError, match="dn, db, linear"):
        palsar2.SarUnits.parse("sigma")


def test_polarisation_from_jaxa_file_names():
    assert palsar2.polarisation_from_name("N23W161_20_sl_HH_F02DAR") == "HH"
    assert palsar2.polarisation_from_name("scene-hv") == "HV"
    assert palsar2.polarisation_from_name("N23W161_20_linci_F02DAR") is None


def test_builtin_statistics_match_the_published_agbd_numbers(shared_data):
    published = json.loads((shared_data / "agbd" / "agbd_statistics_2019-2020.json").read_text())
    stats = load_statistics("agbd-2019-2020")
    for band in sentinel2.AGBD_BAND_ORDER:
        assert stats.s2[band].p1 == published["S2_bands"][band]["p1"]
        assert stats.s2[band].p99 == published["S2_bands"][band]["p99"]
    assert stats.sar["HV"].mean == published["ALOS_bands"]["HV"]["mean"]
    lite = load_statistics("agbd-lite")
    assert lite.s2["B02"].mean != stats.s2["B02"].mean


def test_sar_scaling_range_ignores_the_no_data_floor():
    stats = load_statistics()
    low, high = stats.sar_range("HV")
    assert high == stats.sar["HV"].p99
    assert low == pytest.approx(high - SAR_DYNAMIC_RANGE_DB)
    assert low > -83.0


def test_statistics_file_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="neither a built-in set"):
        load_statistics(tmp_path / "missing.json")
    broken = tmp_path / "stats.json"
    broken.write_text(json.dumps({"statistics": {"ALOS_bands": {}}}))
    with pytest.raises(InputError, match="S2_bands"):
        load_statistics(broken)


def test_composites_are_the_papers_five_plus_sar():
    assert {n: c.bands for n, c in SPECTRAL_COMPOSITES.items()} == {
        "red_edge": ("B05", "B06", "B07"),
        "geology": ("B12", "B11", "B02"),
        "natural_color": ("B04", "B03", "B02"),
        "color_infrared": ("B08", "B04", "B03"),
        "swir": ("B12", "B08", "B04"),
    }
    assert len(MODALITY_IMAGES["ms+sar"]) == 6
    assert bands_needed("rgb") == ("B02", "B03", "B04")
    assert bands_needed("ms") == ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B11", "B12")


def test_scaling_is_fixed_not_per_patch():
    stats = load_statistics()
    low, high = stats.s2_range("B04")
    patch = np.full((12, 25, 25), (low + high) / 2, dtype=np.float32)
    dark_patch = patch.copy()
    dark_patch[:, :5] = low  # a different neighbourhood must not change a pixel's value
    images = modality_images("ms", patch, sentinel2.AGBD_BAND_ORDER, stats)
    dark = modality_images("ms", dark_patch, sentinel2.AGBD_BAND_ORDER, stats)
    red = images["natural_color"][0]
    assert red.dtype == np.uint8 and red.shape == (25, 25)
    assert int(red[10, 10]) in (127, 128)  # mid-range
    assert dark["natural_color"][0, 10, 10] == red[10, 10]
    assert int(dark["natural_color"][0, 0, 0]) == 0


def test_scale_to_byte_clips_and_maps_nan_to_zero():
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])
    assert scale_to_byte(values, 0.0, 1.0).tolist() == [0, 0, 128, 255, 255, 0]


def test_composite_channels_follow_band_order_of_the_input():
    stats = load_statistics()
    order = ("B02", "B03", "B04")
    s2 = np.stack([np.full((4, 4), stats.s2_range(b)[1]) for b in order])  # every band at its p99
    s2[0] = stats.s2_range("B02")[0]  # blue at its p1
    image = modality_images("rgb", s2, order, stats)["natural_color"]
    assert image[:, 0, 0].tolist() == [255, 255, 0]  # R=B04, G=B03, B=B02


def test_sar_pseudo_rgb_third_channel_is_the_mean():
    stats = load_statistics()
    hh_high, hv_low = stats.sar_range("HH")[1], stats.sar_range("HV")[0]
    sar = np.stack([np.full((2, 2), hh_high), np.full((2, 2), hv_low)])
    image = sar_pseudo_rgb(sar, stats)
    assert image[:, 0, 0].tolist() == [255, 0, 128]


def test_modality_errors_say_what_is_allowed():
    stats = load_statistics()
    with pytest.raises(InputError, match="rgb, ms, ms\\+sar"):
        bands_needed("hyperspectral")
    with pytest.raises(InputError, match="needs PALSAR-2"):
        modality_images("ms+sar", np.zeros((12, 25, 25)), sentinel2.AGBD_BAND_ORDER, stats)
    with pytest.raises(InputError, match="needs band B05"):
        modality_images("ms", np.zeros((3, 25, 25)), ("B02", "B03", "B04"), stats)


@pytest.mark.parametrize(
    ("text", "level", "acquired", "baseline"),
    [
        (
            "S2B_MSIL2A_20220105T090329_N0400_R007_T33NZA_20220105T105930.SAFE",
            "L2A",
            "2022-01-05",
            (4, 0),
        ),
        ("S2A_MSIL2A_20170613T101031_87_48_B02", "L2A", "2017-06-13", None),  # BigEarthNet
        (
            "S2B_MSIL1C_20230615T101559_N0509_R065_T32TNN_20230615T130000",
            "L1C",
            "2023-06-15",
            (5, 9),
        ),
        ("S2B_33UUP_20230615_0_L2A", "L2A", "2023-06-15", None),  # Earth Search
        ("L2A_T32TNN_A032950_20230615T101557", "L2A", "2023-06-15", None),  # a granule folder
        ("T33NZA_20220105T090329_B04_10m", None, "2022-01-05", None),  # a granule's band file
    ],
)
def test_product_names_say_level_date_and_baseline(text, level, acquired, baseline):
    from reo_core.sensors.sentinel2_metadata import parse_product_name

    name = parse_product_name(text)
    assert (name.level, str(name.acquired), name.baseline) == (level, acquired, baseline)
    assert parse_product_name("B02") is None


def test_only_baselines_esa_used_are_believed():
    assert sentinel2.is_known_baseline((4, 0)) and sentinel2.is_known_baseline((2, 14))
    assert not sentinel2.is_known_baseline((99, 99)) and not sentinel2.is_known_baseline(None)


def test_one_offset_check_judges_products_and_patches_alike():
    """The darkest values decide: far below 1000 DN rules the offset out, just above shows it."""
    from reo_core.agbd.offset import data_verdicts
    from reo_core.sensors.offset_check import MIN_PIXELS, dark_shares

    rng = np.random.default_rng(0)
    n = MIN_PIXELS + 25
    rows = np.stack(
        [
            rng.integers(100, 400, n),  # dark surfaces without the offset
            rng.integers(1050, 1400, n),  # the same with it
            rng.integers(2500, 4000, n),  # bright ground: undecided
        ]
    )
    shares = dark_shares(rows, np.ones_like(rows, bool))
    assert shares.no_offset.tolist() == [True, False, False]
    assert shares.has_offset.tolist() == [False, True, False]
    too_few = dark_shares(rows[:, : MIN_PIXELS - 1], np.ones((3, MIN_PIXELS - 1), bool))
    assert not too_few.no_offset.any() and not too_few.has_offset.any()
    # AGBD patches (N, 15, 15, 12): every band of a pixel set to its row's darkest value
    patches = np.repeat(rows[:, :225].reshape(3, 15, 15, 1), 12, axis=-1).astype(np.uint16)
    has, none, valid = data_verdicts(patches)
    assert none.tolist() == [True, False, False] and has.tolist() == [False, True, False]
    assert valid.tolist() == [1.0, 1.0, 1.0]
