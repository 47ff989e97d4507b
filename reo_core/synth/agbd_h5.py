"""AGBD-format HDF5 files cut from simulated scenes (layouts of notes/AGBD_FORMAT.md, sections A and
B).

One small scene is simulated per Sentinel-2 tile (its own derived seed, UTM zone and biome) on an
acquisition date drawn from the seed within AGBD's period (2019-04-17 to 2020-12-31), so the data
seeds of a training set see each place in several seasons; patches of 25 x 25 pixels are centred on
random pixels whose centre 3 x 3 is clear (no cloud, shadow or no data) and whose patch holds no
no-data. Like AGBD, the label ``GEDI/agbd`` is the AGB at the centre footprint (mean of the centre
3 x 3 pixels), PALSAR-2 DN are the mosaic's, upsampled bilinearly to 10 m, and the LC layer is the
100 m land-cover map upsampled with its class share (%).

The BOA offset follows AGBD's caveat (notes/AGBD_FORMAT.md): products of processing baseline
>= 04.00 carry +1000 DN, but ``Sentinel_metadata/S2_boa_offset`` is set only for the tiles marked
``boa_flag``; the others carry the offset with the flag at 0, as AGBD's reprocessed 2019-2020
products do.

Written files:
  ``data_subset-2019-v4_0-20.h5``: raw layout (A), one top-level group per tile.
  ``AGBD-Lite-{train,val,test}.h5``: flat AGBD-Lite layout (B), split by AGBD's tile split.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np
from pyproj import Transformer
from rasterio.warp import Resampling, reproject

from reo_core.agbd.open import tile_splits_path
from reo_core.atomic import write_json
from reo_core.errors import InputError
from reo_core.sensors.palsar2 import POLARISATIONS
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, boa_offset_for_baseline, reflectance_to_dn
from reo_core.synth.location import SceneLocation
from reo_core.synth.scene import PATCH_SIZE, Scene, centre_agb, simulate_scene
from reo_core.window_sums import window_counts

logger = logging.getLogger(__name__)

RAW_NAME = "data_subset-2019-v4_0-20.h5"
LITE_TEMPLATE = "AGBD-Lite-{split}.h5"
SPLITS = ("train", "val", "test")
SPLIT_SHARE = {"train": 0.6, "val": 0.2, "test": 0.2}
REGION_NAMES = (
    "Austria",
    "California",
    "Cuba",
    "FrenchGuiana",
    "Ghana",
    "Greece",
    "Nepal",
    "NewZealand",
    "Paraguay",
    "ShaanxiProvince",
    "UnitedRepublicofTanzania",
    "Finland",  # beyond AGBD: the simulated boreal region (BEYOND_AGBD_TILES)
)
# GEDI L4A world-region codes (region_class) used here: 1 Europe, 4 Africa, 6 South America.
LITE_KEYS = (
    "S2_bands",
    "ALOS_bands",
    "DEM",
    "LC",
    "GEDI/agbd",
    "GEDI/rh98",
    "GEDI/lat_decimal",
    "GEDI/lat_offset",
    "GEDI/lon_decimal",
    "GEDI/lon_offset",
    "GEDI/pft_class",
    "GEDI/region_cla",
    "Sentinel_metadata/S2_boa_offset",
    "Sentinel_metadata/S2_date",
)
# GEDI plant functional type of each land-cover class (MODIS-style PFT codes as in GEDI L4A).
PFT_OF_CLASS = {
    111: 1,
    121: 1,
    112: 2,
    122: 2,
    114: 4,
    124: 4,
    115: 4,
    125: 4,
    116: 4,
    126: 4,
    20: 5,
    30: 6,
    90: 6,
    40: 7,
    50: 9,
    60: 11,
    80: 0,
}


@dataclass(frozen=True)
class AgbdTile:
    """A Sentinel-2 tile of AGBD: its split and region, and how its synthetic scene looks."""

    location: SceneLocation  # MGRS tile, UTM zone, 100 km square
    split: str  # AGBD's official split of the tile (beyond AGBD: REO's, in the sidecar file)
    region: int  # AGBD region index (alphabetical, REGION_NAMES)
    gedi_region: int  # GEDI L4A world-region code
    biome: str  # reo_core.synth.biomes.BIOMES key
    baseline: tuple[int, int]  # S2 processing baseline of its acquisition (>= 04.00: +1000 DN)
    relative_orbit: int
    boa_flag: bool  # AGBD's S2_boa_offset flag is set (only for baselines >= 04.00)


# Tile names, splits and regions copied from AGBD's agbd_tile_splits.json and
# agbd_tile_to_region.json (shared/data/agbd/); UTM squares decoded from the MGRS names.
AGBD_TILES: tuple[AgbdTile, ...] = (
    AgbdTile(
        SceneLocation("32TNS", 32632, 500_000.0, 5_100_000.0),
        "train",
        0,
        1,
        "montane",
        (5, 0),
        22,
        True,
    ),
    AgbdTile(
        SceneLocation("22NBK", 32622, 200_000.0, 400_000.0),
        "train",
        3,
        6,
        "tropical",
        (2, 13),
        124,
        False,
    ),
    AgbdTile(
        SceneLocation("36MVA", 32736, 400_000.0, 9_500_000.0),
        "train",
        10,
        4,
        "savanna",
        (5, 0),
        92,
        False,
    ),
    AgbdTile(
        SceneLocation("34SEH", 32634, 500_000.0, 4_200_000.0),
        "val",
        5,
        1,
        "mediterranean",
        (5, 0),
        36,
        False,
    ),
    # Central European lowlands and uplands of AGBD's Austria region: farmland, mixed forest, fish
    # ponds and bog lakes (the temperate biome).
    AgbdTile(
        SceneLocation("33UWQ", 32633, 500_000.0, 5_400_000.0),
        "train",
        0,
        1,
        "temperate",
        (5, 0),
        79,
        False,
    ),
    AgbdTile(
        SceneLocation("33UUP", 32633, 300_000.0, 5_300_000.0),
        "val",
        0,
        1,
        "temperate",
        (5, 0),
        122,
        False,
    ),
    AgbdTile(
        SceneLocation("33UVQ", 32633, 400_000.0, 5_400_000.0),
        "test",
        0,
        1,
        "temperate",
        (5, 0),
        22,
        False,
    ),
    AgbdTile(
        SceneLocation("36MWD", 32736, 500_000.0, 9_800_000.0),
        "test",
        10,
        4,
        "savanna",
        (5, 0),
        135,
        True,
    ),
    AgbdTile(
        SceneLocation("30NVN", 32630, 400_000.0, 700_000.0),
        "test",
        4,
        4,
        "tropical",
        (2, 14),
        94,
        False,
    ),
)
# Tiles of a biome AGBD does not sample, simulated in AGBD's format so that a model trained on the
# synthetic world has seen boreal forests and their dark humic lakes (the real BigEarthNet patches
# beside the repository are Finnish): eastern Finland's lake district, EPSG:32635. AGBD's split
# table does not hold them; write_agbd states their split in a sidecar file (TILE_SPLITS_SUFFIX).
BEYOND_AGBD_TILES: tuple[AgbdTile, ...] = (
    AgbdTile(
        SceneLocation("35VPK", 32635, 600_000.0, 6_900_000.0),
        "train",
        11,
        1,
        "boreal",
        (5, 0),
        36,
        False,
    ),
    AgbdTile(
        SceneLocation("35VNK", 32635, 500_000.0, 6_900_000.0),
        "val",
        11,
        1,
        "boreal",
        (5, 0),
        79,
        False,
    ),
    AgbdTile(
        SceneLocation("35VPL", 32635, 600_000.0, 7_000_000.0),
        "test",
        11,
        1,
        "boreal",
        (5, 0),
        122,
        False,
    ),
)
SYNTHETIC_TILES = AGBD_TILES + BEYOND_AGBD_TILES  # every tile write_agbd simulates
AGBD_EPOCH = datetime.date(2019, 4, 17)  # day 0 of AGBD's S2_date and GEDI date
AGBD_LAST_DAY = 624  # 2020-12-31
# GEDI's biomass product leaves out most shots on open water, so AGBD has almost no lake patches
# and a model trained on it never learns what water looks like (of the 8,650 training patches of
# the demo model of 2026-11-29, drawn at random, 21 were at least 90 % water, none of them a dark
# lake). This share of each tile's patches is drawn on patches of at least 90 % open water, where
# its scene has any.
OPEN_WATER_SHARE = 0.02


def write_agbd(
    out_dir: str | Path, n_patches: int, seed: int = 0, cloud_fraction: float = 0.05
) -> dict[str, Any]:
    """Write the raw (A) and AGBD-Lite (B) HDF5 files with ``n_patches`` patches in total.

    Patches are spread over :data:`SYNTHETIC_TILES` (every tile at least one) by split share
    (train 60%, val 20%, test 20%). The splits of the tiles beyond AGBD's split table go to a
    sidecar beside the raw file (``<raw stem>.tile_splits.json``), where the AGBD readers find them.

    Returns:
        a description of the files for scene.json (paths relative to ``out_dir``'s parent).
    """
    check_patch_count(n_patches)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = allocate_patches(n_patches)
    records, tiles = {}, []
    for tile, count in zip(SYNTHETIC_TILES, counts, strict=True):
        scene_seed = tile_seed(seed, tile.location.tile)
        size_km = min(8.0, max(2.5, math.ceil(0.3 * math.sqrt(count) * 4) / 4))
        s2_date = acquisition_date(scene_seed)
        scene = simulate_scene(
            size_km,
            scene_seed,
            biome=tile.biome,
            cloud_fraction=cloud_fraction,
            location=tile.location,
            day_of_year=day_of_year(s2_date),
        )
        rng = np.random.default_rng([scene_seed, 1])
        records[tile.location.tile] = tile_records(scene, tile, count, rng, s2_date)
        tiles.append(_tile_entry(tile, count, scene_seed, size_km, scene, s2_date))
        logger.info(
            "tile %s (%s, %s): %d patches", tile.location.tile, tile.biome, tile.split, count
        )
    _write_h5(out / RAW_NAME, {name: (rec, None) for name, rec in records.items()})
    write_tile_splits(tile_splits_path(out / RAW_NAME), BEYOND_AGBD_TILES)
    lite = {}
    for split in SPLITS:
        members = [t for t in SYNTHETIC_TILES if t.split == split]
        merged = merge_lite([records[t.location.tile] for t in members], members)
        _write_h5(out / LITE_TEMPLATE.format(split=split), {"": (merged, (*LITE_KEYS, "region"))})
        lite[split] = {
            "path": f"{out.name}/{LITE_TEMPLATE.format(split=split)}",
            "patches": int(merged["region"].shape[0]),
        }
    return _description(out, tiles, lite)


def write_tile_splits(path: Path, tiles: tuple[AgbdTile, ...]) -> None:
    """The sidecar that gives the AGBD readers the split of tiles beyond AGBD's table."""
    splits = {split: [t.location.tile for t in tiles if t.split == split] for split in SPLITS}
    document = {
        "name": "tile splits beyond AGBD's table",
        "source": "reo_core.synth.agbd_h5.BEYOND_AGBD_TILES (simulated tiles)",
        "splits": splits,
    }
    write_json(path, document, indent=1)


def check_patch_count(n_patches: int) -> None:
    """Raise InputError unless every tile can get at least one patch."""
    if n_patches < len(SYNTHETIC_TILES):
        raise InputError(
            f"AGBD output needs at least {len(SYNTHETIC_TILES)} patches (one per tile), "
            f"got {n_patches}; raise --agbd-h5."
        )


def allocate_patches(n_patches: int) -> list[int]:
    """Patches per tile: one each, the rest by split share (largest remainder), ties by tile
    order."""
    weights = np.array(
        [
            SPLIT_SHARE[t.split] / sum(u.split == t.split for u in SYNTHETIC_TILES)
            for t in SYNTHETIC_TILES
        ]
    )
    extra = n_patches - len(SYNTHETIC_TILES)
    ideal = weights / weights.sum() * extra
    counts = np.floor(ideal).astype(int)
    order = np.argsort(-(ideal - counts), kind="stable")
    counts[order[: extra - counts.sum()]] += 1
    return (counts + 1).tolist()


def acquisition_date(scene_seed: int) -> int:
    """The acquisition of a tile's scene: days since 2019-04-17, drawn from its seed."""
    return int(np.random.default_rng([scene_seed, 2]).integers(0, AGBD_LAST_DAY + 1))


def day_of_year(s2_date: int) -> int:
    """Day of year (1..365; 366 folds to 365) of an AGBD date (days since 2019-04-17)."""
    return min((AGBD_EPOCH + datetime.timedelta(days=int(s2_date))).timetuple().tm_yday, 365)


def tile_seed(seed: int, tile: str) -> int:
    """The scene seed of one tile, derived from the run's seed and the tile name."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(tile.encode())]).generate_state(1)[0])


def sample_centres(scene: Scene, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random patch centres: clear centre 3 x 3, no no-data in the 25 x 25 patch, patch inside;
    :data:`OPEN_WATER_SHARE` of them (where the scene has room) on patches of open water.

    Returns:
        (rows, cols), each (n,) int64 pixel indices of the centre pixel [12, 12].
    """
    clear = (scene.cloud == 0) & (scene.shadow == 0) & ~scene.nodata
    half = PATCH_SIZE // 2
    centre_ok = _window_share(clear, 3) == 1.0  # (H-2, W-2), indexed by top-left
    patch_ok = _window_share(~scene.nodata, PATCH_SIZE) == 1.0  # (H-24, W-24)
    # Align both on the patch's top-left pixel: the centre 3 x 3 starts 11 pixels further in.
    rows, cols = patch_ok.shape
    ok = patch_ok & centre_ok[half - 1 : half - 1 + rows, half - 1 : half - 1 + cols]
    candidates = np.flatnonzero(ok)
    if candidates.size == 0:
        raise InputError("No clear patch centre in the scene; lower --cloud-fraction.")
    water = np.flatnonzero(ok & (_window_share(scene.landcover == 80, PATCH_SIZE) >= 0.9))
    n_water = round(OPEN_WATER_SHARE * n) if water.size else 0
    picks = np.concatenate(
        [
            rng.choice(candidates, size=n - n_water, replace=candidates.size < n - n_water),
            rng.choice(water, size=n_water, replace=water.size < n_water),
        ]
    )
    top, left = np.unravel_index(rng.permutation(picks), ok.shape)
    return top + half, left + half


def _window_share(mask: np.ndarray, size: int) -> np.ndarray:
    """Share of True pixels in the ``size`` x ``size`` window starting at each pixel."""
    return window_counts(mask, size) / (size * size)


def palsar_at_10m(scene: Scene) -> np.ndarray:
    """The PALSAR-2 mosaic DN resampled bilinearly onto the scene's 10 m grid, as AGBD did.

    Returns:
        uint16 array, shape (2, H, W), polarisations HH, HV; 0 = no data.
    """
    out = np.zeros((2, scene.height, scene.width), dtype=np.float32)
    for i, dn in enumerate((scene.palsar_hh_dn, scene.palsar_hv_dn)):
        reproject(
            dn.astype(np.float32),
            out[i],
            src_transform=scene.palsar_transform,
            src_crs="EPSG:4326",
            src_nodata=0,
            dst_transform=scene.transform,
            dst_crs=scene.crs,
            dst_nodata=0,
            resampling=Resampling.bilinear,
        )
    return np.round(out).astype(np.uint16)


def tile_records(
    scene: Scene, tile: AgbdTile, n: int, rng: np.random.Generator, s2_date: int
) -> dict[str, np.ndarray]:
    """All section-A datasets of ``n`` patches of one tile, keyed by their HDF5 path in the group.

    Image arrays are (n, 25, 25[, bands]); per-patch scalars are (n,).
    """
    rows, cols = sample_centres(scene, n, rng)
    offsets = np.arange(PATCH_SIZE) - PATCH_SIZE // 2
    r = rows[:, None, None] + offsets[None, :, None]  # (n, 25, 1)
    c = cols[:, None, None] + offsets[None, None, :]  # (n, 1, 25)
    at = _PatchPixels(rows, cols, r, c)
    boa = boa_offset_for_baseline(tile.baseline)
    s2 = reflectance_to_dn(scene.reflectance[:, r, c], boa)  # (12, n, 25, 25)
    height = scene.canopy_height
    # Lang et al.'s map: ~10% relative error plus 1 m, and a predicted std that grows with h.
    ch_noise = rng.standard_normal((3, *height.shape))
    canopy_height = np.clip(np.round(height * (1 + 0.1 * ch_noise[0]) + ch_noise[1]), 0, 254)
    ch_std = np.clip(np.round(1.5 + 0.2 * height + np.abs(ch_noise[2])), 0, 254)
    lc = np.stack([_lc100_10m(scene, scene.lc100), _lc100_10m(scene, scene.lc100_share)], axis=-1)
    records = {
        "S2_bands": np.moveaxis(s2, 0, -1),
        "S2_SCL": scene.scl[r, c],
        "ALOS_bands": np.moveaxis(palsar_at_10m(scene)[:, r, c], 0, -1),
        "CH/ch": canopy_height[r, c].astype(np.uint8),
        "CH/std": ch_std[r, c].astype(np.uint8),
        "LC": lc[r, c].astype(np.uint8),
        "DEM": np.round(scene.elevation[r, c]).astype(np.int16),
    }
    records.update(_metadata(scene, tile, at, s2_date))
    records.update(_gedi(scene, tile, at, rng, s2_date))
    return records


def _lc100_10m(scene: Scene, coarse: np.ndarray) -> np.ndarray:
    """A 100 m layer upsampled (nearest) to the 10 m grid, (H, W)."""
    up = np.repeat(np.repeat(coarse, 10, axis=0), 10, axis=1)
    return up[: scene.height, : scene.width]


class _PatchPixels(NamedTuple):
    """Where n patches lie in the scene: their centres and every pixel's row and column."""

    rows: np.ndarray  # (n,) centre rows
    cols: np.ndarray  # (n,) centre columns
    r: np.ndarray  # (n, 25, 1) pixel rows, broadcasting with ``c`` to (n, 25, 25)
    c: np.ndarray  # (n, 1, 25) pixel columns


def _metadata(
    scene: Scene, tile: AgbdTile, at: _PatchPixels, s2_date: int
) -> dict[str, np.ndarray]:
    """Sentinel_metadata/*: per-patch acquisition facts (one acquisition per tile)."""
    r, c = at.r, at.c
    n, (major, minor) = r.shape[0], tile.baseline
    # Vegetation score: share (%) of the patch that Sen2Cor saw as clear land or water.
    clear = np.isin(scene.scl[r, c], (4, 5, 6)).mean(axis=(1, 2))
    return {
        "Sentinel_metadata/S2_vegetation_score": np.round(100 * clear).astype(np.uint8),
        "Sentinel_metadata/S2_date": np.full(n, s2_date, dtype=np.int16),
        "Sentinel_metadata/S2_pbn": np.full(n, major * 100 + minor, dtype=np.uint16),
        "Sentinel_metadata/S2_ron": np.full(n, tile.relative_orbit, dtype=np.uint8),
        "Sentinel_metadata/S2_boa_offset": np.full(n, boa_flag(tile), dtype=np.uint8),
    }


def boa_flag(tile: AgbdTile) -> int:
    """AGBD's S2_boa_offset of a tile's product: 1 only where its metadata flags the offset."""
    return int(tile.boa_flag and boa_offset_for_baseline(tile.baseline) > 0)


def _gedi(
    scene: Scene, tile: AgbdTile, at: _PatchPixels, rng: np.random.Generator, s2_date: int
) -> dict[str, np.ndarray]:
    """GEDI/*: the L4A footprint at each patch centre; agbd is the label (centre 3 x 3 mean AGB)."""
    rows, cols, r, c = at
    n = rows.shape[0]
    agbd = centre_agb(scene.agb[r, c])
    centre_height = scene.canopy_height[r, c][:, 11:14, 11:14].max(axis=(1, 2))
    t = scene.transform
    x, y = t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e  # centre of the centre pixel
    lon, lat = Transformer.from_crs(scene.crs, "EPSG:4326", always_xy=True).transform(x, y)
    pft = np.zeros(256, dtype=np.uint8)
    for code, value in PFT_OF_CLASS.items():
        pft[code] = value
    track = rng.integers(1000, 20000, n)
    beam = rng.choice([0, 1, 2, 3, 5, 6, 8, 11], n)
    fields = {
        "agbd": agbd,
        "agbd_se": np.minimum(3.0 + 0.06 * agbd + np.abs(rng.normal(0, 1.5, n)), 25.0),
        "rh98": centre_height + rng.normal(0.0, 0.5, n),
        "pft_class": pft[scene.landcover[rows, cols]],
        "region_cla": np.full(n, tile.gedi_region),
        "leaf_off_f": np.full(n, int(scene.acquisition.leaf_off)),
        "urban_prop": np.round(100 * (scene.landcover[r, c] == 50).mean(axis=(1, 2))),
        "elev_lowes": scene.elevation[rows, cols] + rng.normal(0.0, 1.0, n),
        "selected_a": rng.choice([1, 2, 5], n),
        "shot_numbe": _shot_numbers(track, beam),
        "sensitivit": rng.uniform(0.95, 0.99, n),
        "solar_elev": rng.uniform(-40.0, 60.0, n),
        "date": np.clip(s2_date + rng.integers(-120, 121, n), 0, AGBD_LAST_DAY),
        "granule_num": rng.integers(1, 5, n),
        "track_num": track,
        "ppds": np.ones(n),
        "version_num": np.full(n, 2),
    }
    for name, degrees in (("lat", lat), ("lon", lon)):
        fields[f"{name}_offset"], fields[f"{name}_decimal"] = split_degrees(np.asarray(degrees))
    return {f"GEDI/{k}": np.asarray(v).astype(GEDI_DTYPES[k]) for k, v in fields.items()}


def _shot_numbers(track: np.ndarray, beam: np.ndarray) -> np.ndarray:
    """Unique GEDI-like shot numbers: orbit and beam in the leading digits, then a counter."""
    orbit_beam = track.astype(np.uint64) * np.uint64(100) + beam.astype(np.uint64)
    return (
        orbit_beam * np.uint64(10**11) + np.uint64(10**8) + np.arange(len(track), dtype=np.uint64)
    )


GEDI_DTYPES = {
    "agbd": "float32",
    "agbd_se": "float32",
    "rh98": "float32",
    "pft_class": "uint8",
    "region_cla": "uint8",
    "leaf_off_f": "uint8",
    "urban_prop": "uint8",
    "elev_lowes": "float32",
    "selected_a": "uint8",
    "shot_numbe": "uint64",
    "sensitivit": "float32",
    "solar_elev": "float32",
    "date": "uint16",
    "granule_num": "uint8",
    "track_num": "uint32",
    "ppds": "uint8",
    "version_num": "uint16",
    "lat_offset": "uint8",
    "lat_decimal": "float32",
    "lon_offset": "uint8",
    "lon_decimal": "float32",
}


def split_degrees(degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AGBD's split of a coordinate: whole degrees (unsigned) and the signed remainder.

    ``degrees = sign(decimal) * (|decimal| + offset)``.

    Returns:
        (offset, decimal), each shaped like ``degrees``.
    """
    offset = np.floor(np.abs(degrees))
    return offset, np.sign(degrees) * (np.abs(degrees) - offset)


def merge_lite(
    records: list[dict[str, np.ndarray]], tiles: list[AgbdTile]
) -> dict[str, np.ndarray]:
    """Concatenate the tiles' records for one AGBD-Lite split and add ``region`` (N,) uint8."""
    merged = {key: np.concatenate([rec[key] for rec in records]) for key in LITE_KEYS}
    merged["region"] = np.concatenate(
        [
            np.full(len(rec["GEDI/agbd"]), tile.region, dtype=np.uint8)
            for rec, tile in zip(records, tiles, strict=True)
        ]
    )
    return merged


def _write_h5(
    path: Path, groups: dict[str, tuple[dict[str, np.ndarray], tuple[str, ...] | None]]
) -> None:
    """Write groups of datasets (``''`` = file root); images gzip-compressed, no timestamps."""
    temporary = path.with_name(path.name + ".partial")
    with h5py.File(temporary, "w") as h5:
        for group, (records, keys) in groups.items():
            for key in keys or records:
                values = records[key]
                name = f"{group}/{key}" if group else key
                image = values.ndim >= 3
                dataset = h5.create_dataset(
                    name,
                    data=values,
                    compression="gzip" if image else None,
                    chunks=(min(64, len(values)), *values.shape[1:]) if image else None,
                    track_times=False,
                )
                if key == "S2_bands":
                    dataset.attrs["order"] = list(AGBD_BAND_ORDER)
                elif key == "ALOS_bands":
                    dataset.attrs["order"] = list(POLARISATIONS)
    os.replace(temporary, path)
    logger.info("wrote %s", path)


def _tile_entry(
    tile: AgbdTile, count: int, scene_seed: int, size_km: float, scene: Scene, s2_date: int
) -> dict[str, Any]:
    acquired = AGBD_EPOCH + datetime.timedelta(days=s2_date)
    return {
        "tile": tile.location.tile,
        "split": tile.split,
        "region": tile.region,
        "region_name": REGION_NAMES[tile.region],
        "biome": tile.biome,
        "patches": count,
        "scene_seed": scene_seed,
        "scene_size_km": size_km,
        "crs": f"EPSG:{tile.location.epsg}",
        "processing_baseline": f"{tile.baseline[0]:02d}.{tile.baseline[1]:02d}",
        "boa_add_offset_dn": boa_offset_for_baseline(tile.baseline),
        "s2_boa_offset_flag": boa_flag(tile),
        "s2_date": s2_date,
        "acquired": acquired.isoformat(),
        "season": scene.acquisition.season,
    }


def _description(out: Path, tiles: list[dict[str, Any]], lite: dict[str, Any]) -> dict[str, Any]:
    return {
        "raw": {
            "path": f"{out.name}/{RAW_NAME}",
            "layout": "AGBD raw patches: one group per Sentinel-2 tile (notes/AGBD_FORMAT.md, A)",
            "tiles": tiles,
            # The split of the tiles beyond AGBD's table (BEYOND_AGBD_TILES), read with the file.
            "tile_splits": f"{out.name}/{tile_splits_path(out / RAW_NAME).name}",
        },
        "lite": lite,
        "note": (
            "Synthetic AGBD-format patches (25x25 at 10 m) centred on clear pixels of one "
            "simulated scene per tile. GEDI/agbd = mean AGB of the centre 3x3 pixels. S2 DN carry "
            "+1000 where the baseline is >= 04.00 (boa_add_offset_dn); "
            "Sentinel_metadata/S2_boa_offset flags it only for some tiles, as in AGBD "
            "(s2_boa_offset_flag). ALOS DN: the 1/4500-degree mosaic upsampled bilinearly. LC = "
            "[100 m class upsampled, class share %]. CH = canopy height truth with noise (raw "
            "layout only)."
        ),
    }
