"""Terrain: height (the biome's mean plus smooth hills) and how the sun lights each slope."""

from __future__ import annotations

import numpy as np

from reo_core.synth.biomes import Biome
from reo_core.synth.fields import gaussian_field
from reo_core.synth.location import RESOLUTION_M

# Sen2Cor's terrain correction removes part of the slope effect; this share remains in L2A.
TERRAIN_RESIDUAL = 0.5
ILLUMINATION_LIMITS = (0.25, 1.75)  # shaded slopes keep sky light; no slope is lit twice over


def simulate_elevation(
    shape: tuple[int, int], biome: Biome, rng: np.random.Generator
) -> np.ndarray:
    """Terrain height (m): the biome's mean plus smooth hills. Returns (H, W) float32."""
    hills = 0.85 * gaussian_field(shape, 120.0, rng) + 0.3 * gaussian_field(shape, 25.0, rng)
    return (biome.elevation_m + biome.relief_m * hills).astype(np.float32)


def illumination(
    elevation: np.ndarray,
    sun_elevation_deg: float,
    sun_azimuth_deg: float,
    residual: float = TERRAIN_RESIDUAL,
) -> np.ndarray:
    """Brightness factor of each pixel's slope relative to flat ground, as left in L2A.

    ``cos i = cos z cos s + sin z sin s cos(a_sun - a_slope)`` (z solar zenith, s slope, a azimuths
    clockwise from north, a_slope the downslope direction); the factor is
    ``1 + residual * (cos i / cos z - 1)``, clipped to :data:`ILLUMINATION_LIMITS`.

    Args:
        elevation: (H, W) metres on the 10 m grid, rows running south.
    Returns:
        float32 array, shape (H, W).
    """
    rise_south, rise_east = np.gradient(elevation.astype(np.float64), RESOLUTION_M)
    down_north, down_east = rise_south, -rise_east  # the downslope direction's components
    slope = np.arctan(np.hypot(rise_south, rise_east))
    aspect = np.arctan2(down_east, down_north)
    zenith = np.radians(90.0 - max(sun_elevation_deg, 1.0))
    cos_i = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(
        np.radians(sun_azimuth_deg) - aspect
    )
    factor = 1.0 + residual * (cos_i / np.cos(zenith) - 1.0)
    return np.clip(factor, *ILLUMINATION_LIMITS).astype(np.float32)
