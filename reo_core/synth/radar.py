"""PALSAR-2 observations: water-cloud backscatter, the JAXA mosaic grid and speckle.

Gamma0 follows a water-cloud model, ``s = s_veg (1 - t2) + s_ground t2`` with two-way canopy
transmissivity ``t2 = exp(-0.02 AGB)``: HV rises from ~-25 dB (bare) to ~-12 dB and saturates
above ~100-150 Mg/ha, HH ~5-7 dB higher; water is dark, towns bright (double bounce). It is
averaged onto JAXA's mosaic grid (EPSG:4326, 1/4500 degree) and multiplied there by gamma
speckle of a few looks.
"""

from __future__ import annotations

import math

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.warp import Resampling, reproject, transform_bounds

from reo_core.sensors.palsar2 import POLARISATIONS, db_to_dn, db_to_linear, linear_to_db
from reo_core.synth.fields import gaussian_field

PALSAR_PIXEL_DEG = 1.0 / 4500.0  # JAXA yearly mosaic grid (~25 m)
PALSAR_MARGIN_PX = 2
PALSAR_LOOKS = 5
SAR_EXTINCTION = 0.02  # two-way canopy attenuation per Mg/ha: saturation above ~100-150 Mg/ha
SAR_VEGETATION_DB = {"HH": -6.5, "HV": -12.0}  # volume scattering of a dense canopy
SAR_SOIL_DB = {"HH": -18.0, "HV": -25.0}
# Ground terms that differ from soil: specular water, double bounce in towns and flooded reeds.
SAR_GROUND_DB = {
    80: {"HH": -25.0, "HV": -31.0},
    50: {"HH": -3.0, "HV": -12.0},
    90: {"HH": -12.0, "HV": -23.0},
}
# Water and walls reflect specularly: soil moisture does not change them.
SAR_MOISTURE_FREE = (80, 50)


def backscatter_db(
    classes: np.ndarray, agb: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free gamma0 (dB) of HH and HV by the water-cloud model (module docstring).

    Soil moisture and roughness vary the ground term (+-1.5 dB, smooth); stand structure varies the
    volume term (+-0.6 dB).

    Returns:
        (hh_db, hv_db), each (H, W) float32.
    """
    moisture = 1.5 * gaussian_field(classes.shape, 30.0, rng)
    structure = 0.6 * gaussian_field(classes.shape, 8.0, rng)
    transmissivity = np.exp(-SAR_EXTINCTION * agb)  # two-way, through the canopy
    result = []
    for pol in POLARISATIONS:
        ground = np.full(256, SAR_SOIL_DB[pol], dtype=np.float32)
        for code, values in SAR_GROUND_DB.items():
            ground[code] = values[pol]
        moist = np.where(np.isin(classes, SAR_MOISTURE_FREE), 0.0, moisture)
        volume = db_to_linear(SAR_VEGETATION_DB[pol] + structure)
        soil = db_to_linear(ground[classes] + moist)
        sigma = volume * (1.0 - transmissivity) + soil * transmissivity
        result.append(linear_to_db(sigma))
    return result[0], result[1]


def palsar_grid(crs: CRS, bounds: tuple[float, float, float, float]) -> tuple[Affine, int, int]:
    """The JAXA mosaic grid (EPSG:4326, 1/4500 degree, aligned on whole degrees) over ``bounds``.

    Args:
        bounds: (left, bottom, right, top) in ``crs``; the grid covers them plus a 2-pixel margin.
    Returns:
        (transform, width, height).
    """
    west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
    col0 = math.floor(west / PALSAR_PIXEL_DEG) - PALSAR_MARGIN_PX
    col1 = math.ceil(east / PALSAR_PIXEL_DEG) + PALSAR_MARGIN_PX
    row0 = math.ceil(north / PALSAR_PIXEL_DEG) + PALSAR_MARGIN_PX  # north edge, in pixels
    row1 = math.floor(south / PALSAR_PIXEL_DEG) - PALSAR_MARGIN_PX
    step = PALSAR_PIXEL_DEG
    transform = Affine(step, 0.0, col0 * step, 0.0, -step, row0 * step)
    return transform, col1 - col0, row0 - row1


def simulate_palsar(
    db_10m: dict[str, np.ndarray], crs: CRS, transform: Affine, rng: np.random.Generator
) -> tuple[Affine, dict[str, np.ndarray]]:
    """The PALSAR-2 mosaic product: gamma0 averaged (in linear power) onto the JAXA grid, speckled.

    Speckle is multiplicative, gamma-distributed with mean 1 and ``PALSAR_LOOKS`` looks. Mosaic
    pixels outside the scene (the margin) are no data (DN 0).

    Args:
        db_10m: polarisation -> gamma0 (dB) on the 10 m grid, each (H, W).
    Returns:
        (transform of the EPSG:4326 grid, polarisation -> uint16 DN array (h, w)).
    """
    height, width = next(iter(db_10m.values())).shape
    bounds = (
        transform.c,
        transform.f + height * transform.e,
        transform.c + width * transform.a,
        transform.f,
    )
    dst_transform, dst_width, dst_height = palsar_grid(crs, bounds)
    products = {}
    for pol, db in db_10m.items():
        linear = np.full((dst_height, dst_width), np.nan, dtype=np.float32)
        reproject(
            db_to_linear(db),
            linear,
            src_transform=transform,
            src_crs=crs,
            dst_transform=dst_transform,
            dst_crs="EPSG:4326",
            src_nodata=np.nan,
            dst_nodata=np.nan,
            resampling=Resampling.average,
        )
        speckle = rng.gamma(PALSAR_LOOKS, 1.0 / PALSAR_LOOKS, size=linear.shape)
        products[pol] = db_to_dn(linear_to_db(linear * speckle))
    return dst_transform, products
