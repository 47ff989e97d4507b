"""Reader of the Hugging Face ``prs-eth/AGBD`` v1.0 parquet files (needs ``pyarrow``, not a
dependency).

Each row holds ``input`` float32 [24][25][25] (channel-first) and ``label`` (AGB, Mg/ha). The
channels were normalised by AGBD's default "pct" strategy, ``v = clip((x - p1) / (p99 - p1), 0, 1)``
with no data set to 0, using the statistics of
``reo_core/resources/agbd_statistics_2019-2020.json``:

    0-11  B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B11 B12   (reflectance, pct)
    12-15 lat_cos lat_sin lon_cos lon_sin                   ((cos(pi*lat/90)+1)/2 ...)
    16-17 alos_hh alos_hv                                   (gamma-naught dB, pct)
    18-19 ch ch_std                                         (canopy height, not read here)
    20-22 lc_cos lc_sin lc_prob                             ((cos(2*pi*lc/100)+1)/2 ..., prob/100)
    23    dem                                               (m, pct)

This reader maps the channels back (``x = p1 + v * (p99 - p1)``) into :class:`AgbdPatch` units. What
cannot be mapped back, plainly:

- Values clipped at p1 or p99 are lost: every reflectance below p1 comes back as p1, every one above
  p99 as p99 (the same for dB and DEM). AGBD's S2 p99 is low (B02 ~0.2), so bright surfaces
  (clouds, bare soil, urban) are flattened.
- No data and values clipped to 0 are indistinguishable: a Sentinel-2 value of 0 comes back as
  reflectance p1 (valid), never as no data; a PALSAR-2 value of 0 comes back as DN 0 (no data),
  since AGBD's dB p1 is the no-data floor (-83 dB); a DEM of 0 comes back as p1 (4 m).
- The BOA offset is unknown: the reflectance was computed by AGBD with the offset already removed,
  so ``boa_offset`` is 0 and ``s2_dn`` is reflectance x 10000 (rounded to whole DN, at least 1).
- The acquisition date (``s2_date``), the tile name and the region are not in the rows: None.
- The land-cover class is recoverable only up to its encoding ``lc mod 100``: codes 111-126 come
  back exactly (no class 11-26 exists), but 0 (unknown), 100 (moss and lichen) and 200 (open sea)
  share one encoding and come back as 0. No data (255, encoded as 55) comes back as 255.
  ``lc_prob`` was divided by 100 and comes back rounded to whole percent; its no data became 0.
- Float32 rounding: coordinates come back to ~1e-5 degrees, reflectance to ~1e-7.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import partial
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from reo_core.agbd.offset import METADATA
from reo_core.agbd.quality import check_finite
from reo_core.agbd.raw import DEFAULT_CHUNK
from reo_core.agbd.record import CENTRE, PATCH_SIZE, SPLITS, AgbdBatch, AgbdWindow
from reo_core.errors import InputError
from reo_core.landcover import CLASSES, NODATA_CODE
from reo_core.sensors.palsar2 import POLARISATIONS, db_to_dn
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, QUANTIFICATION_VALUE
from reo_core.sensors.statistics import BUILTIN_STATISTICS, DEFAULT_STATISTICS, load_statistics

N_CHANNELS = 24
S2, LAT_COS, LAT_SIN, LON_COS, LON_SIN = slice(0, 12), 12, 13, 14, 15
ALOS, LC_COS, LC_SIN, LC_PROB, DEM = slice(16, 18), 20, 21, 22, 23
_SPLIT_IN_NAME = re.compile(r"(?:^|[/_\-.])(train|validation|val|test)(?=[/_\-.])", re.IGNORECASE)


def _pyarrow_parquet() -> ModuleType:
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise InputError(
            "Reading AGBD parquet files needs pyarrow, which REO does not install: "
            "run `pip install pyarrow` in the worker's environment, or use the HDF5 files.",
            details=f"import pyarrow.parquet failed: {error}",
        ) from None
    return pq


def split_from_name(path: str | Path) -> str | None:
    """The split in a Hugging Face file name (``train-00000-of-00042.parquet``); None if absent."""
    match = _SPLIT_IN_NAME.search(Path(path).name)
    if match is None:
        return None
    split = match.group(1).lower()
    return "val" if split == "validation" else split


def _angle(cos01: np.ndarray, sin01: np.ndarray) -> np.ndarray:
    """Angle (radians, -pi..pi) from AGBD's ``(cos+1)/2`` and ``(sin+1)/2`` encodings."""
    return np.arctan2(2.0 * sin01.astype(np.float64) - 1.0, 2.0 * cos01.astype(np.float64) - 1.0)


def decode_land_cover(cos01: np.ndarray, sin01: np.ndarray) -> np.ndarray:
    """CGLS-LC100 codes from the sin/cos encoding of ``lc / 100`` (see module doc), uint8."""
    residue = np.rint(_angle(cos01, sin01) * 100.0 / (2.0 * np.pi)).astype(np.int64) % 100
    table = np.full(100, NODATA_CODE, dtype=np.uint8)  # residue -> code
    for code in sorted(CLASSES, reverse=True):  # 0 wins over 100 and 200
        table[code % 100] = code
    return table[residue]


def _stretch(values: np.ndarray, p1: float, p99: float) -> np.ndarray:
    return p1 + values.astype(np.float64) * (p99 - p1)


