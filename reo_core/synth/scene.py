"""The synthetic scene: land cover, vegetation, AGB, Sentinel-2 L2A and PALSAR-2 with known truth.

Everything lives on one 10 m UTM grid (:mod:`~reo_core.synth.location`) and follows from a seed;
each step draws from its own random stream, so changing one step leaves the others alone:

1. Terrain height (:mod:`~reo_core.synth.terrain`) and the acquisition: its date sets the sun,
   leaf-off, dry herbs, the snow line and the haze (:mod:`~reo_core.synth.season`).
2. Land cover (CGLS-LC100 codes) from the biome's class mix, with crop fields, towns, a river and
   a lake overlaid, and altitude zones in mountains (:mod:`~reo_core.synth.landcover_map`,
   :mod:`~reo_core.synth.biomes`).
3. Vegetation structure per pixel, canopy cover ``fc`` (0..1) and canopy height ``h`` (m), and
   AGB (Mg/ha) = ``a(class) * fc * h**1.5`` (:mod:`~reo_core.synth.structure`,
   :mod:`~reo_core.synth.class_traits`).
4. Sentinel-2 surface reflectance by mixing canopy and background endmembers with the season and
   the snow, lit by the slopes (:mod:`~reo_core.synth.optical`); then haze, clouds, cloud shadows,
   a no-data wedge and the SCL (:mod:`~reo_core.synth.atmosphere`). These touch the Sentinel-2 data
   only; truth and SAR are cloud-free.
5. PALSAR-2 gamma0 by a water-cloud model, averaged onto JAXA's mosaic grid and speckled
   (:mod:`~reo_core.synth.radar`).

This module holds the :class:`Scene`, :func:`simulate_scene` that makes one, and the per-patch
truth on AGBD's 25 x 25 patch grid.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import Affine

from reo_core.errors import InputError
from reo_core.landcover import CLASSES, NODATA_CODE, count_patches, dominant_class
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.raster.grid import PatchGrid, PixelGrid
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.synth.atmosphere import (
    apply_clouds,
    apply_haze,
    nodata_wedge,
    scene_classification,
    simulate_clouds,
    simulate_haze,
)
from reo_core.synth.biomes import BIOMES, Biome
from reo_core.synth.fields import block_mode
from reo_core.synth.landcover_map import simulate_landcover
from reo_core.synth.location import RESOLUTION_M, SceneLocation, scene_transform
from reo_core.synth.optical import apply_terrain, snow_cover, surface_reflectance
from reo_core.synth.radar import backscatter_db, simulate_palsar
from reo_core.synth.season import DAYS_IN_YEAR, Acquisition, acquisition
from reo_core.synth.structure import allometric_agb, simulate_structure
from reo_core.synth.terrain import illumination, simulate_elevation

MIN_SIZE_KM, MAX_SIZE_KM = 0.25, 20.0  # one patch .. what fits comfortably in memory
MAX_CLOUD_FRACTION = 0.9
LC100_FACTOR = 10  # 100 m land-cover pixels hold 10 x 10 pixels of 10 m


@dataclass
class Scene:
    """One simulated scene on a ``height`` x ``width`` grid of 10 m pixels; truth known exactly.

    Arrays (H, W) unless noted. Sentinel-2 arrays are in ``band_order``.
    """

    seed: int
    size_km: float
    biome: str
    location: SceneLocation
    cloud_fraction: float
    acquisition: Acquisition  # date, sun, season, snow line, haze
    transform: Affine  # 10 m grid, top-left corner
    landcover: np.ndarray  # uint8 CGLS-LC100 codes (truth, no no-data)
    canopy_cover: np.ndarray  # float32 fc, 0..1
    canopy_height: np.ndarray  # float32 m
    agb: np.ndarray  # float32 Mg/ha, 0..500
    elevation: np.ndarray  # float32 m
    illumination: np.ndarray  # float32 brightness of the slope relative to flat ground
    snow: np.ndarray  # float32 snow on the ground, 0..1
    haze: np.ndarray  # float32 residual haze, 0..1
    reflectance: np.ndarray  # (bands, H, W) float32 observed L2A reflectance; NaN = no data
    cloud: np.ndarray  # float32 cloud opacity 0..1
    shadow: np.ndarray  # float32 cloud-shadow strength 0..1
    nodata: np.ndarray  # bool, the orbit-edge wedge
    scl: np.ndarray  # uint8 Sen2Cor scene classification at 10 m
    hh_db: np.ndarray  # float32 noise-free gamma0 HH on the 10 m grid
    hv_db: np.ndarray  # float32 noise-free gamma0 HV on the 10 m grid
    palsar_transform: Affine  # EPSG:4326 grid of 1/4500 degree
    palsar_hh_dn: np.ndarray  # (h, w) uint16 JAXA mosaic DN with speckle, 0 = no data
    palsar_hv_dn: np.ndarray  # (h, w) uint16
    lc100: np.ndarray  # (ceil(H/10), ceil(W/10)) uint8 mode of 10 x 10 blocks
    lc100_share: np.ndarray  # same shape, uint8 percent of the block in its mode class
    band_order: tuple[str, ...] = AGBD_BAND_ORDER

    @property
    def crs(self) -> CRS:
        return CRS.from_epsg(self.location.epsg)

    @property
    def height(self) -> int:
        return int(self.landcover.shape[0])

    @property
    def width(self) -> int:
        return int(self.landcover.shape[1])

    @property
    def pixel_grid(self) -> PixelGrid:
        return PixelGrid(self.crs, self.transform, self.width, self.height)

    @property
    def patch_grid(self) -> PatchGrid:
        """25 x 25 patches, stride 25, from the top-left corner."""
        return PatchGrid(self.pixel_grid, PATCH_SIZE, PATCH_SIZE)


def simulate_scene(
    size_km: float = 10.0,
    seed: int = 0,
    *,
    biome: str = "temperate",
    cloud_fraction: float = 0.05,
    location: SceneLocation | None = None,
    day_of_year: int | None = None,
) -> Scene:
    """Simulate a ``size_km`` x ``size_km`` scene; the same arguments always give the same arrays.

    Args:
        size_km: side length, a multiple of 10 m between 0.25 and 20 km.
        seed: non-negative integer; it also shifts the scene inside its MGRS square.
        biome: a key of :data:`BIOMES` (class mix, farming, water, tree heights, seasons).
        cloud_fraction: share of the scene under cloud, 0..0.9.
        location: MGRS tile and UTM zone the scene lies in; None: the biome's ``home``.
        day_of_year: acquisition date, 1..365; None: the biome's growing season (``peak_day``).
    """
    n_px, chosen = _validate(size_km, seed, biome, cloud_fraction, day_of_year)
    shape = (n_px, n_px)
    location = location or chosen.home
    transform = scene_transform(location, n_px, _stream(seed, "origin"))
    day = chosen.peak_day if day_of_year is None else int(day_of_year)
    acq = acquisition(chosen, location, day, _stream(seed, "acquisition"))
    elevation = simulate_elevation(shape, chosen, _stream(seed, "terrain"))
    landcover, crop_cover = simulate_landcover(shape, chosen, _stream(seed, "landcover"), elevation)
    cover, height = simulate_structure(
        landcover, crop_cover, chosen, _stream(seed, "structure"), acq.herb_green
    )
    agb = allometric_agb(landcover, cover, height)
    snow = snow_cover(landcover, elevation, acq, _stream(seed, "snow"))
    lit = illumination(elevation, acq.sun_elevation_deg, acq.sun_azimuth_deg)
    surface = surface_reflectance(landcover, cover, height, snow, acq, _stream(seed, "reflectance"))
    haze = simulate_haze(shape, acq.haze, _stream(seed, "haze"))
    surface = apply_haze(apply_terrain(surface, lit * acq.view_gain), haze)
    cloud, shadow = simulate_clouds(shape, cloud_fraction, _stream(seed, "clouds"))
    observed = apply_clouds(surface, cloud, shadow, _stream(seed, "cloud brightness"))
    nodata = nodata_wedge(shape, _stream(seed, "wedge"))
    observed[:, nodata] = np.nan
    hh_db, hv_db = backscatter_db(landcover, agb, _stream(seed, "sar"))
    crs = CRS.from_epsg(location.epsg)
    palsar_transform, palsar_dn = simulate_palsar(
        {"HH": hh_db, "HV": hv_db}, crs, transform, _stream(seed, "speckle")
    )
    lc100, share = block_mode(landcover, LC100_FACTOR, NODATA_CODE)
    return Scene(
        seed=seed,
        size_km=n_px * RESOLUTION_M / 1000.0,
        biome=chosen.name,
        location=location,
        cloud_fraction=cloud_fraction,
        acquisition=acq,
        transform=transform,
        landcover=landcover,
        canopy_cover=cover,
        canopy_height=height,
        agb=agb,
        elevation=elevation,
        illumination=lit,
        snow=snow,
        haze=haze,
        reflectance=observed,
        cloud=cloud,
        shadow=shadow,
        nodata=nodata,
        scl=scene_classification(observed, cloud, shadow, nodata),
        hh_db=hh_db,
        hv_db=hv_db,
        palsar_transform=palsar_transform,
        palsar_hh_dn=palsar_dn["HH"],
        palsar_hv_dn=palsar_dn["HV"],
        lc100=lc100,
        lc100_share=np.round(share * 100).astype(np.uint8),
    )


def _validate(
    size_km: float, seed: int, biome: str, cloud_fraction: float, day_of_year: int | None
) -> tuple[int, Biome]:
    """Check the user's arguments; return the side in pixels and the biome."""
    if not MIN_SIZE_KM <= size_km <= MAX_SIZE_KM:
        raise InputError(
            f"The scene size must be between {MIN_SIZE_KM} and {MAX_SIZE_KM} km, got {size_km}; "
            "change --size-km."
        )
    n_px = round(size_km * 1000.0 / RESOLUTION_M)
    if abs(n_px * RESOLUTION_M - size_km * 1000.0) > 1e-6:
        raise InputError(f"The scene size must be a multiple of 10 m, got {size_km} km.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"The seed must be a non-negative integer, got {seed!r}.")
    if not 0.0 <= cloud_fraction <= MAX_CLOUD_FRACTION:
        raise InputError(
            f"The cloud fraction must be between 0 and {MAX_CLOUD_FRACTION}, got {cloud_fraction}."
        )
    if biome not in BIOMES:
        raise InputError(f"Unknown biome '{biome}'; use one of: {', '.join(BIOMES)}.")
    if day_of_year is not None and not 1 <= int(day_of_year) <= DAYS_IN_YEAR:
        raise InputError(
            f"The day of year must be between 1 and {DAYS_IN_YEAR}, got {day_of_year}."
        )
    return n_px, BIOMES[biome]


def _stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator per simulation step, so changing one step leaves the others
    alone."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


# ---------------------------------------------------------------------------------- patch labels


def patch_windows(scene: Scene) -> tuple[int, int]:
    """(rows, cols) of whole 25 x 25 patches, stride 25, from the scene's top-left corner."""
    return scene.height // PATCH_SIZE, scene.width // PATCH_SIZE


def _patches(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(H, W) -> (rows, cols, 25, 25) views of the patch grid."""
    cut = values[: rows * PATCH_SIZE, : cols * PATCH_SIZE]
    return cut.reshape(rows, PATCH_SIZE, cols, PATCH_SIZE).swapaxes(1, 2)


def centre_agb(agb: np.ndarray) -> np.ndarray:
    """AGBD's label: mean AGB over the centre 3 x 3 pixels (GEDI's ~25 m footprint at [12, 12]).

    Args:
        agb: (..., 25, 25) patches.
    Returns:
        float32 array, shape (...).
    """
    lo, hi = PATCH_SIZE // 2 - 1, PATCH_SIZE // 2 + 2
    return agb[..., lo:hi, lo:hi].mean(axis=(-2, -1)).astype(np.float32)


def lc100_at_10m(scene: Scene) -> np.ndarray:
    """The 100 m land-cover map upsampled (nearest) to the 10 m grid. Returns (H, W) uint8."""
    up = np.repeat(np.repeat(scene.lc100, LC100_FACTOR, axis=0), LC100_FACTOR, axis=1)
    return up[: scene.height, : scene.width]


def patch_truth(scene: Scene) -> dict[str, np.ndarray]:
    """Per-patch truth on the 250 m patch grid.

    Returns:
        {'agb': float32 centre 3x3 mean, 'landcover': uint8 dominant class of the 10 m map,
         'count': uint8 connected regions of the LC100 map upsampled to 10 m}, each (rows, cols).
    """
    rows, cols = patch_windows(scene)
    coarse = _patches(lc100_at_10m(scene), rows, cols)
    return {
        "agb": centre_agb(_patches(scene.agb, rows, cols)),
        "landcover": dominant_class(_patches(scene.landcover, rows, cols)).astype(np.uint8),
        "count": count_patches(coarse).astype(np.uint8),
    }


def class_fractions(scene: Scene) -> dict[int, float]:
    """Share of the scene's 10 m pixels in each land-cover class present."""
    counts = np.bincount(scene.landcover.ravel(), minlength=256)
    total = counts.sum()
    return {code: float(counts[code] / total) for code in CLASSES if counts[code] > 0}
