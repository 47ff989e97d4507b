"""Patch shards of a REO-Instruct build: every patch's arrays stored once, as ``.npy`` files.

Layout under the build folder::

    <split>/shard-00000/s2.npy    (N, 12, 25, 25) uint16 reflectance x 10000, AGBD band order,
                                  BOA offset removed, 0 = no data (valid values clipped to >= 1)
    <split>/shard-00000/sar.npy   (N, 2, 25, 25) uint16 PALSAR-2 DN, HH, HV
                                  (dB = 20*log10(DN) - 83), 0 = no data
    <split>/shard-00000/lc.npy    (N, 25, 25) uint8 CGLS-LC100 codes, 255 = no data
    <split>/shard-00000/meta.json per-patch facts (source file, tile, index, AGB, lat, lon, ...)
    statistics.json               per-band statistics of the train split (what models scale with)

N is ``shard_size`` (default 4096) except in the last shard. Dialogues refer to a patch as
``{"split", "shard", "index"}``; :class:`PatchStore` reads it back with ``np.load(mmap_mode="r")``,
so DataLoader workers share the page cache instead of copying arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from reo_core.agbd.record import PATCH_SIZE, AgbdPatch
from reo_core.atomic import write_json
from reo_core.errors import InputError
from reo_core.sensors.palsar2 import POLARISATIONS
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, QUANTIFICATION_VALUE
from reo_core.sensors.statistics import (
    BUILTIN_STATISTICS,
    DatasetStatistics,
    StatisticsAccumulator,
    load_statistics,
)

DEFAULT_SHARD_SIZE = 4096
MANIFEST_NAME = "manifest.json"  # what a build holds: settings, counts, band order, templates
STATISTICS_NAME = "statistics.json"
STATISTICS_SPLIT = "train"  # models scale their input with the statistics of what they learn from
ARRAYS = ("s2", "sar", "lc")
ARRAY_INFO: dict[str, dict[str, Any]] = {
    "s2": {
        "dtype": "uint16",
        "shape": ["N", len(AGBD_BAND_ORDER), PATCH_SIZE, PATCH_SIZE],
        "bands": list(AGBD_BAND_ORDER),
        "units": "surface reflectance x 10000, BOA offset removed; 0 = no data",
    },
    "sar": {
        "dtype": "uint16",
        "shape": ["N", len(POLARISATIONS), PATCH_SIZE, PATCH_SIZE],
        "bands": list(POLARISATIONS),
        "units": "JAXA mosaic DN, gamma0 dB = 20*log10(DN) - 83; 0 = no data",
    },
    "lc": {
        "dtype": "uint8",
        "shape": ["N", PATCH_SIZE, PATCH_SIZE],
        "units": "CGLS-LC100 discrete class code; 255 = no data",
    },
}


def shard_name(shard: int) -> str:
    return f"shard-{shard:05d}"


def s2_for_store(s2_dn: np.ndarray, boa_offset: int) -> np.ndarray:
    """(25, 25, 12) L2A DN -> (12, 25, 25) uint16 reflectance x 10000 without the BOA offset.

    No data (DN 0) stays 0; valid values below the offset (dark-surface noise) clip to 1, so they
    never read as no data.
    """
    dn = np.asarray(s2_dn).astype(np.int32)
    values = np.clip(dn - int(boa_offset), 1, np.iinfo(np.uint16).max)
    values[dn == 0] = 0
    return np.moveaxis(values, -1, 0).astype(np.uint16)


def s2_reflectance(s2: np.ndarray) -> np.ndarray:
    """Stored ``s2`` values -> float32 reflectance, no data as NaN (any leading shape)."""
    reflectance = np.asarray(s2).astype(np.float32) / np.float32(QUANTIFICATION_VALUE)
    reflectance[np.asarray(s2) == 0] = np.nan
    return reflectance


class ShardWriter:
    """Append patches to ``<root>/<split>/shard-NNNNN/`` folders, ``shard_size`` patches each."""

    def __init__(self, root: Path, split: str, shard_size: int = DEFAULT_SHARD_SIZE) -> None:
        if shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {shard_size}")
        self.folder = Path(root) / split
        self.split = split
        self.shard_size = shard_size
        self.shards = 0  # shards written so far
        self.count = 0  # patches added so far
        self._arrays: dict[str, list[np.ndarray]] = {name: [] for name in ARRAYS}
        self._meta: list[dict[str, Any]] = []

    def add(
        self, patch: AgbdPatch, meta: dict[str, Any], boa_offset: int | None = None
    ) -> dict[str, Any]:
        """Store one patch with its ``meta`` facts; return its reference ``{split, shard, index}``.

        ``boa_offset``: the offset to remove (a builder's pooled decision); default the patch's own.
        """
        reference = {"split": self.split, "shard": self.shards, "index": len(self._meta)}
        sar = patch.alos_dn if patch.alos_dn is not None else np.zeros((PATCH_SIZE, PATCH_SIZE, 2))
        offset = patch.boa_offset if boa_offset is None else boa_offset
        self._arrays["s2"].append(s2_for_store(patch.s2_dn, offset))
        self._arrays["sar"].append(np.moveaxis(np.asarray(sar, dtype=np.uint16), -1, 0))
        self._arrays["lc"].append(np.asarray(patch.lc, dtype=np.uint8))
        self._meta.append(meta)
        self.count += 1
        if len(self._meta) == self.shard_size:
            self.flush()
        return reference

    def flush(self) -> None:
        """Write the patches added since the last flush as one shard (nothing if none)."""
        if not self._meta:
            return
        folder = self.folder / shard_name(self.shards)
        folder.mkdir(parents=True, exist_ok=False)
        for name in ARRAYS:
            np.save(folder / f"{name}.npy", np.stack(self._arrays[name]), allow_pickle=False)
            self._arrays[name] = []
        write_json(
            folder / "meta.json",
            {
                "split": self.split,
                "shard": self.shards,
                "count": len(self._meta),
                "arrays": ARRAY_INFO,
                "patches": self._meta,
            },
        )
        self._meta = []
        self.shards += 1

    def close(self) -> None:
        """Flush the last, partial shard."""
        self.flush()


class PatchStore:
    """Read-only access to the shards of a build folder, memory-mapped and opened lazily."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"No REO-Instruct build at {self.root}")
        self._open: dict[tuple[str, int], dict[str, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "_open": {}}  # workers re-open their own memory maps

    def splits(self) -> list[str]:
        """Splits with shards, sorted."""
        return sorted(p.name for p in self.root.iterdir() if (p / shard_name(0)).is_dir())

    def shard_count(self, split: str) -> int:
        return sum(1 for _ in (self.root / split).glob("shard-*"))

    def shards(self, split: str) -> Iterator[dict[str, Any]]:
        """Every shard of a split in order: its memory-mapped arrays and ``meta``."""
        for shard in range(self.shard_count(split)):
            yield self._shard(split, shard)

    def _shard(self, split: str, shard: int) -> dict[str, Any]:
        key = (split, int(shard))
        if key not in self._open:
            folder = self.root / split / shard_name(int(shard))
            if not folder.is_dir():
                raise KeyError(f"no shard {shard} in split '{split}' of {self.root}")
            opened = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
            opened["meta"] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            self._open[key] = opened
        return self._open[key]

    def get(self, split: str, shard: int, index: int) -> dict[str, np.ndarray]:
        """Arrays of one patch (read-only memory-map views): ``s2`` (12, 25, 25), ``sar``
        (2, 25, 25), ``lc`` (25, 25), in the units of the module doc."""
        opened = self._shard(split, shard)
        return {name: opened[name][int(index)] for name in ARRAYS}

    def meta(self, split: str, shard: int, index: int) -> dict[str, Any]:
        """The facts stored for one patch (source, tile, AGB, lat, lon, ...)."""
        return self._shard(split, shard)["meta"]["patches"][int(index)]


def split_statistics(root: str | Path, split: str = STATISTICS_SPLIT) -> DatasetStatistics:
    """Exact per-band statistics of every stored patch of one split (each patch once).

    Sentinel-2 in offset-free reflectance, PALSAR-2 in dB; no data left out. Patches without
    PALSAR-2 (all zero) add nothing to its bands.
    """
    store = PatchStore(root)
    accumulator = StatisticsAccumulator(AGBD_BAND_ORDER, POLARISATIONS)
    for arrays in store.shards(split):
        accumulator.add(np.asarray(arrays["s2"]), np.asarray(arrays["sar"]))
    if accumulator.patches == 0:
        raise InputError(f"The build at {root} stores no '{split}' patch to compute statistics of.")
    description = (
        f"REO's own statistics of the {accumulator.patches} '{split}' patches of a REO-Instruct "
        "build: Sentinel-2 L2A surface reflectance with the BOA offset removed per patch, "
        "PALSAR-2 gamma0 in dB, no data left out; exact p1/p99."
    )
    return accumulator.result(f"reo-instruct-{split}", description)


def resolve_statistics(given: str | dict | None, folder: str | Path) -> dict | str | None:
    """The statistics a model trained on the build at ``folder`` scales its input with.

    ``given`` is what the training config says (None: nothing). A built-in set's name stays a
    name; a JSON file is read in, so the checkpoint does not depend on the file; nothing given
    means the build's own statistics.json. None when there is nothing to change: a dict was
    given, or the build predates statistics.json (the model keeps its configured set).
    """
    if isinstance(given, str):
        return given if given in BUILTIN_STATISTICS else load_statistics(given).to_dict()
    path = Path(folder) / STATISTICS_NAME
    if given is None and path.is_file():
        return load_statistics(path).to_dict()
    return None
