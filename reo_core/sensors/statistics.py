"""Fixed per-band dataset statistics, used to scale imagery the same way for every patch.

A model scales its input with the statistics of the data it was trained on, and carries them in its
config. REO computes them itself (:class:`StatisticsAccumulator`): exact p1/p99, mean, std, min and
max per band of offset-free L2A reflectance (and PALSAR-2 dB), from the training split of a
REO-Instruct build (``statistics.json``, written by ``python -m reo_core.build_instruct``, or
``python -m reo_core.stats``).

The shipped sets are AGBD's published numbers (``reo_core/resources/agbd_*statistics*.json``,
CC BY-NC 4.0, Sialelli et al. 2024), kept as a reference and for models that name them. They are
not a good scale for offset-free reflectance: AGBD's Sentinel-2 p1/p99 are inflated by the +1000 DN
offset many of its products carry (B02 p1 = 0.0925, where offset-free L2A blue over vegetation is
0.02-0.05), so most dark pixels clip to 0 with them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from reo_core.errors import InputError
from reo_core.sensors.palsar2 import dn_to_db
from reo_core.sensors.sentinel2 import QUANTIFICATION_VALUE

BUILTIN_STATISTICS: dict[str, str] = {
    "agbd-2019-2020": "agbd_statistics_2019-2020.json",
    "agbd-lite": "agbd_lite_statistics.json",
}
DEFAULT_STATISTICS = "agbd-2019-2020"

# AGBD's PALSAR-2 p1 is the no-data floor (-83 dB), useless as a display minimum. The SAR scaling
# range is therefore [p99 - SAR_DYNAMIC_RANGE_DB, p99]: 25 dB spans forest, fields and water.
SAR_DYNAMIC_RANGE_DB = 25.0


@dataclass(frozen=True)
class BandStatistics:
    """Statistics of one band over a dataset (reflectance for Sentinel-2, dB for PALSAR-2)."""

    mean: float
    std: float
    min: float
    max: float
    p1: float
    p99: float

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not math.isfinite(value):
                raise InputError(f"Band statistic '{name}' is {value}; statistics must be finite.")
        if not self.p99 > self.p1:
            raise InputError(f"Band statistics need p99 > p1, got p1={self.p1} and p99={self.p99}.")


@dataclass(frozen=True)
class DatasetStatistics:
    """Per-band statistics of the Sentinel-2 bands (reflectance) and PALSAR-2 bands (dB)."""

    name: str
    s2: dict[str, BandStatistics]
    sar: dict[str, BandStatistics]
    description: str = ""  # where the numbers come from

    def s2_range(self, band: str) -> tuple[float, float]:
        """(low, high) reflectance mapped to 0 and 255 for a Sentinel-2 band: its p1 and p99."""
        stats = self._lookup(self.s2, band, "Sentinel-2")
        return stats.p1, stats.p99

    def sar_range(self, polarisation: str) -> tuple[float, float]:
        """(low, high) dB mapped to 0 and 255 for a PALSAR-2 polarisation."""
        stats = self._lookup(self.sar, polarisation, "PALSAR-2")
        return stats.p99 - SAR_DYNAMIC_RANGE_DB, stats.p99

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "statistics": {
                "S2_bands": {band: asdict(s) for band, s in self.s2.items()},
                "ALOS_bands": {band: asdict(s) for band, s in self.sar.items()},
            },
        }

    @classmethod
    def from_dict(cls, document: dict, source: str = "statistics") -> DatasetStatistics:
        """Read the JSON layout of the shipped files:
        ``{"statistics": {"S2_bands": {...}, ...}}``."""
        body = document.get("statistics", document)
        try:
            s2 = {band: BandStatistics(**_pick(v)) for band, v in body["S2_bands"].items()}
            sar = {
                band: BandStatistics(**_pick(v)) for band, v in body.get("ALOS_bands", {}).items()
            }
        except KeyError as missing:
            raise InputError(
                f"{source} has no key {missing}; expected S2_bands and ALOS_bands."
            ) from None
        return cls(document.get("name", source), s2, sar, document.get("description", ""))

    def _lookup(self, table: dict[str, BandStatistics], band: str, sensor: str) -> BandStatistics:
        if band not in table:
            raise InputError(
                f"The statistics '{self.name}' have no {sensor} band '{band}'; "
                f"they cover: {', '.join(table)}."
            )
        return table[band]


def _pick(values: dict) -> dict:
    fields = ("mean", "std", "min", "max", "p1", "p99")
    missing = [f for f in fields if f not in values]
    if missing:
        raise KeyError(missing[0])
    return {f: float(values[f]) for f in fields}


def load_statistics(name_or_path: str | Path = DEFAULT_STATISTICS) -> DatasetStatistics:
    """A shipped statistics set by name (``agbd-2019-2020``, ``agbd-lite``) or a JSON file."""
    if str(name_or_path) in BUILTIN_STATISTICS:
        resource = resources.files("reo_core.resources") / BUILTIN_STATISTICS[str(name_or_path)]
        return DatasetStatistics.from_dict(json.loads(resource.read_text()), str(name_or_path))
    path = Path(name_or_path)
    if not path.is_file():
        allowed = ", ".join(BUILTIN_STATISTICS)
        raise InputError(
            f"Statistics '{name_or_path}' is neither a built-in set ({allowed}) nor a file."
        )
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"Statistics file {path} is not valid JSON: {error}") from None
    return DatasetStatistics.from_dict(document, str(path))


# ---------------------------------------------------------------------------------- computing them

DN_LEVELS = 1 << 16  # uint16 values: exact histograms, so percentiles need no second pass
PERCENTILES = {"p1": 0.01, "p99": 0.99}


class StatisticsAccumulator:
    """Exact per-band statistics of uint16 values streamed in any number of blocks.

    Sentinel-2 values are offset-free reflectance x 10000 (REO-Instruct's stored ``s2``), PALSAR-2
    values mosaic DN (gamma0 dB = 20 log10(DN) - 83); 0 is no data in both and is left out. One
    histogram of 65,536 levels per band makes p1 and p99 exact (to 1e-4 reflectance) at any size.
    """

    def __init__(self, s2_bands: tuple[str, ...], sar_bands: tuple[str, ...] = ()) -> None:
        self.s2_bands, self.sar_bands = tuple(s2_bands), tuple(sar_bands)
        self._s2 = np.zeros((len(self.s2_bands), DN_LEVELS), dtype=np.int64)
        self._sar = np.zeros((len(self.sar_bands), DN_LEVELS), dtype=np.int64)
        self.patches = 0

    def add(self, s2: np.ndarray, sar: np.ndarray | None = None) -> None:
        """Count a block of patches.

        Args:
            s2: (N, len(s2_bands), H, W) uint16; sar: (N, len(sar_bands), H, W) uint16 or None.
        """
        self.patches += int(s2.shape[0])
        for table, values in ((self._s2, s2), (self._sar, sar)):
            if values is None or not len(table):
                continue
            if values.shape[1] != table.shape[0]:
                raise ValueError(f"expected {table.shape[0]} bands on axis 1, got {values.shape}")
            for band in range(table.shape[0]):
                table[band] += np.bincount(np.asarray(values[:, band]).ravel(), minlength=DN_LEVELS)

    def result(self, name: str, description: str = "") -> DatasetStatistics:
        """The statistics so far; InputError if a band has no valid value."""
        levels = np.arange(DN_LEVELS, dtype=np.float64)
        s2_values = levels / QUANTIFICATION_VALUE
        with np.errstate(divide="ignore"):
            sar_values = dn_to_db(np.arange(DN_LEVELS)).astype(np.float64)
        s2 = {b: _band(self._s2[i], s2_values, b) for i, b in enumerate(self.s2_bands)}
        sar = {b: _band(self._sar[i], sar_values, b) for i, b in enumerate(self.sar_bands)}
        return DatasetStatistics(name, s2, sar, description)


def _band(histogram: np.ndarray, values: np.ndarray, band: str) -> BandStatistics:
    """Statistics of one band from its histogram over the uint16 levels (level 0 = no data)."""
    counts = histogram.astype(np.float64)
    counts[0] = 0.0
    total = counts.sum()
    if total == 0:
        raise InputError(f"Band {band} holds no valid value; statistics need data in every band.")
    present = np.flatnonzero(counts)
    mean = float((counts[present] * values[present]).sum() / total)
    variance = float((counts[present] * (values[present] - mean) ** 2).sum() / total)
    cumulative = np.cumsum(counts)
    quantile = {
        key: float(values[int(np.searchsorted(cumulative, share * total))])
        for key, share in PERCENTILES.items()
    }
    low, high = float(values[present[0]]), float(values[present[-1]])
    if low == high:
        raise InputError(f"Band {band} holds one value only ({low}); statistics need a spread.")
    p99 = quantile["p99"] if quantile["p99"] > quantile["p1"] else high  # a flat band
    p1 = quantile["p1"] if p99 > quantile["p1"] else low
    return BandStatistics(mean, variance**0.5, low, high, p1, p99)
