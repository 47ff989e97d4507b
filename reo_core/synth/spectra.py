"""Endmember surface-reflectance spectra of the simulator, keyed by Sentinel-2 band name.

Values are Sentinel-2 L2A bottom-of-atmosphere reflectances (0..1) of pure surfaces, shaped like
published library spectra convolved to the MSI bands (USGS / ECOSTRESS) and checked against real
L2A patches with CORINE labels (``reo_core.synth.realism``; BigEarthNet, ../shared/data/real):
green leaves are dark in the visible with a chlorophyll bump at B03, a red edge from B05 to B07, a
bright near-infrared plateau (B08, B8A, B09) and water absorption in the short-wave infrared
(B11, B12); soils rise steadily with wavelength; water is dark beyond the green (humic boreal lakes
are dark everywhere, turbid rivers bright in the green and red); snow is bright up to the near
infrared and dark in the short-wave infrared; bare branches (leaf-off crowns) are grey-brown.
A pixel mixes a canopy and a background endmember by canopy cover (see
:mod:`reo_core.synth.optical`).

Every spectrum is a dict keyed by band name; arrays in a band order are made on demand by
:func:`spectrum`, so nothing here depends on band positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER


def _bands(*values: float) -> dict[str, float]:
    """A spectrum typed as one table row (columns B01..B12 without B10), stored as a dict by
    name."""
    if len(values) != len(AGBD_BAND_ORDER):
        raise ValueError(f"a spectrum needs {len(AGBD_BAND_ORDER)} values, got {len(values)}")
    return dict(zip(AGBD_BAND_ORDER, values, strict=True))


ENDMEMBERS: dict[str, dict[str, float]] = {
    #   B01    B02    B03    B04    B05    B06    B07    B08    B8A    B09    B11    B12
    # Sunlit crowns; broadleaf canopies are the brightest in the near infrared.
    "broadleaf": _bands(
        0.020, 0.025, 0.060, 0.030, 0.090, 0.280, 0.360, 0.400, 0.420, 0.410, 0.200, 0.090
    ),
    "tropical_broadleaf": _bands(
        0.018, 0.022, 0.050, 0.025, 0.080, 0.250, 0.320, 0.350, 0.370, 0.360, 0.170, 0.070
    ),
    # Needleleaf canopies trap light between needles and shoots: darker everywhere.
    "needleleaf": _bands(
        0.012, 0.020, 0.040, 0.022, 0.065, 0.190, 0.240, 0.255, 0.265, 0.260, 0.125, 0.055
    ),
    "shrub": _bands(
        0.030, 0.040, 0.070, 0.060, 0.110, 0.220, 0.260, 0.280, 0.295, 0.290, 0.250, 0.150
    ),
    # Green herbaceous layers: lush pasture, crops, reeds.
    "grass": _bands(
        0.030, 0.030, 0.072, 0.038, 0.130, 0.390, 0.480, 0.500, 0.525, 0.520, 0.225, 0.105
    ),
    "crop": _bands(
        0.018, 0.020, 0.055, 0.026, 0.100, 0.330, 0.420, 0.450, 0.470, 0.460, 0.190, 0.090
    ),
    # Dormant canopies: leaf-off branches, senescent and dry grass or reeds.
    "bare_branches": _bands(
        0.040, 0.045, 0.060, 0.070, 0.095, 0.135, 0.155, 0.165, 0.175, 0.175, 0.200, 0.140
    ),
    "dry_grass": _bands(
        0.060, 0.070, 0.100, 0.120, 0.170, 0.220, 0.240, 0.250, 0.270, 0.265, 0.300, 0.220
    ),
    # Backgrounds seen between crowns or plants.
    "soil": _bands(
        0.100, 0.125, 0.170, 0.200, 0.235, 0.265, 0.285, 0.295, 0.310, 0.315, 0.360, 0.300
    ),
    "litter": _bands(
        0.040, 0.050, 0.070, 0.080, 0.120, 0.180, 0.200, 0.210, 0.220, 0.215, 0.220, 0.140
    ),
    "wet_soil": _bands(
        0.050, 0.055, 0.065, 0.070, 0.080, 0.090, 0.095, 0.100, 0.105, 0.100, 0.110, 0.080
    ),
    "rock": _bands(
        0.120, 0.130, 0.150, 0.170, 0.190, 0.210, 0.220, 0.230, 0.240, 0.240, 0.280, 0.240
    ),
    "urban": _bands(
        0.120, 0.120, 0.130, 0.140, 0.160, 0.170, 0.180, 0.190, 0.200, 0.200, 0.230, 0.200
    ),
    # Water: clear lakes, dark humic (boreal) lakes, sediment-laden rivers.
    "water": _bands(
        0.050, 0.045, 0.040, 0.025, 0.020, 0.012, 0.010, 0.010, 0.008, 0.020, 0.004, 0.003
    ),
    "humic_water": _bands(
        0.006, 0.012, 0.013, 0.010, 0.013, 0.015, 0.016, 0.014, 0.015, 0.035, 0.012, 0.008
    ),
    "turbid_water": _bands(
        0.060, 0.065, 0.085, 0.075, 0.060, 0.030, 0.025, 0.022, 0.018, 0.030, 0.008, 0.005
    ),
    # Aged snow on the ground (winter L2A): bright to the near infrared, dark beyond 1.5 um.
    "snow": _bands(
        0.700, 0.740, 0.700, 0.700, 0.710, 0.700, 0.690, 0.700, 0.670, 0.600, 0.090, 0.095
    ),
}
# Mixed forests: half broadleaf, half needleleaf crowns.
ENDMEMBERS["mixed"] = {
    band: 0.5 * (ENDMEMBERS["broadleaf"][band] + ENDMEMBERS["needleleaf"][band])
    for band in AGBD_BAND_ORDER
}
WATER_TYPES = ("water", "humic_water", "turbid_water")

# Thick cloud tops are bright and nearly flat; B09 (water vapour) and the SWIR bands are darker
# because ice and water droplets absorb there. Scaled per pixel by a brightness of ~0.8..1.2.
CLOUD: dict[str, float] = _bands(
    0.550, 0.530, 0.520, 0.520, 0.530, 0.540, 0.540, 0.550, 0.550, 0.350, 0.420, 0.320
)

# Residual haze after the atmospheric correction (per unit haze): light scattered by aerosols adds
# to every pixel, most in the blue, following Angstrom's law ~ wavelength^-1.3.
HAZE: dict[str, float] = _bands(
    0.045, 0.040, 0.031, 0.024, 0.022, 0.020, 0.018, 0.017, 0.016, 0.015, 0.008, 0.004
)

# How much water in the soil darkens each band of a soil or litter background, when wet through:
# little in the visible, most where water absorbs, in the short-wave infrared.
MOISTURE_DARKENING: dict[str, float] = _bands(
    0.15, 0.15, 0.16, 0.17, 0.18, 0.20, 0.21, 0.22, 0.23, 0.25, 0.45, 0.55
)

# How much a tall canopy's own shadows (between crowns) darken each band, at full strength.
# Shadows matter most where the sunlit canopy is bright: the near and short-wave infrared.
SHADE_STRENGTH: dict[str, float] = _bands(
    0.10, 0.10, 0.12, 0.10, 0.15, 0.30, 0.33, 0.35, 0.35, 0.35, 0.40, 0.40
)


def spectrum(
    name_or_values: str | dict[str, float], bands: Sequence[str] = AGBD_BAND_ORDER
) -> np.ndarray:
    """An endmember (by name, or a band->value dict) as an array in ``bands`` order.

    Returns:
        float32 array, shape (len(bands),).
    """
    values = ENDMEMBERS[name_or_values] if isinstance(name_or_values, str) else name_or_values
    missing = [band for band in bands if band not in values]
    if missing:
        raise KeyError(f"spectrum has no value for band(s) {missing}; it has {sorted(values)}")
    return np.array([values[band] for band in bands], dtype=np.float32)


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Normalised difference vegetation index ``(B08 - B04) / (B08 + B04)``; NaN where both are
    0."""
    red, nir = np.asarray(red, dtype=np.float32), np.asarray(nir, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (nir - red) / (nir + red)


def ndsi(green: np.ndarray, swir: np.ndarray) -> np.ndarray:
    """Normalised difference snow index ``(B03 - B11) / (B03 + B11)``; snow is above ~0.4."""
    green, swir = np.asarray(green, dtype=np.float32), np.asarray(swir, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (green - swir) / (green + swir)


def ndwi(green: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """McFeeters' normalised difference water index ``(B03 - B08) / (B03 + B08)``."""
    green, nir = np.asarray(green, dtype=np.float32), np.asarray(nir, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (green - nir) / (green + nir)
