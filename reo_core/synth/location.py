"""Where a scene lies: its MGRS tile and UTM zone, and the 10 m grid placed by the seed inside
it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rasterio.transform import Affine

RESOLUTION_M = 10.0
# Scene corners on multiples of 1500 m: of 60 m, so the 20 m and 60 m bands align with the 10 m
# grid, and of 250 m (reo_core.patch_lattice), so the truth's 250 m patch rasters are the cells of
# REO's own output grid over the scene.
ORIGIN_STEP_M = 1500.0
MGRS_SQUARE_M = 100_000.0


@dataclass(frozen=True)
class SceneLocation:
    """Where a scene lies: a Sentinel-2 MGRS tile, its UTM zone and its 100 km square's corner."""

    tile: str  # e.g. '32TNN'
    epsg: int  # UTM zone of the tile, e.g. 32632
    square_left: float  # easting of the MGRS 100 km square's west edge (m)
    square_bottom: float  # northing of its south edge (m)


# MGRS square 32TNN (northern Italy/Ligurian coast): easting 500-600 km, northing 4700-4800 km.
DEFAULT_LOCATION = SceneLocation("32TNN", 32632, 500_000.0, 4_700_000.0)


def scene_transform(location: SceneLocation, n_px: int, rng: np.random.Generator) -> Affine:
    """Top-left corner on the :data:`ORIGIN_STEP_M` grid, placed by the seed inside the MGRS
    100 km square."""
    room = int((MGRS_SQUARE_M - n_px * RESOLUTION_M) // ORIGIN_STEP_M) - 1
    left = math.ceil(location.square_left / ORIGIN_STEP_M) * ORIGIN_STEP_M
    top = math.floor((location.square_bottom + MGRS_SQUARE_M) / ORIGIN_STEP_M) * ORIGIN_STEP_M
    left += ORIGIN_STEP_M * int(rng.integers(0, room + 1))
    top -= ORIGIN_STEP_M * int(rng.integers(0, room + 1))
    return Affine(RESOLUTION_M, 0.0, left, 0.0, -RESOLUTION_M, top)
