"""Built-in cloud and cloud-shadow screening of Sentinel-2 L2A reflectance, per pixel.

Used when an input has neither a scene classification (SCL) nor a cloud mask. The rule is the
per-pixel part of Sen2Cor's scene classification, the ESA processor that makes L2A products and
their SCL (Main-Knorn et al. 2017, "Sen2Cor for Sentinel-2", Proc. SPIE 10427, 1042704; the
thresholds below are the defaults of Sen2Cor's L2A_CAL_SC_GIPP):

Cloud probability ``p`` starts from the red brightness and is multiplied down by tests that
recognise bright surfaces which are not clouds (each ``ramp(x, a, b)`` is 0 below ``a``, 1 above
``b``, linear between):

1. brightness: ``p = ramp(B04, 0.06, 0.25)²``; dark features (B04 < 0.1, 0.04 < B8A < 0.15): 0.
2. snow index NDSI = (B03 - B11) / (B03 + B11): ``p *= ramp(NDSI, -0.24, -0.16)``.
3. snow: ramp(NDSI, 0.35, 0.50) x ramp(B8A, 0.15, 0.35) x ramp(B02, 0.18, 0.22) x
   ramp(B02/B04, 0.85, 0.95) above 0.12 (and B05/B8A >= 0.85) is snow: ``p = 0``.
4. vegetation: NDVI = (B8A - B04) / (B8A + B04) >= 0.42 with B02 < 0.15: 0; else
   ``p *= 1 - ramp(NDVI, 0.36, 0.42)``.
5. senescing vegetation: ``p *= 1 - ramp(B8A/B03, 1.5, 2.5)``.
6. soils: B02/B11 < 0.70 with B02 below clip(-0.40 B02/B11 + 0.46, 0.15, 0.32): 0; between 0.70
   and 1.0 ``p *= ramp(B02/B11, 0.70, 1.0)``.
7. water: B02/B11 > 4, B12 < clip(0.1 B02/B11 - 0.09, 0.07, 0.21), B8A < B04, B02 < 0.2: 0.
8. rocks and sand: B8A/B11 < 0.90 with B02 < clip(-0.25 B8A/B11 + 0.475, 0.16, 0.35) and
   B02 < 0.8 B11: 0; between 0.90 and 1.10 ``p *= ramp(B8A/B11, 0.90, 1.10)``.
9. ``p *= 1 - ramp(B04/B11, 3, 6)``.

A pixel is cloud at ``p >= 0.20``, Sen2Cor's medium-probability threshold (SCL classes 8 and 9).
Cloud shadow is Sen2Cor's radiometric test: every one of B02, B03, B04, B8A, B11, B12 darker than
its reference shadow spectrum (0.12, 0.08, 0.06, 0.10, 0.0545, 0.0255), water (B02/B11 > 6)
excluded. Sen2Cor also casts the cloud mask along the sun's direction to confirm shadows; the
reader confirms them by a cloud within reach instead (``reo_core.raster.cloud_reach``): a dark
pixel with no cloud near it is a dark surface (a humic lake is darker than the shadow reference in
every band), not a shadow.

Sen2Cor applies these tests to top-of-atmosphere reflectance; on L2A surface reflectance clouds
and shadows are as bright and as dark, the thresholds being far from the clear surfaces they
separate. Not detected: thin cirrus (Sen2Cor uses B10, which L2A products do not carry) and haze
too thin to brighten the red band. A product's SCL or a cloud mask does better than this screen.
"""

from __future__ import annotations

import numpy as np

SCREENING_NAME = "Sen2Cor-style spectral screening (Main-Knorn et al. 2017), per pixel"
REQUIRED_BANDS = ("B02", "B03", "B04", "B05", "B8A", "B11", "B12")
CLOUD_PROBABILITY = 0.20  # Sen2Cor's T_CLOUD_MP
SHADOW_REFERENCE = {
    "B02": 0.12,
    "B03": 0.08,
    "B04": 0.06,
    "B8A": 0.10,
    "B11": 0.0545,
    "B12": 0.0255,
}
WATER_B02_B11 = 6.0
_LOWEST = 1e-4  # denominators are at least this (Sen2Cor's LOWEST)


def ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 below ``low``, 1 above ``high``, linear between."""
    return (np.clip(x, low, high) - low) / (high - low)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a / np.maximum(b, _LOWEST)


def cloud_probability(r: dict[str, np.ndarray]) -> np.ndarray:
    """Sen2Cor's cloud probability (steps 1-9 above) from reflectance arrays keyed by band."""
    b02, b03, b04, b05, b8a, b11, b12 = (r[b] for b in REQUIRED_BANDS)
    p = ramp(b04, 0.06, 0.25) ** 2
    p[(b04 < 0.1) & (b8a > 0.04) & (b8a < 0.15)] = 0.0
    ndsi = _ratio(b03 - b11, b03 + b11)
    p *= ramp(ndsi, -0.24, -0.16)
    snow = ramp(ndsi, 0.35, 0.50) * ramp(b8a, 0.15, 0.35) * ramp(b02, 0.18, 0.22)
    snow *= ramp(_ratio(b02, b04), 0.85, 0.95)
    p[(snow > 0.12) & (_ratio(b05, b8a) >= 0.85)] = 0.0
    p *= _unless(_ratio(b8a - b04, b8a + b04), 0.36, 0.42, extra=b02 < 0.15)
    p *= _unless(_ratio(b8a, b03), 1.5, 2.5)
    p *= _soils(b02, b11)
    p[_water(b02, b04, b8a, b11, b12)] = 0.0
    p *= _rocks(b02, b8a, b11)
    p *= 1.0 - ramp(_ratio(b04, b11), 3.0, 6.0)
    return p


def cloud_pixels(r: dict[str, np.ndarray]) -> np.ndarray:
    """Cloud pixels (bool) from reflectance arrays keyed by band (NaN: not cloud)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        finite, safe = _finite(r)
        return finite & (cloud_probability(safe) >= CLOUD_PROBABILITY)


def screen(
    r: dict[str, np.ndarray], near_cloud: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(cloud, shadow) boolean arrays from reflectance arrays keyed by band (NaN: neither).

    Args:
        near_cloud: where a cloud lies near enough to cast a shadow (``reo_core.raster.
            cloud_reach``); a dark pixel elsewhere is not a shadow. None: shadows by darkness alone.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        finite, safe = _finite(r)
        cloud = finite & (cloud_probability(safe) >= CLOUD_PROBABILITY)
        dark = np.all([safe[b] < limit for b, limit in SHADOW_REFERENCE.items()], axis=0)
        water = _ratio(safe["B02"], safe["B11"]) > WATER_B02_B11
        shadow = finite & dark & ~water & ~cloud
    if near_cloud is not None:
        shadow &= near_cloud
    return cloud, shadow


def _finite(r: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Where every screening band holds a number, and the bands with 0 elsewhere."""
    finite = np.all([np.isfinite(r[b]) for b in REQUIRED_BANDS], axis=0)
    return finite, {b: np.where(finite, r[b], 0.0) for b in REQUIRED_BANDS}


def _unless(
    index: np.ndarray, low: float, high: float, extra: np.ndarray | None = None
) -> np.ndarray:
    """Factor of a test that rules clouds out above ``high`` (with ``extra``) and ramps between."""
    level = ramp(index, low, high)
    factor = 1.0 - level
    if extra is not None:  # at the top of the ramp without ``extra`` the test says nothing
        factor = np.where((level >= 1.0) & ~extra, 1.0, factor)
    return factor


def _soils(b02: np.ndarray, b11: np.ndarray) -> np.ndarray:
    ratio = np.clip(_ratio(b02, b11), 0.0, 100.0)
    below = b02 < np.clip(-0.40 * ratio + 0.46, 0.15, 0.32)
    factor = np.ones_like(b02)
    factor[below & (ratio < 0.70)] = 0.0
    between = below & (ratio > 0.70) & (ratio < 1.0)
    factor[between] = ramp(ratio[between], 0.70, 1.0)
    return factor


def _water(
    b02: np.ndarray, b04: np.ndarray, b8a: np.ndarray, b11: np.ndarray, b12: np.ndarray
) -> np.ndarray:
    ratio = _ratio(b02, b11)
    b12_limit = np.clip(0.1 * ratio - 0.09, 0.07, 0.21)
    return (ratio > 4.0) & (b12 < b12_limit) & (b8a < b04) & (b02 < 0.2)


def _rocks(b02: np.ndarray, b8a: np.ndarray, b11: np.ndarray) -> np.ndarray:
    ratio = _ratio(b8a, b11)
    below = b02 < np.clip(-0.25 * ratio + 0.475, 0.16, 0.35)
    factor = np.ones_like(b02)
    factor[below & (ratio < 0.90) & (b02 < 0.8 * b11)] = 0.0
    between = below & (ratio > 0.90) & (ratio < 1.10)
    factor[between] = ramp(ratio[between], 0.90, 1.10)
    return factor
