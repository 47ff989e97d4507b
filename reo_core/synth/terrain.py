"""Terrain height: the biome's mean elevation plus smooth hills."""

from __future__ import annotations

import numpy as np

from reo_core.synth.biomes import Biome
from reo_core.synth.fields import gaussian_field


def simulate_elevation(
    shape: tuple[int, int], biome: Biome, rng: np.random.Generator
) -> np.ndarray:
    """Terrain height (m): the biome's mean plus smooth hills. Returns (H, W) float32."""
    hills = 0.85 * gaussian_field(shape, 120.0, rng) + 0.3 * gaussian_field(shape, 25.0, rng)
    return (biome.elevation_m + biome.relief_m * hills).astype(np.float32)
