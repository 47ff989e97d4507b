"""The ground as Sentinel-2 L2A sees it: canopy and background mixed, with seasons, snow and slopes.

Surface reflectance per band =
``(fc_v * canopy_b(season) * crowns * shade + (1 - fc_v) * background_b * soil) * terrain``
+ sensor noise. ``crowns`` is a pixel-scale crown/gap pattern whose contrast grows with ``h``
(taller canopies are rougher) and ``shade`` darkens NIR/SWIR of tall canopies, so AGB shows in
vegetation indices (through fc), texture and shadowing (through h) and class spectra together,
never in one band alone. The season turns deciduous crowns to bare branches and opens them
(``fc_v < fc``: leaf-off forests look sparser than they are), dries herbs, and snow buries low
vegetation and whitens the ground between crowns. Soils are darker or brighter from scene to
scene, and slopes facing the sun are brighter (``reo_core.synth.terrain.illumination``), so one
band's brightness says little by itself.
"""

from __future__ import annotations

import numpy as np

from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.synth import spectra
from reo_core.synth.class_traits import CLASS_TRAITS, LEAF_OFF_OPENING
from reo_core.synth.fields import gaussian_field
from reo_core.synth.season import Acquisition

CROWN_SHADOW = 0.5  # how far tree shadows reach over the ground per unit cover and tan(sun)
DIFFUSE_LIGHT = 0.3  # share of the ground's light that comes from the sky, not the sun
# Crowns shade themselves more as the sun sinks below the height the endmembers were read at.
CROWN_SELF_SHADE = 0.2
ENDMEMBER_SUN_ELEVATION = 55.0
CROWN_SNOW = 0.45  # share of a tree crown's top under snow where snow lies (winter conifers)
TREE_HEIGHT_M = 5.0  # taller canopies are crowns that hold snow; lower ones are buried
SOIL_BRIGHTNESS = (0.8, 1.3)  # range of a scene's soil brightness (dark loams .. pale sands)
SNOW_EDGE_M = 150.0  # the snow line is ragged over this height
BURIED = {"herb": 0.1, "crop": 0.1}  # share of low vegetation still showing above the snow
NO_SNOW_CLASSES = (50,)
MOIST_BACKGROUNDS = (
    "soil",
    "litter",
    "dry_grass",
)  # backgrounds that soak up water  # towns are cleared and heated: half snow at most


