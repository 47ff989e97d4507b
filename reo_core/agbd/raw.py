"""Streaming reader of AGBD's raw patch files: one HDF5 group per Sentinel-2 tile.

Layout (notes/AGBD_FORMAT.md, section A; files ``data_subset-{2019,2020}-v4_{i}-20.h5``)::

    <tile>/S2_bands (N, 25, 25, 12) uint16      <tile>/LC (N, 25, 25, 2) uint8 [class, prob %]
    <tile>/ALOS_bands (N, 25, 25, 2) uint16     <tile>/DEM (N, 25, 25) int16
    <tile>/GEDI/{agbd, lat_decimal, lat_offset, lon_decimal, lon_offset, ...} (N,)
    <tile>/Sentinel_metadata/{S2_boa_offset, S2_date, ...} (N,)

The whole structure (keys, dtypes, shapes, tile names and splits) is checked before the first
patch is read; patches are then read ``chunk_size`` at a time, never a whole tile. The group
checks and the chunk reader are shared with the flat AGBD-Lite layout (``reo_core.agbd.lite``),
whose file root holds the same datasets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path

import h5py
import numpy as np

from reo_core.agbd.offset import decide_offset
from reo_core.agbd.quality import check_finite
from reo_core.agbd.record import PATCH_SIZE, AgbdBatch, AgbdWindow, degrees
from reo_core.errors import InputError
from reo_core.sensors.palsar2 import POLARISATIONS
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 256  # patches read at a time (~4.7 MB of S2 DN)
TILE_NAME = re.compile(r"^\d{1,2}[C-X][A-Z]{2}$")  # MGRS tile, e.g. "32TNN"
_P = (PATCH_SIZE, PATCH_SIZE)

# key -> (dtype: an exact name, or "float" / "int" for any of that kind; shape of one patch)
REQUIRED_KEYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "S2_bands": ("uint16", (*_P, len(AGBD_BAND_ORDER))),
    "LC": ("uint8", (*_P, 2)),
    "GEDI/agbd": ("float", ()),
    "GEDI/lat_decimal": ("float", ()),
    "GEDI/lat_offset": ("int", ()),
    "GEDI/lon_decimal": ("float", ()),
    "GEDI/lon_offset": ("int", ()),
    "Sentinel_metadata/S2_boa_offset": ("int", ()),
    "Sentinel_metadata/S2_date": ("int", ()),
}
# Read when present; a patch record then holds None for them.
OPTIONAL_KEYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "ALOS_bands": ("uint16", (*_P, len(POLARISATIONS))),
    "DEM": ("int16", _P),
    "region": ("int", ()),
    "Sentinel_metadata/S2_pbn": ("int", ()),  # processing baseline, major * 100 + minor
}
_KINDS = {"float": "f", "int": "iu"}


def open_h5(path: Path) -> h5py.File:
    """Open ``path`` read-only; a missing, non-HDF5 or truncated file is an InputError naming it."""
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the --agbd path.")
    if not h5py.is_hdf5(path):
        raise InputError(
            f"{path.name} is not an HDF5 file; give AGBD patch files "
            "(data_subset-*.h5 or AGBD-Lite-*.h5) or AGBD parquet files."
        )
    try:
        return h5py.File(path, "r")
    except OSError as error:  # HDF5 checks the stored end of file: a cut download fails here
        raise InputError(
            f"{path.name} is truncated or damaged and cannot be opened ({error}); "
            "download it again."
        ) from None


def unreadable(where: str, patch: int, error: OSError) -> InputError:
    """The message for patch data HDF5 cannot decode (a corrupt compressed chunk)."""
    return InputError(
        f"{where}, patch {patch}: the stored data cannot be read ({error}); the file is "
        "damaged: download it again."
    )


def check_group(group: h5py.Group, where: str) -> int:
    """Check the AGBD datasets of one group; return its patch count N.

    ``where`` names the group in messages ("data.h5: tile 32TNN"). Missing required keys, wrong
    dtypes or shapes, and datasets of different lengths raise InputError naming file and key.
    """
    for key in REQUIRED_KEYS:
        if not isinstance(group.get(key), h5py.Dataset):
            raise InputError(
                f"{where} has no key '{key}'; AGBD patch groups need "
                f"{', '.join(REQUIRED_KEYS)} (see notes/AGBD_FORMAT.md)."
            )
    counts = {}
    for key, (dtype, shape) in {**REQUIRED_KEYS, **OPTIONAL_KEYS}.items():
        dataset = group.get(key)
        if dataset is None:
            continue
        _check_dataset(dataset, key, dtype, shape, where)
        counts[key] = dataset.shape[0]
    if len(set(counts.values())) > 1:
        raise InputError(
            f"{where}: datasets hold different numbers of patches ({counts}); the file is "
            "truncated or not AGBD."
        )
    return counts["S2_bands"]


def _check_dataset(dataset: h5py.Dataset, key: str, dtype: str, shape: tuple, where: str) -> None:
    kinds = _KINDS.get(dtype)
    ok = dataset.dtype.kind in kinds if kinds else dataset.dtype == np.dtype(dtype)
    if not ok:
        raise InputError(
            f"{where}: key '{key}' has dtype {dataset.dtype}, expected {dtype}; "
            "the file is not in AGBD's format."
        )
    if dataset.shape[1:] != shape or dataset.ndim != len(shape) + 1:
        raise InputError(
            f"{where}: key '{key}' has shape {dataset.shape}, expected "
            f"({', '.join(['N', *map(str, shape)])}); the file is not in AGBD's format."
        )


def band_index(dataset: h5py.Dataset, expected: tuple[str, ...], where: str) -> np.ndarray:
    """Positions of ``expected`` bands in ``dataset``'s ``order`` attribute (identity if absent)."""
    order = dataset.attrs.get("order")
    if order is None:
        return np.arange(len(expected))
    names = [b.decode() if isinstance(b, bytes) else str(b) for b in np.asarray(order).ravel()]
    missing = [b for b in expected if b not in names]
    if missing or len(names) != len(expected):
        raise InputError(
            f"{where}: key '{dataset.name.lstrip('/')}' has band order {names}; expected the "
            f"bands {', '.join(expected)}."
        )
    return np.array([names.index(b) for b in expected])


