"""The land-cover map (CGLS-LC100 codes) on the 10 m grid, simulated from a biome and a seed.

The map is the argmax of class-weighted smooth random fields (regions some hundreds of metres
across, forest classes clustered by a shared large-scale field), overlaid with rectangular crop
fields in an agricultural zone, a few compact towns, a river with a wetland margin and a lake.
In mountains, forests and fields give way to alpine grass above the tree line, grass to rock
higher up, and rock to glaciers (snow and ice, class 70) on the summits.
"""

from __future__ import annotations

import numpy as np

from reo_core.synth.biomes import Biome
from reo_core.synth.class_traits import CLASS_TRAITS, GROUPS
from reo_core.synth.fields import gaussian_field, gaussian_series, quantile_threshold, ramp
from reo_core.synth.location import RESOLUTION_M

TREE_CODES = tuple(
    code for code, t in CLASS_TRAITS.items() if t.group in ("forest", "open") and code > 100
)
# Alpine grass gives way to rock and scree this far above the tree line.
ROCK_ABOVE_TREELINE_M = 300.0


def simulate_landcover(
    shape: tuple[int, int], biome: Biome, rng: np.random.Generator, elevation: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Land-cover codes and the canopy cover of crop fields.

    Args:
        elevation: (H, W) terrain height in metres (tree line and glaciers).
    Returns:
        (classes (H, W) uint8, crop_cover (H, W) float32 fc of each crop field, NaN elsewhere).
    """
    classes = _natural_classes(shape, biome, rng)
    crop_cover = _add_cropland(classes, biome, rng)
    _add_towns(classes, biome, rng)
    _add_water(classes, biome, rng)
    if np.isfinite(biome.treeline_m) or np.isfinite(biome.glacier_m):
        _add_altitude_zones(classes, elevation, biome, rng)
    crop_cover[classes != 40] = np.nan
    return classes, crop_cover


def _add_altitude_zones(
    classes: np.ndarray, elevation: np.ndarray, biome: Biome, rng: np.random.Generator
) -> None:
    """Above a ragged tree line: trees and fields -> alpine grass (30), then rock (60); glaciers
    (70) above the glacier line. Water stays."""
    height = elevation + 60.0 * gaussian_field(classes.shape, 6.0, rng)
    above_trees = height > biome.treeline_m
    classes[above_trees & np.isin(classes, (*TREE_CODES, 40, 50))] = 30
    rocky = height > biome.treeline_m + ROCK_ABOVE_TREELINE_M
    classes[rocky & np.isin(classes, (20, 30, 90))] = 60
    classes[(height > biome.glacier_m) & (classes != 80)] = 70


def _natural_classes(shape: tuple[int, int], biome: Biome, rng: np.random.Generator) -> np.ndarray:
    """Argmax of per-class scores: shared group field + own regional field + ragged-edge detail.

    Class biases are fitted for a few rounds so that the areas follow ``biome.weights``.
    """
    codes = np.array(sorted(biome.weights), dtype=np.uint8)
    target = np.array([biome.weights[c] for c in codes.tolist()], dtype=np.float64)
    target /= target.sum()
    group_fields = {group: gaussian_field(shape, 90.0, rng) for group in GROUPS}
    scores = np.stack(
        [
            0.7 * group_fields[CLASS_TRAITS[code].group]
            + 0.7 * gaussian_field(shape, 18.0, rng)  # regions of a few hundred metres
            + 0.15 * gaussian_field(shape, 1.5, rng)  # ragged boundaries
            for code in codes.tolist()
        ]
    )  # (K, H, W)
    sample = scores[:, ::4, ::4]
    bias = np.zeros(len(codes))
    for _ in range(15):
        winners = np.argmax(sample + bias[:, None, None], axis=0)
        share = np.bincount(winners.ravel(), minlength=len(codes)) / winners.size
        bias += 0.5 * (np.log(target) - np.log(np.maximum(share, 1e-3)))
    return codes[np.argmax(scores + bias[:, None, None].astype(np.float32), axis=0)]


def _field_ids(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Rectangular fields: strips 150-400 m wide, each cut into fields 100-300 m long.

    Returns:
        int64 field id per pixel, shape (H, W).
    """
    height, width = shape
    strip_edges = np.cumsum(rng.integers(15, 41, size=width // 15 + 1))
    strip = np.searchsorted(strip_edges, np.arange(width), side="right")  # (W,)
    n_strips, max_rows = int(strip.max()) + 1, height // 10 + 1
    row_edges = np.cumsum(rng.integers(10, 31, size=(n_strips, max_rows)), axis=1)
    rows_per_strip = np.stack(
        [np.searchsorted(edges, np.arange(height), side="right") for edges in row_edges]
    )  # (strips, H)
    row = rows_per_strip[strip[None, :], np.arange(height)[:, None]]  # (H, W)
    return strip[None, :].astype(np.int64) * (max_rows + 1) + row


def _add_cropland(classes: np.ndarray, biome: Biome, rng: np.random.Generator) -> np.ndarray:
    """Turn whole fields of the agricultural zone into cropland (or pasture); return crop fc.

    Each field has one state: ploughed (fc ~0.02-0.12), growing (~0.2-0.6) or green (~0.6-0.95).
    """
    shape = classes.shape
    ids = _field_ids(shape, rng)
    zone = gaussian_field(shape, 80.0, rng)
    in_zone_px = zone > quantile_threshold(zone, biome.cropland)
    n_fields = int(ids.max()) + 1
    zone_share = np.bincount(ids.ravel(), weights=in_zone_px.ravel(), minlength=n_fields)
    in_zone = zone_share > 0.5 * np.bincount(ids.ravel(), minlength=n_fields)
    state = rng.random(n_fields)
    field_cover = np.where(
        state < 0.25,
        rng.uniform(0.02, 0.12, n_fields),
        np.where(state < 0.5, rng.uniform(0.2, 0.6, n_fields), rng.uniform(0.6, 0.95, n_fields)),
    )
    pasture = rng.random(n_fields) < 0.15
    farmed = in_zone[ids]
    classes[farmed] = np.where(pasture[ids], 30, 40)[farmed]
    return np.where(farmed & ~pasture[ids], field_cover[ids], np.nan).astype(np.float32)


def _add_towns(classes: np.ndarray, biome: Biome, rng: np.random.Generator) -> None:
    """A few compact built-up clusters (at least one), 200-700 m across with ragged edges."""
    height, width = classes.shape
    area_km2 = height * width * (RESOLUTION_M / 1000.0) ** 2
    n_towns = max(1, round(biome.towns_per_100km2 * area_km2 / 100.0))
    rough = gaussian_field(classes.shape, 4.0, rng)
    rows, cols = np.ogrid[:height, :width]
    for _ in range(n_towns):
        centre_r, centre_c = rng.uniform(0, height), rng.uniform(0, width)
        radius = min(rng.uniform(10.0, 35.0), min(height, width) / 6.0)
        distance = np.hypot(rows - centre_r, cols - centre_c) / radius
        classes[distance + 0.25 * rough < 1.0] = 50


def _add_water(classes: np.ndarray, biome: Biome, rng: np.random.Generator) -> None:
    """A meandering river 30-70 m wide with a reedy wetland margin, and a lake."""
    height, width = classes.shape
    if biome.river:
        along_rows = rng.random() < 0.5  # the river runs north-south instead of west-east
        along, across = (height, width) if along_rows else (width, height)
        centre = across * (rng.uniform(0.25, 0.75) + 0.1 * gaussian_series(along, 90.0, rng))
        # The perpendicular half width in pixels along the cross axis grows with the slope.
        half = rng.uniform(1.5, 3.5) * np.sqrt(1.0 + np.gradient(centre) ** 2)
        margin = half + 2.0 + 4.0 * ramp(gaussian_series(along, 20.0, rng), -1.0, 1.0)
        distance = np.abs(np.arange(across)[:, None] - centre[None, :])  # (across, along)
        if along_rows:
            distance, half, margin = distance.T, half[:, None], margin[:, None]
        classes[(distance < margin) & (classes != 50)] = 90
        classes[distance < half] = 80
    # Detail on top of the smooth field keeps shores from looking like ellipses.
    lake = gaussian_field(classes.shape, biome.lake_scale_px, rng) + 0.25 * gaussian_field(
        classes.shape, 4.0, rng
    )
    classes[lake > quantile_threshold(lake, biome.lake_fraction)] = 80