def decode_inputs(inputs: np.ndarray) -> dict[str, np.ndarray]:
    """AgbdBatch fields from normalised inputs, (N, 24, 25, 25) float32 -> channel-last arrays."""
    stats = load_statistics(DEFAULT_STATISTICS)
    s2 = np.stack(
        [_stretch(inputs[:, i], *stats.s2_range(b)) for i, b in enumerate(AGBD_BAND_ORDER)], -1
    )  # (N, 25, 25, 12) reflectance
    s2_dn = np.clip(np.rint(s2 * QUANTIFICATION_VALUE), 1, np.iinfo(np.uint16).max)
    sar = stats.sar
    alos_db = np.stack(
        [
            _stretch(inputs[:, ALOS][:, i], sar[p].p1, sar[p].p99)
            for i, p in enumerate(POLARISATIONS)
        ],
        -1,
    )  # (N, 25, 25, 2) dB
    alos_dn = np.where(inputs[:, ALOS].transpose(0, 2, 3, 1) > 0, db_to_dn(alos_db), 0)
    dem = _dem_statistics()
    c = CENTRE
    return {
        "s2_dn": s2_dn.astype(np.uint16),
        "alos_dn": alos_dn.astype(np.uint16),
        "lc": decode_land_cover(inputs[:, LC_COS], inputs[:, LC_SIN]),
        "lc_prob": np.clip(np.rint(inputs[:, LC_PROB] * 100.0), 0, 100).astype(np.uint8),
        "dem": np.rint(_stretch(inputs[:, DEM], dem["p1"], dem["p99"])).astype(np.int16),
        "lat": np.degrees(_angle(inputs[:, LAT_COS, c, c], inputs[:, LAT_SIN, c, c])) / 2.0,
        "lon": np.degrees(_angle(inputs[:, LON_COS, c, c], inputs[:, LON_SIN, c, c])),
    }


def _dem_statistics() -> dict[str, float]:
    resource = resources.files("reo_core.resources") / BUILTIN_STATISTICS[DEFAULT_STATISTICS]
    return json.loads(resource.read_text())["statistics"]["DEM"]


def _inputs_array(column: Any, n: int, name: str) -> np.ndarray:
    """(n, 24, 25, 25) float32 from the nested-list ``input`` column of a record batch."""
    values = column
    for _ in range(3):
        values = values.flatten()
    array = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32)
    expected = n * N_CHANNELS * PATCH_SIZE * PATCH_SIZE
    if array.size != expected:
        raise InputError(
            f"{name}: column 'input' holds {array.size // max(n, 1)} values a row, expected "
            f"{N_CHANNELS}x{PATCH_SIZE}x{PATCH_SIZE}; only prs-eth/AGBD v1.0 parquet is supported."
        )
    return array.reshape(n, N_CHANNELS, PATCH_SIZE, PATCH_SIZE)


def _batch(record_batch: Any, start: int, source: str, split: str, images: bool) -> AgbdBatch:
    n = record_batch.num_rows
    fields = decode_inputs(_inputs_array(record_batch.column("input"), n, source))
    label = np.asarray(record_batch.column("label").to_numpy(zero_copy_only=False), np.float32)
    for what, values in (
        ("the AGB label", label),
        ("the latitude", fields["lat"]),
        ("the longitude", fields["lon"]),
    ):
        check_finite(values, what, source, start)
    return AgbdBatch(
        source=source,
        start=start,
        tile=None,
        split=split,
        region=None,
        s2_dn=fields["s2_dn"] if images else None,
        # AGBD computed the reflectance with the offset removed; no data came back as p1.
        boa_offset=np.zeros(n, dtype=np.int64),
        boa_offset_source=np.full(n, METADATA, dtype=np.uint8),
        boa_offset_metadata=np.zeros(n, dtype=np.int64),
        s2_valid=np.ones(n, dtype=np.float32),
        alos_dn=fields["alos_dn"] if images else None,
        lc=fields["lc"],
        lc_prob=fields["lc_prob"],
        dem=fields["dem"] if images else None,
        agbd=label,
        lat=fields["lat"],
        lon=fields["lon"],
        s2_date=None,
    )


def parquet_windows(
    path: str | Path, chunk_size: int = DEFAULT_CHUNK, split: str | None = None
) -> Iterator[AgbdWindow]:
    """Windows of ``chunk_size`` rows over a prs-eth/AGBD v1.0 parquet file, in file order.

    Args:
        path: a parquet file with the columns ``input`` and ``label``.
        split: its split; default: from the file name (``train``, ``validation`` -> ``val``,
        ``test``).
    """
    pq = _pyarrow_parquet()
    path = Path(path)
    split = split or split_from_name(path)
    if split not in SPLITS:
        raise InputError(
            f"Cannot tell the split of {path.name}; keep the Hugging Face file name "
            "(train-*, validation-*, test-*) or give the split."
        )
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as error:
        raise InputError(f"{path.name} is not a readable parquet file: {error}") from None
    missing = [c for c in ("input", "label") if c not in parquet.schema_arrow.names]
    if missing:
        raise InputError(
            f"{path.name} has no column '{missing[0]}'; prs-eth/AGBD v1.0 parquet files hold "
            "the columns 'input' and 'label'."
        )
    start = 0
    for record_batch in parquet.iter_batches(batch_size=chunk_size, columns=["input", "label"]):
        n = record_batch.num_rows
        read = partial(_batch, record_batch, start, path.name, split)
        yield AgbdWindow(path.name, None, split, start, start + n, read)
        start += n
