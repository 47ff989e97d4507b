"""What the numbers of a Sentinel-2 file are: digital numbers, reflectance or percent.

A file's data type and declared unit say what its values should be; its values are then checked
against that, because exports often break the convention (float32 rasters still holding digital
numbers in the thousands read as reflectance give a near-black image and nonsense biomass):

- integer bands hold digital numbers, reflectance x 10000 (plus the BOA offset). 8-bit bands are
  refused: they are display products (TCI, byte-scaled exports), not reflectance;
- float bands hold reflectance (0..1, a little above for bright clouds) unless their unit says
  percent; float values far above reflectance are read as digital numbers, with a warning;
  values that fit neither are refused with a message saying what to declare.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reo_core.errors import InputError
from reo_core.raster.sampling import sample_band, valid_values
from reo_core.raster.sources import BandRef
from reo_core.sensors.sentinel2 import QUANTIFICATION_VALUE

DN, REFLECTANCE, PERCENT = "dn", "reflectance", "percent"
# Reflectance above this is not surface reflectance (the brightest clouds and snow stay below 1.6).
MAX_REFLECTANCE = 2.0
# Digital numbers of land surfaces reach the thousands; a 99th percentile below this is not DN.
MIN_DN_P99 = 50.0
PERCENT_UNITS = frozenset({"%", "percent", "pct"})


@dataclass(frozen=True)
class FileUnits:
    """How one file's values become reflectance, and why."""

    kind: str  # dn | reflectance | percent
    reason: str
    warning: str | None = None

    @property
    def to_dn(self) -> float:
        """Factor from the file's values to digital-number units (reflectance x 10000)."""
        return {DN: 1.0, REFLECTANCE: QUANTIFICATION_VALUE, PERCENT: QUANTIFICATION_VALUE / 100}[
            self.kind
        ]


def file_units(refs: list[BandRef], declared_unit: str = "") -> FileUnits:
    """The units of one file from its bands ``refs`` (all bands of the file that are read)."""
    first = refs[0]
    name = Path(first.path).name
    if first.is_integer:
        if np.dtype(first.dtype).itemsize == 1:
            raise InputError(
                f"{name} holds 8-bit values ({first.dtype}): a display product (TCI, a byte-scaled "
                "export), not Sentinel-2 reflectance. Give the 16-bit band files (digital numbers) "
                "or reflectance."
            )
        return FileUnits(DN, f"integer data ({first.dtype}): digital numbers")
    p99 = _p99(refs)
    declared = declared_unit.strip().lower()
    if declared in PERCENT_UNITS and (p99 is None or p99 <= 100 * MAX_REFLECTANCE):
        return FileUnits(PERCENT, f"float data with unit '{declared_unit}'")
    if p99 is None:
        return FileUnits(REFLECTANCE, "float data (no valid value sampled): reflectance")
    if p99 <= MAX_REFLECTANCE:
        return FileUnits(REFLECTANCE, f"float data, 99th percentile {p99:.3g}: reflectance")
    if p99 >= MIN_DN_P99:
        warning = (
            f"{name} is a float raster holding digital numbers (99th percentile {p99:.0f}, "
            f"reflectance stays below {MAX_REFLECTANCE:g}); it is read as digital numbers, "
            "like the integer bands of a Sentinel-2 product."
        )
        return FileUnits(DN, f"float data, 99th percentile {p99:.0f}: digital numbers", warning)
    raise InputError(
        f"{name} holds float values up to {p99:.3g} (99th percentile): too large for reflectance "
        f"(at most {MAX_REFLECTANCE:g}) and too small for digital numbers (thousands). If they are "
        "percent, declare the band unit '%' (a VRT's <UnitType>%</UnitType>); otherwise give "
        "reflectance (0-1) or digital numbers.",
        details=f"bands {', '.join(str(r.index) for r in refs)} of {first.path}",
    )


def _p99(refs: list[BandRef]) -> float | None:
    pooled = []
    for ref in refs:
        values = sample_band(ref)
        pooled.append(values[valid_values(ref, values)])
    values = np.concatenate(pooled) if pooled else np.zeros(0)
    return float(np.percentile(values, 99)) if values.size else None
