"""AGBD readers: raw per-tile and AGBD-Lite HDF5 (synthetic files), parquet, splits, bad files."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from reo_core.agbd import AgbdPatch, agbd_windows, detect_layout, open_agbd, read_splits
from reo_core.agbd import parquet as agbd_parquet
from reo_core.agbd.offset import DATA, METADATA, decide_offset
from reo_core.agbd.open import tile_splits, tile_splits_path
from reo_core.agbd.record import degrees
from reo_core.errors import InputError
from reo_core.landcover import CLASSES, NODATA_CODE
from reo_core.sensors.palsar2 import dn_to_db
from reo_core.sensors.sentinel2 import (
    AGBD_BAND_ORDER,
    boa_offset_for_baseline,
    dn_to_reflectance,
)
from reo_core.sensors.statistics import load_statistics
from reo_core.synth.agbd_h5 import SYNTHETIC_TILES

RAW = "data_subset-2019-v4_0-20.h5"
N_PATCHES = 300


@pytest.fixture(scope="module")
def agbd_dir(synthetic_agbd) -> Path:
    """Synthetic AGBD files (300 patches): raw + Lite train/val/test, shared by the session."""
    return synthetic_agbd


def copy_h5(source: Path, target: Path, edit=None) -> Path:
    """Copy an HDF5 file, then let ``edit(h5)`` break it."""
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        for key in src:
            src.copy(src[key], dst, name=key)
        if edit is not None:
            edit(dst)
    if tile_splits_path(source).is_file():  # a raw file's sidecar: the simulated tiles' splits
        shutil.copyfile(tile_splits_path(source), tile_splits_path(target))
    return target


# --- layouts and values -------------------------------------------------------------------------


def test_layouts_are_detected(agbd_dir):
    assert detect_layout(agbd_dir / RAW) == "raw"
    for split in ("train", "val", "test"):
        assert detect_layout(agbd_dir / f"AGBD-Lite-{split}.h5") == "lite"


def test_raw_patches_match_the_file(agbd_dir):
    patches = list(open_agbd(agbd_dir / RAW, chunk_size=16))
    assert len(patches) == N_PATCHES
    splits = tile_splits(agbd_dir / RAW)
    with h5py.File(agbd_dir / RAW, "r") as h5:
        for patch in patches[::37]:
            group = h5[patch.tile]
            assert patch.split == splits[patch.tile]
            assert patch.key == f"{RAW}/{patch.tile}/{patch.index}"
            assert patch.s2_dn.shape == (25, 25, 12) and patch.s2_dn.dtype == np.uint16
            assert patch.alos_dn.shape == (25, 25, 2) and patch.alos_dn.dtype == np.uint16
            assert patch.lc.shape == patch.lc_prob.shape == (25, 25)
            assert patch.dem.dtype == np.int16
            np.testing.assert_array_equal(patch.s2_dn, group["S2_bands"][patch.index])
            np.testing.assert_array_equal(patch.lc, group["LC"][patch.index, ..., 0])
            gedi = group["GEDI"]
            lat = np.sign(gedi["lat_decimal"][patch.index]) * (
                abs(float(gedi["lat_decimal"][patch.index])) + gedi["lat_offset"][patch.index]
            )
            assert patch.lat == pytest.approx(lat)
            assert patch.agbd == pytest.approx(float(gedi["agbd"][patch.index]))
            assert patch.s2_date == int(group["Sentinel_metadata/S2_date"][patch.index])
    assert {p.boa_offset for p in patches} == {0, 1000}
    right = [p.boa_offset == true_offset(p.tile) for p in patches]
    assert np.mean(right) > 0.97  # a bright patch alone can fool its values (the build pools)


def true_offset(tile: str) -> int:
    """The offset the simulated product really carries (its processing baseline)."""
    baseline = next(t.baseline for t in SYNTHETIC_TILES if t.location.tile == tile)
    return boa_offset_for_baseline(baseline)


def test_the_offset_is_decided_from_the_values_where_the_flag_is_wrong(agbd_dir):
    """34SEH (val) carries +1000 DN with AGBD's flag at 0: Lite has no baseline to tell, the
    values do."""
    patches = list(open_agbd(agbd_dir / "AGBD-Lite-val.h5"))
    with h5py.File(agbd_dir / "AGBD-Lite-val.h5") as h5:
        assert not h5["Sentinel_metadata/S2_boa_offset"][()].any()
    by_data = [p for p in patches if p.boa_offset_source == "data"]
    assert len(by_data) >= 0.3 * len(patches) and {p.boa_offset for p in by_data} == {1000}
    # The rest are bright (dry grass, bare soil): the values cannot tell, the wrong flag does.
    assert {p.boa_offset for p in patches if p.boa_offset_source == "metadata"} <= {0}


def _patch_dn(reflectance: float, offset: int, n: int = 2) -> np.ndarray:
    """(n, 25, 25, 12) DN of a flat patch whose darkest band (B02) has ``reflectance``."""
    bands = np.full(12, reflectance + 0.2)
    bands[AGBD_BAND_ORDER.index("B02")] = reflectance
    return np.broadcast_to(np.round(bands * 10000) + offset, (n, 25, 25, 12)).astype(np.uint16)


def test_offset_rule_on_dark_bright_and_empty_patches():
    no, yes = np.zeros(2), np.ones(2)
    decision, valid = decide_offset(_patch_dn(0.03, 0), yes)  # flagged, values say no
    assert decision.offset.tolist() == [0, 0] and decision.source.tolist() == [DATA, DATA]
    assert decision.metadata.tolist() == [1000, 1000] and valid.tolist() == [1.0, 1.0]
    decision, _ = decide_offset(_patch_dn(0.03, 1000), no)  # unflagged, values say yes
    assert decision.offset.tolist() == [1000, 1000] and decision.source.tolist() == [DATA, DATA]
    decision, _ = decide_offset(_patch_dn(0.3, 0), no, baseline=np.array([213, 500]))
    assert decision.offset.tolist() == [0, 1000]  # bright: the baseline decides
    assert decision.source.tolist() == [METADATA, METADATA]
    empty = np.zeros((1, 25, 25, 12), dtype=np.uint16)
    decision, valid = decide_offset(empty, np.ones(1))
    assert decision.offset.tolist() == [1000] and valid.tolist() == [0.0]


def test_reflectance_removes_the_boa_offset(agbd_dir):
    patch = next(p for p in open_agbd(agbd_dir / RAW) if p.boa_offset == 1000)
    np.testing.assert_array_equal(patch.reflectance(), dn_to_reflectance(patch.s2_dn, 1000))
    assert np.nanmax(patch.reflectance()) < 1.0


def test_coordinates_carry_the_sign_of_the_decimal():
    np.testing.assert_allclose(
        degrees(np.array([-0.25, 0.5, -0.0]), np.array([3, 10, 7])), [-3.25, 10.5, 0.0]
    )


def test_lite_holds_the_raw_patches_of_its_split(agbd_dir):
    raw = {(p.split, round(p.lat, 6), round(p.lon, 6), p.agbd) for p in open_agbd(agbd_dir / RAW)}
    for split in ("train", "val", "test"):
        lite = list(open_agbd(agbd_dir / f"AGBD-Lite-{split}.h5", chunk_size=50))
        assert {p.split for p in lite} == {split}
        assert all(p.tile is None and p.region is not None for p in lite)
        assert lite[3].key == f"AGBD-Lite-{split}.h5/3"
        assert {(split, round(p.lat, 6), round(p.lon, 6), p.agbd) for p in lite} <= raw
    assert sum(1 for _ in open_agbd(agbd_dir / "AGBD-Lite-train.h5")) == sum(
        1 for k in raw if k[0] == "train"
    )


def test_chunk_size_does_not_change_the_patches(agbd_dir):
    def keys(chunk):
        return [(p.key, p.agbd) for p in open_agbd(agbd_dir / RAW, chunk_size=chunk)]

    assert keys(7) == keys(1000)


def test_readers_stream_slices_never_whole_datasets(agbd_dir, monkeypatch):
    sizes = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        result = original(self, key)
        if isinstance(result, np.ndarray) and result.ndim >= 1 and self.shape[0] > 16:
            sizes.append(result.shape[0])
        return result

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    for name in (RAW, "AGBD-Lite-train.h5"):
        assert sum(1 for _ in open_agbd(agbd_dir / name, chunk_size=16)) > 16
    assert sizes and max(sizes) <= 16


def test_windows_read_without_images(agbd_dir):
    windows = agbd_windows(agbd_dir / "AGBD-Lite-val.h5", chunk_size=10)
    window = next(windows)
    batch = window.read(images=False)
    assert (
        len(window) == len(batch) == 10 and batch.s2_dn is None and batch.lc.shape == (10, 25, 25)
    )
    with pytest.raises(ValueError, match="images=True"):
        batch.patch(0)
    assert isinstance(window.read().patch(0), AgbdPatch)
    windows.close()  # the reader closes its file: the window can no longer be read
    with pytest.raises(ValueError, match="read each window before"):
        window.read()


def test_band_order_attribute_is_honoured(agbd_dir, tmp_path):
    def reverse_bands(h5):
        data = h5["S2_bands"][...]
        del h5["S2_bands"]
        h5.create_dataset("S2_bands", data=data[..., ::-1])
        h5["S2_bands"].attrs["order"] = list(AGBD_BAND_ORDER[::-1])

    source = agbd_dir / "AGBD-Lite-val.h5"
    reordered = copy_h5(source, tmp_path / "AGBD-Lite-val.h5", reverse_bands)
    for a, b in zip(open_agbd(source), open_agbd(reordered), strict=True):
        np.testing.assert_array_equal(a.s2_dn, b.s2_dn)


# --- splits -------------------------------------------------------------------------------------


def test_official_tile_split(shared_data):
    splits = read_splits()
    assert len(splits) == 306 + 67 + 106
    assert sum(s == "val" for s in splits.values()) == 67
    copied = json.loads((shared_data / "agbd" / "agbd_tile_splits.json").read_text())
    assert {t: s for s, tiles in copied.items() for t in tiles} == splits


def test_lite_split_from_name_or_argument(agbd_dir, tmp_path):
    plain = copy_h5(agbd_dir / "AGBD-Lite-val.h5", tmp_path / "lite.h5")
    with pytest.raises(InputError, match=r"Cannot tell the split of lite\.h5"):
        next(open_agbd(plain))
    assert next(open_agbd(plain, split="test")).split == "test"
    with pytest.raises(InputError, match="named for the 'val' split but was given split 'train'"):
        next(open_agbd(agbd_dir / "AGBD-Lite-val.h5", split="train"))
    with pytest.raises(InputError, match="raw AGBD file"):
        next(open_agbd(agbd_dir / RAW, split="train"))


def test_tile_outside_the_split_table_is_named(agbd_dir, tmp_path):
    def rename(h5):
        h5.move("32TNS", "01CAA")

    path = copy_h5(agbd_dir / RAW, tmp_path / "data.h5", rename)
    with pytest.raises(InputError, match=r"data\.h5: tile 01CAA is not in AGBD's tile split"):
        next(open_agbd(path))
    with pytest.raises(InputError, match=r"give its split in data\.tile_splits\.json beside"):
        next(open_agbd(path))
    sidecar = json.loads((tmp_path / "data.tile_splits.json").read_text())
    sidecar["splits"]["val"].append("01CAA")
    (tmp_path / "data.tile_splits.json").write_text(json.dumps(sidecar))
    assert {p.split for p in open_agbd(path) if p.tile == "01CAA"} == {"val"}


def test_the_simulated_boreal_tiles_take_their_split_from_the_sidecar(agbd_dir):
    from reo_core.synth.agbd_h5 import BEYOND_AGBD_TILES

    splits = tile_splits(agbd_dir / RAW)
    for tile in BEYOND_AGBD_TILES:
        assert tile.location.tile not in read_splits()
        assert splits[tile.location.tile] == tile.split
    seen = {p.tile: p.split for p in open_agbd(agbd_dir / RAW)}
    assert {seen[t.location.tile] for t in BEYOND_AGBD_TILES} == {"train", "val", "test"}


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        ('{"splits": {"test": ["32TNS"]}}', r"puts 32TNS in another split than AGBD's table"),
        ('{"splits": {"holdout": ["01CAA"]}}', r"split of tile 01CAA in data\.tile_splits\.json"),
        ('{"tiles": ["01CAA"]}', r"data\.tile_splits\.json is not a table of tile splits"),
        ("not json", r"is not a table of tile splits"),
        ('{"splits": {"train": [35]}}', r"35 is not a Sentinel-2 tile name"),
        ('{"splits": {"train": ["01CAA"], "val": ["01CAA"]}}', r"puts tile 01CAA in two splits"),
    ],
)
def test_a_wrong_sidecar_of_tile_splits_is_named(agbd_dir, tmp_path, sidecar, message):
    path = copy_h5(agbd_dir / RAW, tmp_path / "data.h5")
    (tmp_path / "data.tile_splits.json").write_text(sidecar)
    with pytest.raises(InputError, match=message):
        next(open_agbd(path))


# --- bad files ----------------------------------------------------------------------------------


def test_text_file_is_not_agbd(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not an HDF5 file\n")
    with pytest.raises(InputError, match=r"notes\.h5 is not an HDF5 file"):
        next(open_agbd(path))
    with pytest.raises(InputError, match="no such file"):
        next(open_agbd(tmp_path / "missing.h5"))


def test_hdf5_without_agbd_keys(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["images"] = np.zeros((2, 4, 4))
    with pytest.raises(InputError, match=r"other\.h5 is an HDF5 file but not AGBD.*images"):
        next(open_agbd(path))


@pytest.mark.parametrize(
    "key", ["GEDI/agbd", "LC", "S2_bands", "GEDI/lat_offset", "Sentinel_metadata/S2_boa_offset"]
)
def test_missing_key_in_a_raw_tile_is_named(agbd_dir, tmp_path, key):
    def drop(h5):
        del h5[f"32TNS/{key}"]

    path = copy_h5(agbd_dir / RAW, tmp_path / "data.h5", drop)
    with pytest.raises(InputError, match=rf"data\.h5: tile 32TNS has no key '{key}'"):
        list(open_agbd(path))


def test_missing_key_in_lite_is_named(agbd_dir, tmp_path):
    path = copy_h5(
        agbd_dir / "AGBD-Lite-val.h5",
        tmp_path / "AGBD-Lite-val.h5",
        lambda h5: h5.pop("GEDI/lon_offset"),
    )
    with pytest.raises(InputError, match=r"AGBD-Lite-val\.h5 has no key 'GEDI/lon_offset'"):
        list(open_agbd(path))


def test_wrong_dtype_and_shape_are_named(agbd_dir, tmp_path):
    def float_s2(h5):
        data = h5["S2_bands"][...]
        del h5["S2_bands"]
        h5["S2_bands"] = data.astype(np.float32)

    path = copy_h5(agbd_dir / "AGBD-Lite-val.h5", tmp_path / "AGBD-Lite-val.h5", float_s2)
    with pytest.raises(InputError, match="key 'S2_bands' has dtype float32, expected uint16"):
        list(open_agbd(path))

    def short_dem(h5):
        del h5["DEM"]
        h5["DEM"] = np.zeros((3, 25, 25), dtype=np.int16)

    path = copy_h5(agbd_dir / "AGBD-Lite-val.h5", tmp_path / "AGBD-Lite-test.h5", short_dem)
    with pytest.raises(InputError, match="different numbers of patches"):
        list(open_agbd(path))


# --- parquet ------------------------------------------------------------------------------------


def test_land_cover_sin_cos_decodes_up_to_the_encoding():
    codes = np.array([*sorted(CLASSES), NODATA_CODE])
    angle = 2 * np.pi * codes / 100
    decoded = agbd_parquet.decode_land_cover((np.cos(angle) + 1) / 2, (np.sin(angle) + 1) / 2)
    expected = np.where(np.isin(codes, [100, 200]), 0, codes)
    np.testing.assert_array_equal(decoded, expected)


def test_parquet_without_pyarrow_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InputError, match="pip install pyarrow"):
        next(open_agbd(tmp_path / "train-00000-of-00001.parquet"))


def _normalise(patch: AgbdPatch) -> np.ndarray:
    """The prs-eth/AGBD v1.0 'pct' input of a patch, (24, 25, 25) float32 (the forward mapping)."""
    stats = load_statistics()

    def pct(x, p1, p99):
        return np.clip((np.nan_to_num(x, nan=p1) - p1) / (p99 - p1), 0, 1)

    refl = patch.reflectance()
    s2 = [pct(refl[..., i], *stats.s2_range(b)) for i, b in enumerate(AGBD_BAND_ORDER)]
    db = dn_to_db(patch.alos_dn)
    alos = [pct(db[..., i], stats.sar[p].p1, stats.sar[p].p99) for i, p in enumerate(("HH", "HV"))]
    ones = np.ones((25, 25))
    lat, lon = np.pi * patch.lat / 90, np.pi * patch.lon / 180
    latlon = [
        (np.cos(lat) + 1) / 2 * ones,
        (np.sin(lat) + 1) / 2 * ones,
        (np.cos(lon) + 1) / 2 * ones,
        (np.sin(lon) + 1) / 2 * ones,
    ]
    lc = 2 * np.pi * patch.lc / 100
    dem = pct(patch.dem.astype(float), 4.0, 2297.0)
    channels = [
        *s2,
        *latlon,
        *alos,
        0 * ones,
        0 * ones,
        (np.cos(lc) + 1) / 2,
        (np.sin(lc) + 1) / 2,
        patch.lc_prob / 100,
        dem,
    ]
    return np.stack(channels).astype(np.float32)


def test_parquet_maps_pct_channels_back(agbd_dir, tmp_path):
    pa = pytest.importorskip("pyarrow", exc_type=ImportError)
    pq = pytest.importorskip("pyarrow.parquet", exc_type=ImportError)
    stats = load_statistics()
    patches = list(open_agbd(agbd_dir / "AGBD-Lite-val.h5"))[:20]
    table = pa.table(
        {"input": [_normalise(p).tolist() for p in patches], "label": [p.agbd for p in patches]}
    )
    path = tmp_path / "validation-00000-of-00001.parquet"
    pq.write_table(table, path)
    assert detect_layout(path) == "parquet"
    back = list(open_agbd(path, chunk_size=8))
    assert len(back) == 20 and {p.split for p in back} == {"val"}
    for a, b in zip(patches, back, strict=True):
        assert b.agbd == pytest.approx(a.agbd) and b.boa_offset == 0 and b.s2_date is None
        assert b.lat == pytest.approx(a.lat, abs=1e-4) and b.lon == pytest.approx(a.lon, abs=1e-4)
        np.testing.assert_array_equal(b.lc, np.where(np.isin(a.lc, [100, 200]), 0, a.lc))
        np.testing.assert_array_equal(b.lc_prob, a.lc_prob)
        assert np.abs(b.dem.astype(int) - np.clip(a.dem, 4, 2297)).max() <= 1
        refl_a, refl_b = a.reflectance(), b.reflectance()
        for i, band in enumerate(AGBD_BAND_ORDER):  # equal inside [p1, p99], clipped outside
            expected = np.clip(refl_a[..., i], *stats.s2_range(band))
            np.testing.assert_allclose(refl_b[..., i], expected, atol=1.5e-4)
        db_a, db_b = dn_to_db(a.alos_dn), dn_to_db(b.alos_dn)
        for i, pol in enumerate(("HH", "HV")):
            expected = np.clip(db_a[..., i], stats.sar[pol].p1, stats.sar[pol].p99)
            np.testing.assert_allclose(db_b[..., i], expected, atol=0.1)
