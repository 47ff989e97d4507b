"""ALOS-2 PALSAR-2 L-band SAR: polarisations and backscatter unit conversions.

JAXA's yearly mosaics store gamma-naught as uint16 digital numbers: ``dB = 10*log10(DN^2) - 83``,
with DN 0 meaning no data.
"""

from __future__ import annotations

import re
from enum import Enum

import numpy as np

from reo_core.errors import InputError

POLARISATIONS: tuple[str, ...] = ("HH", "HV")
CALIBRATION_FACTOR_DB = -83.0
NODATA_DN = 0
NATIVE_RESOLUTION_M = 25.0

_POLARISATION_IN_NAME = re.compile(r"(?:^|[_\-.])(HH|HV)(?=$|[_\-.])", re.IGNORECASE)


class SarUnits(str, Enum):
    """How backscatter is stored in a PALSAR-2 raster."""

    DN = "dn"  # JAXA mosaic digital numbers (uint16)
    DB = "db"  # gamma-naught in decibels
    LINEAR = "linear"  # gamma-naught as linear power

    @classmethod
    def parse(cls, value: str | SarUnits) -> SarUnits:
        try:
            return cls(str(value.value if isinstance(value, SarUnits) else value).lower())
        except ValueError:
            allowed = ", ".join(unit.value for unit in cls)
            raise InputError(f"Unknown SAR units '{value}'; use one of: {allowed}.") from None


def polarisation_from_name(text: str) -> str | None:
    """'HH' or 'HV' named in a file name or band description (``..._sl_HH_F02DAR``); None if
    none."""
    found = {m.group(1).upper() for m in _POLARISATION_IN_NAME.finditer(text)}
    if len(found) > 1:
        raise InputError(
            f"'{text}' names both HH and HV; give the PALSAR-2 polarisations explicitly."
        )
    return found.pop() if found else None


def dn_to_db(dn: np.ndarray) -> np.ndarray:
    """Gamma-naught in dB from mosaic digital numbers: ``10*log10(DN^2) - 83``; DN 0 -> NaN."""
    dn = np.asarray(dn, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(dn > NODATA_DN, 20.0 * np.log10(dn) + CALIBRATION_FACTOR_DB, np.nan)
    return db.astype(np.float32)


def db_to_dn(db: np.ndarray) -> np.ndarray:
    """Inverse of :func:`dn_to_db` (used by the scene simulator); NaN -> DN 0."""
    db = np.asarray(db, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        dn = np.round(10.0 ** ((db - CALIBRATION_FACTOR_DB) / 20.0))
    # Valid values never become DN 0, which means no data.
    dn = np.where(np.isfinite(db), np.clip(np.nan_to_num(dn), 1, np.iinfo(np.uint16).max), 0)
    return dn.astype(np.uint16)


def linear_to_db(power: np.ndarray) -> np.ndarray:
    """Decibels from linear power; zero or negative power -> NaN."""
    power = np.asarray(power, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(power > 0, 10.0 * np.log10(power), np.nan)
    return db.astype(np.float32)


def db_to_linear(db: np.ndarray) -> np.ndarray:
    """Linear power from decibels."""
    return (10.0 ** (np.asarray(db, dtype=np.float64) / 10.0)).astype(np.float32)


def to_db(values: np.ndarray, units: SarUnits) -> np.ndarray:
    """Gamma-naught in dB from values stored in ``units``; no-data stays NaN."""
    if units is SarUnits.DN:
        return dn_to_db(values)
    if units is SarUnits.LINEAR:
        return linear_to_db(values)
    return np.asarray(values, dtype=np.float32)
