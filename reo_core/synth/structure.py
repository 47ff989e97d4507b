"""Vegetation structure and biomass: canopy cover ``fc``, canopy height ``h`` and allometric AGB.

Cover (0..1) and height (m) per pixel come from class means, smooth fields (stand quality raises
cover and height together) and pixel noise. AGB (Mg/ha) = ``a(class) * fc * h**1.5``, clipped to
0..500: closed forests ~150-350, open forests ~50-120, shrubs ~10-40, grass and crops ~2-10,
urban, water and bare land ~0-5.
"""

from __future__ import annotations

import numpy as np

from reo_core.synth.biomes import Biome
from reo_core.synth.class_traits import CLASS_TRAITS
from reo_core.synth.fields import gaussian_field

AGB_EXPONENT = 1.5
AGB_MAX = 500.0


def _trait_table(attribute: str) -> np.ndarray:
    """A (256,) lookup table of one ClassTraits attribute by class code (0 for unused codes)."""
    table = np.zeros(256, dtype=np.float32)
    for code, traits in CLASS_TRAITS.items():
        table[code] = getattr(traits, attribute)
    return table


def simulate_structure(
    classes: np.ndarray,
    crop_cover: np.ndarray,
    biome: Biome,
    rng: np.random.Generator,
    herb_green: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Canopy cover fc (0..1) and canopy height h (m) per pixel.

    A shared "stand quality" field makes dense stands also tall; crop fields take their field's
    fc, thinned out of season (``herb_green`` < 1: stubble and winter cereals), and a height that
    grows with it. Trees keep their wood (and AGB) through the year.

    Returns:
        (cover, height), each (H, W) float32.
    """
    shape = classes.shape
    quality = gaussian_field(shape, 12.0, rng)
    cover_field = 0.6 * quality + 0.8 * gaussian_field(shape, 6.0, rng)
    cover = _trait_table("cover")[classes] + _trait_table("cover_sd")[classes] * (
        cover_field + 0.5 * rng.standard_normal(shape)
    )
    crops = np.isfinite(crop_cover)
    in_season = 0.25 + 0.75 * herb_green
    cover[crops] = in_season * crop_cover[crops] + 0.04 * rng.standard_normal(int(crops.sum()))
    cover = np.clip(cover, 0.0, 1.0)
    height_field = 0.7 * quality + 0.7 * gaussian_field(shape, 10.0, rng)
    spread = _trait_table("height_sd")[classes]
    height = (
        _trait_table("height_m")[classes]
        * biome.height_factor
        * np.exp(spread * (height_field + 0.4 * rng.standard_normal(shape)))
    )
    height[crops] = 1.2 * cover[crops]  # crops grow taller as they green up
    return cover.astype(np.float32), height.astype(np.float32)


def allometric_agb(classes: np.ndarray, cover: np.ndarray, height: np.ndarray) -> np.ndarray:
    """AGB (Mg/ha) = ``a(class) * fc * h**1.5``, clipped to 0..500.

    Returns:
        float32 array, shape of ``classes``.
    """
    agb = _trait_table("allometry")[classes] * cover * np.power(height, AGB_EXPONENT)
    return np.clip(agb, 0.0, AGB_MAX).astype(np.float32)