def read_batch(
    group: h5py.Group,
    start: int,
    stop: int,
    images: bool,
    *,
    source: str,
    tile: str | None,
    split: str | None,
    bands: tuple[np.ndarray, np.ndarray],
) -> AgbdBatch:
    """Patches ``start:stop`` of a checked group as an :class:`AgbdBatch` (images if asked).

    Sentinel-2 is always read: each patch's BOA offset and valid share are decided from it.
    Undecodable data and NaN labels or coordinates are InputErrors naming file, tile and patch.
    """
    if not group:  # h5py: False once the file is closed
        raise ValueError(
            f"{source}: window read after its file was closed; read each window before asking "
            "the reader for the next one."
        )
    where = source if tile is None else f"{source}: tile {tile}"
    try:
        values = _read_slices(group, start, stop, images)
    except OSError as error:
        raise unreadable(where, _first_unreadable(group, start, stop), error) from None
    agbd = values["GEDI/agbd"].astype(np.float32)
    lat = degrees(values["GEDI/lat_decimal"], values["GEDI/lat_offset"])
    lon = degrees(values["GEDI/lon_decimal"], values["GEDI/lon_offset"])
    for what, array in (
        ("the AGB label GEDI/agbd", agbd),
        ("the latitude", lat),
        ("the longitude", lon),
    ):
        check_finite(array, what, where, start)
    s2 = values["S2_bands"][..., bands[0]]
    decision, valid = decide_offset(
        s2, values["Sentinel_metadata/S2_boa_offset"], values.get("Sentinel_metadata/S2_pbn")
    )
    alos, lc = values.get("ALOS_bands"), values["LC"]
    region = values.get("region")
    return AgbdBatch(
        source=source,
        start=start,
        tile=tile,
        split=split,
        region=None if region is None else region.astype(np.int64),
        s2_dn=s2 if images else None,
        boa_offset=decision.offset,
        boa_offset_source=decision.source,
        boa_offset_metadata=decision.metadata,
        s2_valid=valid,
        alos_dn=None if alos is None else alos[..., bands[1]],
        lc=lc[..., 0],
        lc_prob=lc[..., 1],
        dem=values.get("DEM"),
        agbd=agbd,
        lat=lat,
        lon=lon,
        s2_date=values["Sentinel_metadata/S2_date"].astype(np.int64),
    )


