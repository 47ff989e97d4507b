"""When a scene is seen: the acquisition date and what it brings (sun, leaves, dry grass, snow,
haze).

A Sentinel-2 overpass is at about 10:30 local solar time. The day of year sets the sun's position
(for terrain illumination), how far deciduous crowns are in leaf, how green herbs are, where snow
lies, and, with the biome, how hazy the air is. Seasons ramp in and out over
:data:`SEASON_RAMP_DAYS` rather than switching on a date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pyproj import Transformer

from reo_core.synth.biomes import NEVER, Biome
from reo_core.synth.location import MGRS_SQUARE_M, SceneLocation

SEASON_RAMP_DAYS = 30.0
OVERPASS_HOUR = 10.5  # local solar time of the descending Sentinel-2 pass
DAYS_IN_YEAR = 365
SNOW_LINE_JITTER_M = 150.0  # the snow line of one acquisition, around the biome's
VIEW_GAIN = (0.85, 1.15)  # BRDF: the same ground is brighter or darker from pass to pass


@dataclass(frozen=True)
class Acquisition:
    """The conditions of one Sentinel-2 acquisition of a scene."""

    day_of_year: int  # 1..365
    sun_elevation_deg: float
    sun_azimuth_deg: float  # clockwise from north
    leaf: float  # deciduous crowns in leaf: 0 bare .. 1 full
    herb_green: float  # grass, reeds and crops green: 0 dormant or dry .. 1 lush
    snow_line_m: float  # snow lies on the ground above this elevation (inf: no snow)
    haze: float  # residual haze of the acquisition, 0..1 (its peak over the scene)
    water: str  # water endmember of the scene (spectra.WATER_TYPES)
    view_gain: float = 1.0  # sun-view geometry (BRDF) brightens or darkens the whole scene
    soil_moisture: float = 0.0  # 0 dry .. 1 wet through (after rain, snow melt, wet season)

    @property
    def leaf_off(self) -> bool:
        """Deciduous crowns mostly bare (GEDI's ``leaf_off_flag``)."""
        return self.leaf < 0.5

    @property
    def season(self) -> str:
        """A word for scene.json: 'snow', 'leaf-off', 'dry' or 'green'."""
        if math.isfinite(self.snow_line_m) or self.snow_line_m < 0:
            return "snow"
        if self.leaf_off:
            return "leaf-off"
        return "dry" if self.herb_green < 0.5 else "green"


def window_weight(day: float, window: tuple[int, int] | None) -> float:
    """1 inside a (start, end) day-of-year window, 0 outside, linear ramps at both ends.

    The window may wrap over the new year; None is a window that never opens (0).
    """
    if window is None:
        return 0.0
    start, end = window
    length = (end - start) % DAYS_IN_YEAR
    into = (day - start) % DAYS_IN_YEAR  # days since the window opened
    if into <= length:  # inside: ramp up after start, down before end
        edge = min(into, length - into)
        return min(1.0, 0.5 + edge / SEASON_RAMP_DAYS)
    outside = min(into - length, DAYS_IN_YEAR - into)  # days to the nearest edge
    return max(0.0, 0.5 - outside / SEASON_RAMP_DAYS)


def latitude_deg(location: SceneLocation) -> float:
    """Latitude of the centre of the location's 100 km MGRS square."""
    to_wgs84 = Transformer.from_crs(location.epsg, 4326, always_xy=True)
    half = MGRS_SQUARE_M / 2
    _, lat = to_wgs84.transform(location.square_left + half, location.square_bottom + half)
    return float(lat)


def sun_position(latitude: float, day_of_year: int) -> tuple[float, float]:
    """(elevation, azimuth clockwise from north) in degrees at the overpass time.

    Declination from Cooper's formula ``23.44 sin(2 pi (284 + d) / 365)``; the standard spherical
    formulas for the hour angle of 10:30 solar time.
    """
    declination = math.radians(23.44 * math.sin(2 * math.pi * (284 + day_of_year) / DAYS_IN_YEAR))
    hour_angle = math.radians(15.0 * (OVERPASS_HOUR - 12.0))
    phi = math.radians(latitude)
    sin_elevation = math.sin(phi) * math.sin(declination) + math.cos(phi) * math.cos(
        declination
    ) * math.cos(hour_angle)
    elevation = math.asin(max(-1.0, min(1.0, sin_elevation)))
    azimuth = math.atan2(
        -math.sin(hour_angle),
        math.tan(declination) * math.cos(phi) - math.sin(phi) * math.cos(hour_angle),
    )
    return math.degrees(elevation), math.degrees(azimuth) % 360.0


def _shares(weights: dict[str, float]) -> np.ndarray:
    """Weights normalised to probabilities."""
    values = np.array(list(weights.values()), dtype=np.float64)
    return values / values.sum()


def acquisition(
    biome: Biome, location: SceneLocation, day_of_year: int, rng: np.random.Generator
) -> Acquisition:
    """The conditions of a scene of ``biome`` at ``location`` seen on ``day_of_year``."""
    elevation, azimuth = sun_position(latitude_deg(location), day_of_year)
    leaf = 1.0 if biome.leaf_on is None else window_weight(day_of_year, biome.leaf_on)
    herb_green = 1.0 - 0.8 * window_weight(day_of_year, biome.dry_season)
    if biome.leaf_on is not None:  # herbs rest in winter as the trees do
        herb_green = min(herb_green, 0.35 + 0.65 * leaf)
    snow = window_weight(day_of_year, biome.snow_season)
    snow_line = NEVER
    if snow > 0 and biome.snow_line_m != NEVER:
        # Early and late in the season snow lies only high up.
        base = max(biome.snow_line_m, 0.0) if biome.snow_line_m > -NEVER else 0.0
        snow_line = base + (1.0 - snow) * 1500.0 + SNOW_LINE_JITTER_M * rng.standard_normal()
        if biome.snow_line_m == -NEVER and snow >= 1.0:
            snow_line = -NEVER  # deep winter: snow everywhere
    haze = float(np.clip(biome.haze * rng.uniform(0.2, 1.8), 0.0, 1.0))
    gain = float(rng.uniform(*VIEW_GAIN))
    # Soils are wetter in the green season than in the dry one, and after rain at any time.
    moisture = float(np.clip(0.3 * herb_green + rng.uniform(-0.3, 0.4), 0.0, 1.0))
    water = str(rng.choice(list(biome.waters), p=_shares(biome.waters)))
    return Acquisition(
        day_of_year,
        elevation,
        azimuth,
        leaf,
        herb_green,
        snow_line,
        haze,
        water,
        gain,
        moisture,
    )
