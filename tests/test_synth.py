"""The synthetic scene simulator: determinism, physics, file formats and the AGBD HDF5 layouts."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
from rasterio.warp import transform_bounds

from reo_core.agbd.open import read_splits, tile_splits, tile_splits_path
from reo_core.errors import InputError
from reo_core.landcover import color_table
from reo_core.sensors import palsar2, sentinel2
from reo_core.synth import (
    SYNTHETIC_TILES,
    block_mean,
    block_mode,
    gaussian_field,
    ndvi,
    patch_truth,
    simulate_scene,
    spectrum,
    write_scene,
)
from reo_core.synth.__main__ import main
from reo_core.synth.agbd_h5 import BEYOND_AGBD_TILES, LITE_KEYS, RAW_NAME, boa_flag, split_degrees
from reo_core.synth.scene import centre_agb

AGBD_DATA = Path(__file__).parents[1].parent / "shared" / "data" / "agbd"
CLOSED_FOREST = (111, 112, 114, 115, 116)
OPEN_FOREST = (121, 122, 124, 125, 126)
SIZE_KM = 2.5  # 250 x 250 pixels: 10 x 10 patches


@pytest.fixture(scope="module")
def scene():
    """A 5 km temperate scene: big enough for every class to have pixels."""
    return simulate_scene(5.0, seed=3)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small scene written once with --agbd-h5 (the AGBD files are section A and B)."""
    out = tmp_path_factory.mktemp("synth")
    assert (
        main(["--out", str(out), "--size-km", str(SIZE_KM), "--seed", "7", "--agbd-h5", "12"]) == 0
    )
    return out


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _clear(scene) -> np.ndarray:
    return (scene.cloud == 0) & (scene.shadow == 0) & ~scene.nodata


def _band(scene, name: str) -> np.ndarray:
    return scene.reflectance[scene.band_order.index(name)]


# ------------------------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, written):
    again = tmp_path / "again"
    args = ["--size-km", str(SIZE_KM), "--agbd-h5", "12"]
    assert main(["--out", str(again), "--seed", "7", *args]) == 0
    first, second = _digests(written), _digests(again)
    assert first == second
    assert any(name.endswith(".h5") for name in first)

    other = tmp_path / "other"
    assert main(["--out", str(other), "--seed", "8", *args]) == 0
    # The seed also moves the scene, so the PALSAR-2 file may name another 1-degree tile.
    third = _digests(other)
    assert len(third) == len(first)
    changed = set(third.values()) - set(first.values())
    assert len(changed) == sum(name.endswith((".tif", ".h5")) for name in first) + 1  # + scene.json


# ---------------------------------------------------------------------------------------- physics


def test_agb_ranges_follow_the_class(scene):
    mean = {code: scene.agb[scene.landcover == code].mean() for code in np.unique(scene.landcover)}
    closed = [mean[c] for c in CLOSED_FOREST if c in mean]
    opened = [mean[c] for c in OPEN_FOREST if c in mean]
    assert closed and opened
    assert all(140 <= m <= 350 for m in closed), closed
    assert all(35 <= m <= 140 for m in opened), opened
    assert 10 <= mean[20] <= 40
    assert all(2 <= mean[c] <= 10 for c in (30, 40))
    assert all(mean[c] <= 5 for c in (50, 60, 80))
    assert min(closed) > 10 * mean[30]
    assert scene.agb.min() >= 0 and scene.agb.max() <= 500


def test_landcover_has_the_required_classes_in_regions_of_hundreds_of_metres(scene):
    present = set(np.unique(scene.landcover).tolist())
    assert {111, 114, 115, 116, 20, 30, 40, 50, 60, 80, 90} <= present
    assert present & {121, 124, 126}
    counts = patch_truth(scene)["count"]
    assert np.median(counts) >= 1.5 and (counts <= 8).mean() > 0.95