IMAGE_KEYS = ("ALOS_bands", "DEM")  # read only with images; S2 is always read


def _read_slices(group: h5py.Group, start: int, stop: int, images: bool) -> dict[str, np.ndarray]:
    """Every present key's values for patches ``start:stop`` (image keys only with ``images``)."""
    keys = [*REQUIRED_KEYS, *(k for k in OPTIONAL_KEYS if k not in IMAGE_KEYS or images)]
    return {key: group[key][start:stop] for key in keys if key in group}


def _first_unreadable(group: h5py.Group, start: int, stop: int) -> int:
    """The first patch of ``start:stop`` whose data HDF5 cannot decode (``start`` if none alone)."""
    for patch in range(start, stop):
        try:
            _read_slices(group, patch, patch + 1, images=True)
        except OSError:
            return patch
    return start


def group_windows(
    group: h5py.Group,
    n: int,
    chunk_size: int,
    *,
    source: str,
    tile: str | None,
    split: str | None,
    where: str,
) -> Iterator[AgbdWindow]:
    """Windows of ``chunk_size`` patches over a checked group of ``n`` patches."""
    bands = (band_index(group["S2_bands"], AGBD_BAND_ORDER, where), np.arange(2))
    if "ALOS_bands" in group:
        bands = (bands[0], band_index(group["ALOS_bands"], POLARISATIONS, where))
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        read = partial(
            read_batch, group, start, stop, source=source, tile=tile, split=split, bands=bands
        )
        yield AgbdWindow(source, tile, split, start, stop, read)


def raw_tiles(h5: h5py.File, name: str, splits: Mapping[str, str] | None) -> dict[str, int]:
    """Check every tile group of a raw file; return tile -> patch count, in file order.

    A top-level member that is not a group named like an MGRS tile, a group missing a key, or a tile
    absent from ``splits`` (when given) is an InputError.
    """
    tiles = {}
    for tile, member in h5.items():
        if not isinstance(member, h5py.Group) or not TILE_NAME.match(tile):
            raise InputError(
                f"{name}: top-level key '{tile}' is not a Sentinel-2 tile group; raw AGBD files "
                "hold one group per MGRS tile (e.g. '32TNN')."
            )
        if splits is not None and tile not in splits:
            raise InputError(
                f"{name}: tile {tile} is not in AGBD's tile split table "
                "(reo_core/resources/agbd_tile_splits.json); remove the tile, or give its split "
                f"in {Path(name).stem}.tile_splits.json beside the file "
                f'({{"splits": {{"train": ["{tile}"]}}}}).'
            )
        tiles[tile] = check_group(member, f"{name}: tile {tile}")
    if not tiles:
        raise InputError(f"{name} holds no tile groups; it is not a raw AGBD patch file.")
    return tiles


def raw_windows(
    path: str | Path, chunk_size: int = DEFAULT_CHUNK, splits: Mapping[str, str] | None = None
) -> Iterator[AgbdWindow]:
    """Windows over every tile of a raw AGBD file, tiles in file order (alphabetical).

    Args:
        path: a ``data_subset-*.h5`` file.
        chunk_size: patches per window.
        splits: tile -> split ("train", "val", "test"); every tile must be in it. None: split None.
    """
    path = Path(path)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    with open_h5(path) as h5:
        tiles = raw_tiles(h5, path.name, splits)
        for tile, n in tiles.items():
            yield from group_windows(
                h5[tile],
                n,
                chunk_size,
                source=path.name,
                tile=tile,
                split=None if splits is None else splits[tile],
                where=f"{path.name}: tile {tile}",
            )
