"""Biomes: landscape types that set the class mix, farming, settlement, water, tree heights, terrain
and the year's course (leaf-off, dry season, snow) of a scene."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from reo_core.synth.location import DEFAULT_LOCATION, SceneLocation

NEVER = math.inf  # an elevation never reached: no snow line, tree line or glacier


@dataclass(frozen=True)
class Biome:
    """A landscape type: the mix of natural classes and how much farming, settlement and water.

    Seasons are windows of calendar day of year (start, end) where the biome's simulated tiles lie
    (savanna: East Africa, south of the equator; the others north of it); a window may wrap over
    the new year, e.g. (335, 60) for a northern winter.
    """

    name: str
    weights: dict[int, float]  # area share of natural classes (normalised), before overlays
    cropland: float  # share of the scene in the agricultural zone
    towns_per_100km2: float
    river: bool
    lake_fraction: float
    height_factor: float  # scales canopy heights (tropical forests are taller)
    elevation_m: float  # mean terrain height
    relief_m: float  # terrain height variation (std)
    # Water types of its lakes and rivers (spectra.WATER_TYPES) -> share of scenes with that type:
    # clear lakes, dark humic or blackwater lakes and rivers, sediment-laden (turbid) rivers.
    waters: dict[str, float] = field(default_factory=lambda: {"water": 1.0})
    lake_scale_px: float = 40.0  # smoothing of the lake field: larger = fewer, bigger lakes
    leaf_on: tuple[int, int] | None = None  # deciduous crowns in full leaf; None: never leaf-off
    dry_season: tuple[int, int] | None = None  # herbs dry and senescent
    snow_season: tuple[int, int] | None = None  # snow can lie on the ground
    snow_line_m: float = NEVER  # in the snow season, snow lies above this elevation
    treeline_m: float = NEVER  # forests give way to alpine grass and rock above this
    glacier_m: float = NEVER  # permanent snow and ice (class 70) above this
    haze: float = 0.3  # typical residual haze of an acquisition (0 clear .. 1 hazy)
    peak_day: int = 196  # day of year of a scene when no date is given: the growing season
    home: SceneLocation = DEFAULT_LOCATION  # where a scene lies when no location is given


BIOMES: dict[str, Biome] = {
    b.name: b
    for b in (
        Biome(
            "temperate",
            {
                111: 0.16,
                114: 0.14,
                115: 0.16,
                116: 0.04,
                121: 0.03,
                124: 0.06,
                126: 0.03,
                20: 0.07,
                30: 0.22,
                60: 0.04,
                90: 0.05,
            },
            0.25,
            2.0,
            True,
            0.025,
            1.0,
            700.0,
            250.0,
            # Clear lakes, dark bog lakes and fish ponds, silty rivers after rain.
            waters={"water": 0.5, "humic_water": 0.3, "turbid_water": 0.2},
            lake_scale_px=60.0,
            leaf_on=(130, 290),
            dry_season=None,
            snow_season=(335, 60),
            snow_line_m=600.0,
            haze=0.3,
        ),
        Biome(
            "tropical",
            {112: 0.55, 116: 0.08, 126: 0.06, 20: 0.08, 30: 0.12, 60: 0.03, 90: 0.08},
            0.12,
            1.0,
            True,
            0.015,
            1.1,
            120.0,
            40.0,
            # Sediment-laden white-water rivers and dark blackwater rivers and lagoons (humic).
            waters={"turbid_water": 0.5, "humic_water": 0.5},
            lake_scale_px=60.0,
            dry_season=(230, 310),
            haze=0.5,
            peak_day=60,
            home=SceneLocation("22NBK", 32622, 200_000.0, 400_000.0),
        ),
        Biome(
            "mediterranean",
            {111: 0.10, 115: 0.08, 121: 0.08, 124: 0.08, 126: 0.06, 20: 0.28, 30: 0.20, 60: 0.12},
            0.25,
            2.0,
            False,
            0.01,
            0.8,
            400.0,
            200.0,
            waters={"water": 0.6, "turbid_water": 0.4},
            leaf_on=(110, 310),
            dry_season=(160, 270),
            snow_season=(355, 40),
            snow_line_m=1200.0,
            haze=0.35,
            peak_day=120,
            home=SceneLocation("34SEH", 32634, 500_000.0, 4_200_000.0),
        ),
        Biome(
            "savanna",
            {116: 0.05, 121: 0.02, 124: 0.14, 126: 0.16, 20: 0.25, 30: 0.28, 60: 0.05, 90: 0.05},
            0.20,
            1.0,
            True,
            0.02,
            0.85,
            1200.0,
            100.0,
            waters={"turbid_water": 0.8, "water": 0.2},
            leaf_on=(320, 130),
            dry_season=(160, 290),
            haze=0.45,
            peak_day=30,
            home=SceneLocation("36MVA", 32736, 400_000.0, 9_500_000.0),
        ),
        # Alpine valleys and slopes: steep terrain, conifers up to the tree line, meadows and rock
        # above, glaciers on the summits, snow down to the valleys in winter.
        Biome(
            "montane",
            {111: 0.30, 115: 0.14, 114: 0.06, 121: 0.06, 20: 0.06, 30: 0.26, 60: 0.06, 90: 0.02},
            0.10,
            1.5,
            True,
            0.015,
            0.9,
            1600.0,
            500.0,
            # Clear valley lakes; dark bog lakes and tarns.
            waters={"water": 0.7, "humic_water": 0.3},
            lake_scale_px=60.0,
            leaf_on=(140, 280),
            snow_season=(300, 120),
            snow_line_m=1200.0,
            treeline_m=2000.0,
            glacier_m=2450.0,
            haze=0.2,
            home=SceneLocation("32TNS", 32632, 500_000.0, 5_100_000.0),
        ),
        # Taiga: conifers, mires and dark humic lakes; snow everywhere in winter.
        Biome(
            "boreal",
            {111: 0.34, 115: 0.16, 114: 0.04, 121: 0.08, 20: 0.08, 30: 0.08, 90: 0.16, 60: 0.02},
            0.10,
            0.5,
            True,
            0.06,
            0.75,
            150.0,
            40.0,
            waters={"humic_water": 1.0},
            lake_scale_px=100.0,
            leaf_on=(150, 275),
            snow_season=(305, 110),
            snow_line_m=-NEVER,
            haze=0.2,
            home=SceneLocation("35VPK", 32635, 600_000.0, 6_900_000.0),
        ),
    )
}
