"""Biomes: landscape types that set the class mix, farming, settlement, water, tree heights and terrain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Biome:
    """A landscape type: the mix of natural classes and how much farming, settlement and water."""

    name: str
    weights: dict[int, float]  # area share of natural classes (normalised), before overlays
    cropland: float  # share of the scene in the agricultural zone
    towns_per_100km2: float
    river: bool
    lake_fraction: float
    height_factor: float  # scales canopy heights (tropical forests are taller)
    elevation_m: float  # mean terrain height
    relief_m: float  # terrain height variation (std)


BIOMES: dict[str, Biome] = {
    b.name: b
    for b in (
        Biome("temperate", {111: 0.16, 114: 0.14, 115: 0.16, 116: 0.04, 121: 0.03, 124: 0.06, 126: 0.03, 20: 0.07, 30: 0.22, 60: 0.04, 90: 0.05}, 0.25, 2.0, True, 0.01, 1.0, 700.0, 250.0),
        Biome("tropical", {112: 0.55, 116: 0.08, 126: 0.06, 20: 0.08, 30: 0.12, 60: 0.03, 90: 0.08}, 0.12, 1.0, True, 0.005, 1.1, 120.0, 40.0),
        Biome("mediterranean", {111: 0.10, 115: 0.08, 121: 0.08, 124: 0.08, 126: 0.06, 20: 0.28, 30: 0.20, 60: 0.12}, 0.25, 2.0, False, 0.01, 0.8, 400.0, 200.0),
        Biome("savanna", {116: 0.05, 121: 0.02, 124: 0.14, 126: 0.16, 20: 0.25, 30: 0.28, 60: 0.05, 90: 0.05}, 0.20, 1.0, True, 0.02, 0.85, 1200.0, 100.0),
    )
}  # fmt: skip