def canopy_spectra(acq: Acquisition, bands: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per class code: the canopy spectrum of this acquisition, and its visible-cover factor.

    Returns:
        (spectra (256, bands) float32, cover factor (256,) float32); unused codes are 0.
    """
    table = np.zeros((256, len(bands)), dtype=np.float32)
    cover_factor = np.ones(256, dtype=np.float32)
    for code, traits in CLASS_TRAITS.items():
        green = spectra.spectrum(traits.canopy, bands)
        if traits.phenology == "deciduous":
            out_of_season = traits.seasonal_share * (1.0 - acq.leaf)
            cover_factor[code] = 1.0 - LEAF_OFF_OPENING * out_of_season
        elif traits.phenology == "herb":
            out_of_season = traits.seasonal_share * (1.0 - acq.herb_green)
        else:
            out_of_season = 0.0
        dormant = spectra.spectrum(traits.dormant or traits.canopy, bands)
        table[code] = (1.0 - out_of_season) * green + out_of_season * dormant
    return table, cover_factor


def background_spectra(acq: Acquisition, bands: tuple[str, ...]) -> np.ndarray:
    """Per class code: the background spectrum (water: the scene's water type; soils and litter
    darkened by the soil moisture, most in the short-wave infrared). (256, bands)."""
    table = np.zeros((256, len(bands)), dtype=np.float32)
    wet = 1.0 - acq.soil_moisture * spectra.spectrum(spectra.MOISTURE_DARKENING, bands)
    for code, traits in CLASS_TRAITS.items():
        name = acq.water if traits.background == "water" else traits.background
        table[code] = spectra.spectrum(name, bands)
        if name in MOIST_BACKGROUNDS:
            table[code] *= wet
    return table


def snow_cover(
    classes: np.ndarray, elevation: np.ndarray, acq: Acquisition, rng: np.random.Generator
) -> np.ndarray:
    """Where snow lies on the ground: above the (ragged) snow line, and on glaciers (class 70).

    Returns:
        float32 array (H, W): 1 snow, 0.5 in towns, 0 none.
    """
    edge = SNOW_EDGE_M * gaussian_field(classes.shape, 30.0, rng)
    snow = (elevation + edge > acq.snow_line_m).astype(np.float32)
    snow[np.isin(classes, NO_SNOW_CLASSES)] *= 0.5
    snow[classes == 70] = 1.0
    return snow


def surface_reflectance(
    classes: np.ndarray,
    cover: np.ndarray,
    height: np.ndarray,
    snow: np.ndarray,
    acq: Acquisition,
    rng: np.random.Generator,
    bands: tuple[str, ...] = AGBD_BAND_ORDER,
) -> np.ndarray:
    """Cloud-free L2A reflectance on flat ground (module doc); terrain comes after.

    ``R_b = fc_v * C_b * (1 + k(h) * crowns) * (1 - s_b * h / (h + 20)) * K
    + (1 - fc_v) * G_b * soil * L`` + noise, with crown contrast ``k(h) = 0.35 * h / (h + 15)``,
    band shading strengths ``s_b`` (:data:`spectra.SHADE_STRENGTH`), ``C_b`` the crowns (part snow
    where snow lies), ``K`` their light at this sun (:func:`crown_light`), ``G_b`` the background
    (snow where it lies), ``soil`` the scene's soil brightness times a smooth local field, and
    ``L`` the light reaching the ground between crowns (:func:`ground_light`).

    Returns:
        float32 array, shape (len(bands), H, W).
    """
    shape = classes.shape
    canopy, cover_factor = canopy_spectra(acq, bands)
    background = background_spectra(acq, bands)
    snow_spectrum = spectra.spectrum("snow", bands)
    visible = cover * cover_factor[classes] * _unburied(classes, snow)
    light = ground_light(visible, height, acq.sun_elevation_deg)
    crown = crown_light(height, acq.sun_elevation_deg)
    crown_snow = CROWN_SNOW * snow * (height > TREE_HEIGHT_M)
    crowns = gaussian_field(shape, 0.7, rng)  # sunlit crowns and shaded gaps, pixel scale
    texture = 1.0 + 0.35 * height / (height + 15.0) * crowns
    self_shade = height / (height + 20.0)
    brightness = rng.uniform(*SOIL_BRIGHTNESS)
    soil = brightness * (1.0 + 0.12 * gaussian_field(shape, 20.0, rng))
    out = np.empty((len(bands), *shape), dtype=np.float32)
    for i, band in enumerate(bands):
        lit = 1.0 - spectra.SHADE_STRENGTH[band] * self_shade
        ground = (1.0 - snow) * background[classes, i] * soil + snow * snow_spectrum[i]
        top = (1.0 - crown_snow) * canopy[classes, i] + crown_snow * snow_spectrum[i]
        out[i] = visible * top * texture * lit * crown + (1.0 - visible) * ground * light
        out[i] += 0.003 * rng.standard_normal(shape)  # sensor and retrieval noise
    return np.maximum(out, 0.0005)


def ground_light(visible: np.ndarray, height: np.ndarray, sun_elevation_deg: float) -> np.ndarray:
    """Light on the ground between crowns, relative to open ground: trees cast shadows over the
    gaps, longer the lower the sun (snowy forests look dark in winter).

    ``L = d + (1 - d) * exp(-c * fc_v * h / (h + 5) / tan(sun elevation))`` with the diffuse share
    ``d`` (:data:`DIFFUSE_LIGHT`) and reach ``c`` (:data:`CROWN_SHADOW`).
    """
    tangent = np.tan(np.radians(max(sun_elevation_deg, 2.0)))
    sunlit = np.exp(-CROWN_SHADOW * visible * height / (height + 5.0) / tangent)
    return (DIFFUSE_LIGHT + (1.0 - DIFFUSE_LIGHT) * sunlit).astype(np.float32)


def crown_light(height: np.ndarray, sun_elevation_deg: float) -> np.ndarray:
    """Light on the crowns relative to the endmembers' sun: low winter sun leaves them dark.

    ``exp(-k * h / (h + 5) * max(0, cot(sun elevation) - cot(55 deg)))``, k = CROWN_SELF_SHADE.
    """
    cotangent = 1.0 / np.tan(np.radians(max(sun_elevation_deg, 2.0)))
    excess = max(0.0, cotangent - 1.0 / np.tan(np.radians(ENDMEMBER_SUN_ELEVATION)))
    return np.exp(-CROWN_SELF_SHADE * height / (height + 5.0) * excess).astype(np.float32)


def _unburied(classes: np.ndarray, snow: np.ndarray) -> np.ndarray:
    """Share of each pixel's canopy still showing above the snow (low vegetation is buried)."""
    showing = np.ones(256, dtype=np.float32)
    for code, traits in CLASS_TRAITS.items():
        showing[code] = BURIED.get(traits.phenology, 1.0)
    return 1.0 - snow * (1.0 - showing[classes])


def apply_terrain(surface: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Reflectance as the slopes light it: every band times the pixel's illumination factor."""
    return (surface * factor[None]).astype(np.float32)
