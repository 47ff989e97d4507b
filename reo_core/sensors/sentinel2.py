"""Sentinel-2 MSI Level-2A: the band table and digital-number-to-reflectance conversion.

Band facts are data keyed by band name, never by position. The model's band order is AGBD's:
B01..B12 without B10 (the cirrus band, which L2A products drop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from reo_core.errors import InputError


@dataclass(frozen=True)
class Sentinel2Band:
    """One MSI band: its name, central wavelength (Sentinel-2A, nm) and native resolution (m)."""

    name: str
    wavelength_nm: float
    resolution_m: int
    description: str


ALL_BANDS: dict[str, Sentinel2Band] = {
    band.name: band
    for band in (
        Sentinel2Band("B01", 442.7, 60, "coastal aerosol"),
        Sentinel2Band("B02", 492.4, 10, "blue"),
        Sentinel2Band("B03", 559.8, 10, "green"),
        Sentinel2Band("B04", 664.6, 10, "red"),
        Sentinel2Band("B05", 704.1, 20, "red edge 1"),
        Sentinel2Band("B06", 740.5, 20, "red edge 2"),
        Sentinel2Band("B07", 782.8, 20, "red edge 3"),
        Sentinel2Band("B08", 832.8, 10, "near infrared"),
        Sentinel2Band("B8A", 864.7, 20, "narrow near infrared"),
        Sentinel2Band("B09", 945.1, 60, "water vapour"),
        Sentinel2Band("B10", 1373.5, 60, "cirrus (L1C only)"),
        Sentinel2Band("B11", 1613.7, 20, "short-wave infrared 1"),
        Sentinel2Band("B12", 2202.4, 20, "short-wave infrared 2"),
    )
}

# The order of AGBD's S2_bands array and of every band stack reo_core produces.
AGBD_BAND_ORDER: tuple[str, ...] = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B09",
    "B11",
    "B12",
)
# Order of a 13-band L1C-style stack; B10 is read past and ignored.
L1C_BAND_ORDER: tuple[str, ...] = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B09",
    "B10",
    "B11",
    "B12",
)
# EuroSAT-MS (Helber et al. 2019) stores its 13 L1C bands with B8A last.
EUROSAT_BAND_ORDER: tuple[str, ...] = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B09",
    "B10",
    "B11",
    "B12",
    "B8A",
)
# The band orders of unnamed stacks that users meet; a stack without band names is read only when
# the user says which order it is in (the same band count fits several orders).
BAND_ORDERS: dict[str, tuple[str, ...]] = {
    "agbd": AGBD_BAND_ORDER,  # 12 bands: AGBD, BigEarthNet, Google Earth Engine S2_SR, L2A stacks
    "l1c": L1C_BAND_ORDER,  # 13 bands: L1C .SAFE order, Earth Engine S2 (L1C), SEN12MS
    "eurosat": EUROSAT_BAND_ORDER,  # 13 bands: EuroSAT-MS
}
IGNORED_BANDS: frozenset[str] = frozenset({"B10"})
RGB_BANDS: tuple[str, ...] = ("B04", "B03", "B02")
# STAC electro-optical common names (and Earth Search's asset keys) of the MSI bands.
COMMON_NAMES: dict[str, str] = {
    "coastal": "B01",
    "blue": "B02",
    "green": "B03",
    "red": "B04",
    "rededge1": "B05",
    "rededge2": "B06",
    "rededge3": "B07",
    "rededge071": "B05",
    "rededge075": "B06",
    "rededge078": "B07",
    "nir": "B08",
    "nir08": "B8A",
    "nir09": "B09",
    "cirrus": "B10",
    "swir16": "B11",
    "swir22": "B12",
}

# Digital numbers of L2A products are reflectance x 10000.
QUANTIFICATION_VALUE = 10000.0
# Processing baseline 04.00 (from 2022-01-25) adds this offset to every L2A digital number.
BOA_ADD_OFFSET_DN = 1000
BOA_OFFSETS = (0, BOA_ADD_OFFSET_DN)  # the offsets a user may insist on (else "auto")
FIRST_OFFSET_BASELINE = (4, 0)
OFFSET_START_DATE = date(2022, 1, 25)  # first products of baseline 04.00
# ESA's processing baselines so far are 02.xx to 05.xx; other values in a name (N9999 from a
# Sen2Cor run of one's own, test products) say nothing about the offset.
KNOWN_BASELINE_MAJORS = range(2, 6)
NODATA_DN = 0

# Scene classification (SCL) classes of L2A products that hide the surface: no data, saturated or
# defective, cloud shadows, cloud medium / high probability, thin cirrus.
SCL_CLASSES: dict[int, str] = {
    0: "no data",
    1: "saturated or defective",
    2: "topographic casted shadows",
    3: "cloud shadows",
    4: "vegetation",
    5: "not vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud medium probability",
    9: "cloud high probability",
    10: "thin cirrus",
    11: "snow or ice",
}
SCL_CLOUD_CLASSES: tuple[int, ...] = (8, 9, 10)
SCL_SHADOW_CLASSES: tuple[int, ...] = (3,)
SCL_NO_DATA_CLASSES: tuple[int, ...] = (0, 1)
SCL_MASKED_CLASSES: frozenset[int] = frozenset(
    SCL_CLOUD_CLASSES + SCL_SHADOW_CLASSES + SCL_NO_DATA_CLASSES
)
# What the values of a cloud mask raster a user gives mean (reo_core.raster.clouds reads them).
# Here, not there, so that the QGIS plugin can offer them without importing rasterio.
CLOUD_MASK_KINDS: tuple[str, ...] = ("scl", "fmask", "binary", "probability")
_SCL_IN_FILE_NAME = re.compile(r"(?:^|[_\-.])SCL(?=$|[_\-.])", re.IGNORECASE)

# B2, B02, b8a, 'band 8a', B08_10m, B8A_20m (a .SAFE's file suffix), 'B4, central wavelength 665 nm'
# (GDAL's SENTINEL2 driver: the part before the comma is matched).
_BAND_NAME_PATTERN = re.compile(r"^B(?:AND)?[ _]?0?(1[0-2]|[1-9]|8A)(?:_[1-6]0M)?$", re.IGNORECASE)
_BAND_IN_FILE_NAME = re.compile(r"(?:^|[_\-.])B(0[1-9]|1[0-2]|8A|[1-9])(?=$|[_\-.])", re.IGNORECASE)
_BASELINE_IN_PRODUCT = re.compile(r"_N(\d{2})(\d{2})_")


def normalize_band_name(text: str) -> str | None:
    """Canonical band name ('B8A', 'B02') for spellings like 'b2', 'B02', 'band 8a', 'B08_10m' or a
    STAC common name ('red', 'nir08'); None if not a band."""
    text = text.split(",")[0].strip()
    if text.lower() in COMMON_NAMES:
        return COMMON_NAMES[text.lower()]
    match = _BAND_NAME_PATTERN.match(text)
    if match is None:
        return None
    number = match.group(1).upper()
    return "B8A" if number == "8A" else f"B{int(number):02d}"


def band_from_file_name(stem: str) -> str | None:
    """Band named in a file name such as ``T32TNN_20200601_B8A_20m`` or ``..._B02``; None if none.

    Raises InputError when the name mentions two different bands, which makes its identity
    ambiguous.
    """
    if stem.lower() in COMMON_NAMES:  # a STAC asset saved under its key: red.tif, nir08.tif
        return COMMON_NAMES[stem.lower()]
    found = {normalize_band_name("B" + m.group(1)) for m in _BAND_IN_FILE_NAME.finditer(stem)}
    if len(found) > 1:
        raise InputError(
            f"The file name '{stem}' names several Sentinel-2 bands ({', '.join(sorted(found))}); "
            "rename the file or give the band mapping explicitly."
        )
    return found.pop() if found else None


def is_scl_file_name(stem: str) -> bool:
    """True for a scene-classification layer such as ``T32TNN_20200601_SCL_20m``."""
    return _SCL_IN_FILE_NAME.search(stem) is not None


def processing_baseline(product_name: str) -> tuple[int, int] | None:
    """Processing baseline (major, minor) from a product name's ``_N0400_`` field; None if
    absent."""
    match = _BASELINE_IN_PRODUCT.search(product_name)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def is_known_baseline(baseline: tuple[int, int] | None) -> bool:
    """True for a processing baseline ESA has used (02.xx to 05.xx), not e.g. N9999."""
    return baseline is not None and baseline[0] in KNOWN_BASELINE_MAJORS


def boa_offset_for_date(acquired: date) -> int:
    """The offset products acquired on ``acquired`` carry when processed by ESA at the time."""
    return BOA_ADD_OFFSET_DN if acquired >= OFFSET_START_DATE else 0


def boa_offset_for_baseline(baseline: tuple[int, int] | None) -> int:
    """The BOA_ADD_OFFSET (DN) of a processing baseline: 1000 from 04.00 on, else 0."""
    if baseline is not None and baseline >= FIRST_OFFSET_BASELINE:
        return BOA_ADD_OFFSET_DN
    return 0


def dn_to_reflectance(dn: np.ndarray, boa_offset: int = 0) -> np.ndarray:
    """Surface reflectance from L2A digital numbers: ``max(DN - offset, 0) / 10000``; DN 0 -> NaN.

    ``boa_offset`` is the BOA_ADD_OFFSET in DN (1000 for processing baseline 04.00 and later).
    Values below the offset are dark-surface noise and clip to reflectance 0, as ESA's tools do.
    """
    dn = np.asarray(dn)
    reflectance = reflectance_from_dn(dn.astype(np.float32), boa_offset)
    reflectance[dn == NODATA_DN] = np.nan
    return reflectance


def reflectance_from_dn(
    dn: np.ndarray, boa_offset: float = 0, quantification: float = QUANTIFICATION_VALUE
) -> np.ndarray:
    """``max(DN - offset, 0) / quantification`` in float32, for DN already known to be data."""
    reflectance = (np.asarray(dn, dtype=np.float32) - np.float32(boa_offset)) / np.float32(
        quantification
    )
    return np.maximum(reflectance, np.float32(0.0), out=reflectance)


def reflectance_to_dn(reflectance: np.ndarray, boa_offset: int = 0) -> np.ndarray:
    """Inverse of :func:`dn_to_reflectance` (used by the scene simulator); NaN -> DN 0."""
    reflectance = np.asarray(reflectance, dtype=np.float64)
    dn = np.round(reflectance * QUANTIFICATION_VALUE) + boa_offset
    dn = np.clip(dn, 1, np.iinfo(np.uint16).max)
    dn[~np.isfinite(reflectance)] = NODATA_DN
    return dn.astype(np.uint16)
