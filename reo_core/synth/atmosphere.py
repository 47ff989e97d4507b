"""What lies between the ground and the L2A product: haze, clouds and their shadows, the swath edge.

Residual haze (aerosols Sen2Cor's correction left) adds a blue-heavy veil that varies smoothly over
the scene (:data:`spectra.HAZE`). Clouds (bright, flat spectra) cover about ``cloud_fraction`` of
the scene, their shadows fall displaced from them, and a no-data wedge (orbit edge) blanks ~3% in
one corner. The scene classification (SCL) is made from the observed spectra, as Sen2Cor does.
These touch the Sentinel-2 data only; truth and SAR are cloud-free.
"""

from __future__ import annotations

import math

import numpy as np

from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.synth import spectra
from reo_core.synth.fields import gaussian_field, quantile_threshold, ramp

NODATA_WEDGE_FRACTION = 0.03


def simulate_haze(shape: tuple[int, int], level: float, rng: np.random.Generator) -> np.ndarray:
    """Haze amount per pixel, 0..``level``: smooth banks some kilometres across over a thin veil.

    Returns:
        float32 array, shape (H, W).
    """
    banks = ramp(gaussian_field(shape, 60.0, rng), -1.0, 1.5)
    return (level * (0.2 + 0.8 * banks)).astype(np.float32)


def apply_haze(surface: np.ndarray, haze: np.ndarray) -> np.ndarray:
    """Add the haze veil: ``R_b + haze * HAZE_b`` (path radiance does not depend on the ground).

    Args:
        surface: (bands, H, W) reflectance in AGBD band order.
    """
    veil = spectra.spectrum(spectra.HAZE)[:, None, None]
    return (surface + haze[None] * veil).astype(np.float32)


def simulate_clouds(
    shape: tuple[int, int], fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Cloud opacity (0..1) covering ``fraction`` of the scene, and cloud-shadow strength (0..1).

    Cloud edges are thin (opacity from 0.15), cores opaque. Shadows are the cloud pattern moved
    400-800 m away from the sun (north-west-ish for a morning descending pass); the fields are
    periodic, so the shifted pattern is still a valid field.

    Returns:
        (opacity, shadow), each (H, W) float32.
    """
    field = 0.85 * gaussian_field(shape, 25.0, rng) + 0.5 * gaussian_field(shape, 5.0, rng)
    threshold = quantile_threshold(field, fraction)
    opacity = np.where(field > threshold, 0.15 + 0.85 * ramp(field, threshold, threshold + 0.8), 0)
    distance = rng.uniform(40.0, 80.0)
    azimuth = math.pi / 4 + rng.uniform(-math.pi / 6, math.pi / 6)
    offset = (-round(distance * math.cos(azimuth)), -round(distance * math.sin(azimuth)))
    shadow = np.roll(opacity, offset, axis=(0, 1)) * (opacity == 0)
    return opacity.astype(np.float32), shadow.astype(np.float32)


def apply_clouds(
    surface: np.ndarray, opacity: np.ndarray, shadow: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Observed reflectance: shadows keep only diffuse sky light; clouds blend in a bright spectrum.

    Args:
        surface: (bands, H, W) cloud-free reflectance in AGBD band order.
    Returns:
        float32 array, shape (bands, H, W).
    """
    cloud = spectra.spectrum(spectra.CLOUD)[:, None, None]
    brightness = 1.0 + 0.12 * gaussian_field(opacity.shape, 8.0, rng)
    observed = surface * (1.0 - 0.65 * shadow)
    observed = (1.0 - opacity) * observed + opacity * cloud * brightness
    return observed.astype(np.float32)


def nodata_wedge(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A right triangle of no data (~3% of the scene) in a random corner, like a swath edge.

    Returns:
        bool array, shape (H, W).
    """
    height, width = shape
    leg_x = rng.uniform(0.15, 0.3)
    leg_y = 2.0 * NODATA_WEDGE_FRACTION / leg_x  # area leg_x * leg_y / 2
    corner = int(rng.integers(4))
    v = (np.arange(height) + 0.5) / height
    u = (np.arange(width) + 0.5) / width
    v = v[::-1] if corner & 1 else v
    u = u[::-1] if corner & 2 else u
    return u[None, :] / leg_x + v[:, None] / leg_y < 1.0


def scene_classification(
    observed: np.ndarray, opacity: np.ndarray, shadow: np.ndarray, nodata: np.ndarray
) -> np.ndarray:
    """Sen2Cor-like SCL: 0 no data, 3 cloud shadow, 4 vegetation, 5 not vegetated, 6 water,
    8/9 cloud, 11 snow.

    Like Sen2Cor it looks at the observed spectra (NDVI, NDWI, NDSI), so thin cloud edges
    (opacity < 0.25), weak shadows and haze slip through as surface classes.

    Returns:
        uint8 array, shape (H, W).
    """
    band = {name: i for i, name in enumerate(AGBD_BAND_ORDER)}
    red, green, nir = observed[band["B04"]], observed[band["B03"]], observed[band["B08"]]
    swir = observed[band["B11"]]
    scl = np.full(opacity.shape, 5, dtype=np.uint8)
    scl[spectra.ndvi(red, nir) > 0.4] = 4
    scl[((spectra.ndwi(green, nir) > 0.2) | (spectra.ndvi(red, nir) < 0.1)) & (nir < 0.06)] = 6
    scl[(spectra.ndsi(green, swir) > 0.4) & (green > 0.3)] = 11
    scl[shadow > 0.3] = 3
    scl[opacity >= 0.25] = 8
    scl[opacity >= 0.6] = 9
    scl[nodata] = 0
    return scl
