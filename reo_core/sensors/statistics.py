"""Fixed per-band dataset statistics, used to scale imagery the same way for every patch.

The shipped sets are AGBD's own (``reo_core/resources/agbd_*statistics*.json``, CC BY-NC 4.0,
Sialelli et al. 2024). A set can also be read from any JSON file of the same shape, so a model
trained on other data carries the statistics of that data.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from reo_core.errors import InputError

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
            "statistics": {
                "S2_bands": {band: asdict(s) for band, s in self.s2.items()},
                "ALOS_bands": {band: asdict(s) for band, s in self.sar.items()},
            },
        }

    @classmethod
    def from_dict(cls, document: dict, source: str = "statistics") -> DatasetStatistics:
        """Read the JSON layout of the shipped files: ``{"statistics": {"S2_bands": {...}, ...}}``."""
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
        return cls(name=document.get("name", source), s2=s2, sar=sar)

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