def test_forest_ndvi_exceeds_cropland_ndvi(scene):
    index = ndvi(_band(scene, "B04"), _band(scene, "B08"))
    clear = _clear(scene)
    forest = np.isin(scene.landcover, CLOSED_FOREST) & clear
    cropland = (scene.landcover == 40) & clear
    assert index[forest].mean() > index[cropland].mean() + 0.1
    water = (scene.landcover == 80) & clear
    assert _band(scene, "B08")[water].mean() < 0.03


def test_within_a_class_agb_follows_height_and_texture_not_mean_nir(scene):
    """Taller canopies are rougher: 5x5-block NIR std tracks AGB inside one forest class."""
    k = 5
    size = scene.height // k * k

    def blocks(values):
        cut = values[:size, :size].reshape(size // k, k, size // k, k)
        return cut.swapaxes(1, 2).reshape(size // k, size // k, k * k)

    codes, counts = np.unique(scene.landcover, return_counts=True)
    forest = [(n, c) for c, n in zip(codes, counts, strict=True) if c in CLOSED_FOREST]
    code = max(forest)[1]
    inside = blocks((scene.landcover == code) & _clear(scene)).all(axis=-1)
    assert inside.sum() > 100
    agb = blocks(scene.agb).mean(axis=-1)[inside]
    height = blocks(scene.canopy_height).mean(axis=-1)[inside]
    nir = blocks(_band(scene, "B08"))
    assert np.corrcoef(agb, height)[0, 1] > 0.8
    assert np.corrcoef(agb, nir.std(axis=-1)[inside])[0, 1] > 0.3
    assert abs(np.corrcoef(agb, nir.mean(axis=-1)[inside])[0, 1]) < 0.5


def test_hv_rises_with_agb_and_saturates(scene):
    def mean_hv(low, high):
        return scene.hv_db[(scene.agb >= low) & (scene.agb < high) & (scene.landcover != 50)].mean()

    assert mean_hv(200, 300) - mean_hv(100, 150) < 2.0
    assert mean_hv(100, 150) - mean_hv(0, 5) > 6.0
    assert -27 < mean_hv(0, 5) < -20
    forest = np.isin(scene.landcover, CLOSED_FOREST)
    assert 4.5 < (scene.hh_db - scene.hv_db)[forest].mean() < 7.5
    assert scene.hh_db[scene.landcover == 80].mean() < -22
    assert scene.hh_db[scene.landcover == 50].mean() > -6


def test_clouds_shadows_and_no_data_wedge(scene):
    assert abs((scene.cloud > 0).mean() - 0.05) < 0.005
    assert abs(scene.nodata.mean() - 0.03) < 0.005
    assert (scene.shadow > 0).any() and not ((scene.shadow > 0) & (scene.cloud > 0)).any()
    assert np.isnan(scene.reflectance[:, scene.nodata]).all()
    thick = scene.cloud >= 0.6
    assert 0.3 < np.nanmean(scene.reflectance[:, thick]) < 0.7
    assert set(np.unique(scene.scl).tolist()) <= {0, 3, 4, 5, 6, 8, 9}
    np.testing.assert_array_equal(scene.scl == 0, scene.nodata)
    assert (scene.scl[thick & ~scene.nodata] == 9).all()


def test_simulation_is_deterministic_and_validates_its_arguments():
    a, b = simulate_scene(0.5, seed=11), simulate_scene(0.5, seed=11)
    np.testing.assert_array_equal(a.reflectance, b.reflectance)
    np.testing.assert_array_equal(a.palsar_hv_dn, b.palsar_hv_dn)
    assert a.transform.c % 60 == 0 and a.transform.f % 60 == 0
    with pytest.raises(InputError, match=r"between 0\.25 and 20"):
        simulate_scene(0.1)
    with pytest.raises(InputError, match="multiple of 10 m"):
        simulate_scene(1.005)
    with pytest.raises(InputError, match="cloud fraction"):
        simulate_scene(1.0, cloud_fraction=0.95)
    with pytest.raises(InputError, match="temperate"):
        simulate_scene(1.0, biome="tundra")


def test_spectra_are_keyed_by_band_name():
    reordered = ("B12", "B08", "B04")
    broadleaf = spectrum("broadleaf", reordered)
    np.testing.assert_allclose(broadleaf, [0.09, 0.40, 0.03], atol=1e-6)
    assert spectrum("soil", ("B04",))[0] == pytest.approx(0.2)
    assert spectrum("water", ("B08",))[0] < 0.02
    with pytest.raises(KeyError, match="B10"):
        spectrum("soil", ("B10",))


def test_fields_and_block_helpers():
    rng = np.random.default_rng(0)
    field = gaussian_field((128, 96), 8.0, rng)
    assert field.shape == (128, 96) and abs(field.mean()) < 1e-5 and field.std() == pytest.approx(1)
    # Smooth: neighbours correlate strongly.
    assert np.corrcoef(field[:, :-1].ravel(), field[:, 1:].ravel())[0, 1] > 0.9
    values = np.arange(25, dtype=np.float32).reshape(5, 5)
    values[0, 0] = np.nan
    coarse = block_mean(values, 2)
    assert coarse.shape == (3, 3)
    assert coarse[0, 0] == pytest.approx((1 + 5 + 6) / 3) and coarse[2, 2] == 24
    codes = np.array([[30, 40, 40, 255, 255], [40, 30, 40, 255, 255]], dtype=np.uint8)
    modes, share = block_mode(codes, 2, nodata=255)
    np.testing.assert_array_equal(modes, [[30, 40, 255]])  # tie 30/40 -> the smaller code
    np.testing.assert_allclose(share, [[0.5, 1.0, 0.0]])  # no-data pixels do not count


# ------------------------------------------------------------------------------------------ files


def test_sentinel2_stack_is_a_12_band_l2a_product_with_offset(written):
    manifest = json.loads((written / "scene.json").read_text())
    path = written / "s2" / f"{manifest['sentinel2']['product']}.tif"
    assert sentinel2.processing_baseline(path.stem) == (4, 0)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32632 and src.res == (10.0, 10.0)
        assert src.count == 12 and src.dtypes[0] == "uint16" and src.nodata == 0
        assert src.descriptions == sentinel2.AGBD_BAND_ORDER
        assert src.tags()["BOA_ADD_OFFSET"] == "-1000"
        assert src.profile["tiled"] and src.compression.name == "deflate"
        dn = src.read()
        transform = src.transform
    scene = simulate_scene(SIZE_KM, seed=7)
    assert transform == scene.transform
    reflectance = sentinel2.dn_to_reflectance(dn, boa_offset=1000)
    np.testing.assert_allclose(reflectance, scene.reflectance, atol=6e-5)
    assert (dn[:, scene.nodata] == 0).all() and (dn[:, ~scene.nodata] >= 1000).all()
    assert manifest["seed"] == 7
    assert manifest["sentinel2"]["band_order"] == list(sentinel2.AGBD_BAND_ORDER)


def test_per_band_files_are_at_native_resolution(tmp_path):
    scene = simulate_scene(1.5, seed=2)
    manifest = write_scene(scene, tmp_path, per_band_files=True)
    band_files = sorted((tmp_path / "s2").glob("*_B*.tif"))
    assert len(band_files) == 12
    for path in band_files:
        band = sentinel2.band_from_file_name(path.stem)
        resolution = sentinel2.ALL_BANDS[band].resolution_m
        with rasterio.open(path) as src:
            assert src.res == (resolution, resolution)
            assert src.shape == (math.ceil(150 / (resolution // 10)),) * 2
            assert src.descriptions == (None,) and src.nodata == 0
            assert (src.transform.c, src.transform.f) == (scene.transform.c, scene.transform.f)
    with rasterio.open(tmp_path / "s2" / f"{manifest['sentinel2']['product']}_SCL.tif") as src:
        assert src.res == (20.0, 20.0) and src.dtypes[0] == "uint8"
        assert set(np.unique(src.read(1)).tolist()) <= {0, 3, 4, 5, 6, 8, 9}


def test_palsar_is_on_the_jaxa_grid_and_covers_the_scene(written):
    paths = sorted((written / "palsar2").glob("*.tif"))
    assert [palsar2.polarisation_from_name(p.stem) for p in paths] == ["HH", "HV"]
    assert all(p.name.endswith("_F02DAR.tif") and "_20_sl_" in p.name for p in paths)
    scene = simulate_scene(SIZE_KM, seed=7)
    with rasterio.open(paths[1]) as src:
        assert src.crs.to_epsg() == 4326 and src.dtypes[0] == "uint16" and src.nodata == 0
        assert src.res == pytest.approx((1 / 4500, 1 / 4500), rel=1e-12)
        assert round(src.transform.c * 4500, 6) % 1 == 0  # aligned on the mosaic grid
        west, south, east, north = transform_bounds(scene.crs, src.crs, *scene.pixel_grid.bounds)
        assert src.bounds.left < west and src.bounds.right > east
        assert src.bounds.bottom < south and src.bounds.top > north
        db = palsar2.dn_to_db(src.read(1))
    assert -30 < np.nanmean(db) < -8 and np.isnan(db).any()  # the margin is no data


def test_truth_rasters(written):
    scene = simulate_scene(SIZE_KM, seed=7)
    with rasterio.open(written / "truth" / "landcover_10m.tif") as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255 and src.res == (10.0, 10.0)
        assert src.colormap(1)[112] == color_table()[112]
        np.testing.assert_array_equal(src.read(1), scene.landcover)
    with rasterio.open(written / "truth" / "landcover_100m.tif") as src:
        assert src.res == (100.0, 100.0) and src.nodata == 255 and src.shape == (25, 25)
    with rasterio.open(written / "truth" / "agb_10m.tif") as src:
        assert src.dtypes[0] == "float32"
        agb = src.read(1)
    with rasterio.open(written / "truth" / "patch_agb.tif") as src:
        assert src.transform.a == 250.0 and src.transform.e == -250.0
        assert (src.transform.c, src.transform.f) == (scene.transform.c, scene.transform.f)
        assert src.shape == (10, 10) and src.crs == scene.crs
        patch_agb = src.read(1)
    np.testing.assert_allclose(patch_agb[2, 3], agb[61:64, 86:89].mean(), rtol=1e-5)
    for name in ("patch_landcover.tif", "patch_count.tif"):
        with rasterio.open(written / "truth" / name) as src:
            assert src.dtypes[0] == "uint8" and src.transform.a == 250.0
            values = src.read(1)
            assert values.min() >= 1


def test_scene_json_describes_every_file(written):
    manifest = json.loads((written / "scene.json").read_text())
    listed = {entry["path"] for entry in manifest["files"]}
    on_disk = {p.relative_to(written).as_posix() for p in written.rglob("*.tif")}
    assert listed == on_disk
    assert manifest["crs"] == "EPSG:32632" and manifest["size_km"] == SIZE_KM
    assert manifest["sentinel2"]["boa_add_offset"] == -1000
    assert {t["split"] for t in manifest["agbd"]["raw"]["tiles"]} == {"train", "val", "test"}
    assert (written / manifest["agbd"]["raw"]["path"]).is_file()
    for entry in manifest["agbd"]["lite"].values():
        assert (written / entry["path"]).is_file()


def test_cli_rejects_bad_arguments_with_status_2(tmp_path, capsys):
    cases = [
        (["--size-km", "0.1"], "--size-km"),
        (["--cloud-fraction", "1.5"], "cloud fraction"),
        (["--seed", "-1"], "non-negative"),
        (["--agbd-h5", "3"], "--agbd-h5"),
        (["--size-km", "ten"], "invalid float"),
        (["--day-of-year", "400"], "day of year must be between 1 and 365"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["--out", str(tmp_path / "x"), *args])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ AGBD


# Section A of notes/AGBD_FORMAT.md: every dataset of a tile group, (dtype, shape per patch).
RAW_LAYOUT = {
    "S2_bands": ("uint16", (25, 25, 12)),
    "S2_SCL": ("uint8", (25, 25)),
    "ALOS_bands": ("uint16", (25, 25, 2)),
    "CH/ch": ("uint8", (25, 25)),
    "CH/std": ("uint8", (25, 25)),
    "LC": ("uint8", (25, 25, 2)),
    "DEM": ("int16", (25, 25)),
    "Sentinel_metadata/S2_vegetation_score": ("uint8", ()),
    "Sentinel_metadata/S2_date": ("int16", ()),
    "Sentinel_metadata/S2_pbn": ("uint16", ()),
    "Sentinel_metadata/S2_ron": ("uint8", ()),
    "Sentinel_metadata/S2_boa_offset": ("uint8", ()),
    **{
        f"GEDI/{name}": (dtype, ())
        for name, dtype in (
            ("agbd", "float32"),
            ("agbd_se", "float32"),
            ("rh98", "float32"),
            ("pft_class", "uint8"),
            ("region_cla", "uint8"),
            ("leaf_off_f", "uint8"),
            ("urban_prop", "uint8"),
            ("elev_lowes", "float32"),
            ("selected_a", "uint8"),
            ("shot_numbe", "uint64"),
            ("sensitivit", "float32"),
            ("solar_elev", "float32"),
            ("date", "uint16"),
            ("granule_num", "uint8"),
            ("track_num", "uint32"),
            ("ppds", "uint8"),
            ("version_num", "uint16"),
            ("lat_offset", "uint8"),
            ("lat_decimal", "float32"),
            ("lon_offset", "uint8"),
            ("lon_decimal", "float32"),
        )
    },
}


def _datasets(group: h5py.Group) -> dict[str, h5py.Dataset]:
    found = {}
    group.visititems(
        lambda name, obj: found.update({name: obj}) if isinstance(obj, h5py.Dataset) else None
    )
    return found


@pytest.fixture(scope="module")
def agbd_features():
    path = AGBD_DATA / "agbd_features.json"
    if not path.is_file():
        pytest.skip(f"AGBD reference tables not found at {AGBD_DATA} (../shared/data/agbd)")
    return {
        "/".join(f["keys"]): (f["dtype"], tuple(f["shape"])) for f in json.loads(path.read_text())
    }


def test_agbd_lite_files_have_exactly_the_agbd_keys(written, agbd_features):
    assert set(LITE_KEYS) == set(agbd_features)
    total = 0
    for split in ("train", "val", "test"):
        with h5py.File(written / "agbd" / f"AGBD-Lite-{split}.h5") as h5:
            datasets = _datasets(h5)
            assert set(datasets) == set(agbd_features) | {"region"}
            n = datasets["region"].shape[0]
            total += n
            assert datasets["region"].dtype == np.uint8
            for key, (dtype, shape) in agbd_features.items():
                assert datasets[key].dtype == np.dtype(dtype), key
                assert datasets[key].shape == (n, *shape), key
            assert list(datasets["S2_bands"].attrs["order"]) == list(sentinel2.AGBD_BAND_ORDER)
    assert total == 12


def test_agbd_raw_file_has_one_group_per_tile_from_every_split(written, agbd_features):
    splits = json.loads((AGBD_DATA / "agbd_tile_splits.json").read_text())
    regions = json.loads((AGBD_DATA / "agbd_tile_to_region.json").read_text())
    split_of = {tile: split for split, tiles in splits.items() for tile in tiles}
    # Tiles beyond AGBD's table: their split in the sidecar the readers take (tile_splits).
    beyond = json.loads(tile_splits_path(written / "agbd" / RAW_NAME).read_text())["splits"]
    assert not {tile for tiles in beyond.values() for tile in tiles} & set(split_of)
    split_of |= {tile: split for split, tiles in beyond.items() for tile in tiles}
    regions |= {t.location.tile: t.region for t in BEYOND_AGBD_TILES}
    assert tile_splits(written / "agbd" / RAW_NAME) == {**read_splits(), **split_of}
    with h5py.File(written / "agbd" / RAW_NAME) as h5:
        tiles = list(h5)
        assert [split_of[t] for t in tiles].count("train") >= 2
        assert {"val", "test"} <= {split_of[t] for t in tiles}
        for tile in tiles:
            datasets = _datasets(h5[tile])
            assert set(datasets) == set(RAW_LAYOUT)
            n = datasets["GEDI/agbd"].shape[0]
            for key, (dtype, shape) in {**RAW_LAYOUT, **agbd_features}.items():
                assert datasets[key].dtype == np.dtype(dtype), key
                assert datasets[key].shape == (n, *shape), key
            assert datasets["S2_bands"].compression == "gzip"
            assert list(datasets["ALOS_bands"].attrs["order"]) == ["HH", "HV"]
            agbd_tile = next(t for t in SYNTHETIC_TILES if t.location.tile == tile)
            assert agbd_tile.split == split_of[tile] and agbd_tile.region == regions[tile]
            _check_patch_values(datasets, agbd_tile)


def _check_patch_values(datasets, tile) -> None:
    """Offsets, labels and coordinates that a loader relies on."""
    s2 = datasets["S2_bands"][()]
    flag = datasets["Sentinel_metadata/S2_boa_offset"][()]
    assert set(flag.tolist()) == {boa_flag(tile)}  # set only where AGBD would set it
    carries_offset = sentinel2.boa_offset_for_baseline(tile.baseline) == 1000
    assert datasets["Sentinel_metadata/S2_pbn"][0] == 100 * tile.baseline[0] + tile.baseline[1]
    dark = s2.min(axis=-1)  # each pixel's darkest band: a few percent reflectance
    assert (dark >= 1000).all() if carries_offset else (dark < 1000).mean() > 0.5
    agbd = datasets["GEDI/agbd"][()]
    assert ((agbd >= 0) & (agbd <= 500)).all()
    lat = np.sign(datasets["GEDI/lat_decimal"][()]) * (
        np.abs(datasets["GEDI/lat_decimal"][()]) + datasets["GEDI/lat_offset"][()]
    )
    south = tile.location.epsg > 32700  # southern-hemisphere UTM zones are 327xx
    assert ((lat < 0) == south).all()
    assert (np.abs(lat) < 64).all()  # AGBD's tiles and the simulated Finnish ones
    assert (datasets["ALOS_bands"][()][:, 12, 12] > 0).all()
    assert (datasets["LC"][()][..., 0] != 255).all()


def test_split_degrees_round_trips():
    degrees = np.array([46.5017, -4.0711, -53.2517, 0.25])
    offset, decimal = split_degrees(degrees)
    np.testing.assert_allclose(np.sign(decimal) * (np.abs(decimal) + offset), degrees)
    assert (offset >= 0).all()


def test_centre_label_is_the_mean_of_the_centre_3x3():
    patches = np.zeros((2, 25, 25), dtype=np.float32)
    patches[0, 11:14, 11:14] = 9.0
    patches[1, 12, 12] = 90.0
    np.testing.assert_allclose(centre_agb(patches), [9.0, 10.0])


def test_a_share_of_the_patches_lies_on_open_water_where_a_lake_allows():
    from reo_core.synth.agbd_h5 import OPEN_WATER_SHARE, sample_centres

    scene = simulate_scene(2.5, 4, biome="boreal", cloud_fraction=0.0, day_of_year=200)
    water = scene.landcover == 80
    rows, cols = sample_centres(scene, 200, np.random.default_rng(0))
    shares = [
        water[r - 12 : r + 13, c - 12 : c + 13].mean() for r, c in zip(rows, cols, strict=True)
    ]
    assert sum(share >= 0.9 for share in shares) >= round(OPEN_WATER_SHARE * 200)
    dry = simulate_scene(2.5, 4, biome="savanna", cloud_fraction=0.0)
    dry.landcover[dry.landcover == 80] = 30  # no water at all: every patch is drawn at random
    assert len(sample_centres(dry, 50, np.random.default_rng(0))[0]) == 50
