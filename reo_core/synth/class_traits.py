"""Land-cover class traits: the endmembers, structure, allometry and seasons of each CGLS-LC100
class.

Classes of one ``group`` ('forest', 'open', 'other') share a large-scale field in the land-cover
map, so forest classes cluster together. ``phenology`` says what the season does to the canopy:
'evergreen' crowns never change, 'deciduous' crowns turn to ``dormant`` (bare branches) and let
light through to the ground when leaf-off, 'herb' layers (grass, reeds) turn to ``dormant`` (dry
grass) in the dry season or winter, 'crop' fields follow the farming calendar through their cover
(``reo_core.synth.structure``), 'none' have no canopy.
"""

from __future__ import annotations

from dataclasses import dataclass

PHENOLOGIES = ("evergreen", "deciduous", "herb", "crop", "none")
# Share of a deciduous crown's light interception that goes with its leaves.
LEAF_OFF_OPENING = 0.55


@dataclass(frozen=True)
class ClassTraits:
    """What a land-cover class is made of: endmembers, structure, allometry and seasons."""

    canopy: str  # endmember of the vegetation layer (spectra.ENDMEMBERS key)
    background: str  # endmember seen between plants
    cover: float  # mean canopy cover fc, 0..1
    cover_sd: float  # spread of fc
    height_m: float  # mean canopy height
    height_sd: float  # log-normal spread of height
    allometry: float  # a in AGB = a * fc * h**1.5
    group: str  # 'forest' / 'open' / 'other': classes of a group share a large-scale field
    phenology: str = "evergreen"  # one of PHENOLOGIES
    dormant: str = ""  # endmember of the canopy out of season ('' = the canopy itself)
    seasonal_share: float = 0.0  # share of the canopy that turns dormant (mixed forests: half)


CLASS_TRAITS: dict[int, ClassTraits] = {
    111: ClassTraits("needleleaf", "litter", 0.80, 0.10, 20.0, 0.20, 2.7, "forest"),
    112: ClassTraits("tropical_broadleaf", "litter", 0.90, 0.06, 28.0, 0.18, 2.0, "forest"),
    114: ClassTraits(
        "broadleaf",
        "litter",
        0.85,
        0.08,
        22.0,
        0.20,
        2.4,
        "forest",
        "deciduous",
        "bare_branches",
        1.0,
    ),
    115: ClassTraits(
        "mixed", "litter", 0.85, 0.08, 21.0, 0.20, 2.5, "forest", "deciduous", "bare_branches", 0.5
    ),
    116: ClassTraits(
        "broadleaf",
        "litter",
        0.78,
        0.12,
        19.0,
        0.25,
        2.6,
        "forest",
        "deciduous",
        "bare_branches",
        0.3,
    ),
    121: ClassTraits("needleleaf", "dry_grass", 0.45, 0.12, 12.0, 0.30, 3.5, "open"),
    124: ClassTraits(
        "broadleaf",
        "dry_grass",
        0.45,
        0.12,
        13.0,
        0.30,
        3.5,
        "open",
        "deciduous",
        "bare_branches",
        1.0,
    ),
    126: ClassTraits(
        "broadleaf",
        "dry_grass",
        0.40,
        0.12,
        12.0,
        0.30,
        3.5,
        "open",
        "deciduous",
        "bare_branches",
        0.5,
    ),
    20: ClassTraits("shrub", "soil", 0.50, 0.15, 2.5, 0.30, 10.0, "open", "herb", "dry_grass", 0.5),
    30: ClassTraits(
        "grass", "litter", 0.85, 0.12, 0.5, 0.30, 20.0, "other", "herb", "dry_grass", 1.0
    ),
    40: ClassTraits("crop", "soil", 0.50, 0.20, 0.8, 0.30, 14.0, "other", "crop"),
    50: ClassTraits(
        "broadleaf", "urban", 0.08, 0.05, 6.0, 0.30, 1.2, "other", "deciduous", "bare_branches", 1.0
    ),
    60: ClassTraits("shrub", "soil", 0.05, 0.04, 0.5, 0.30, 5.0, "other", "herb", "dry_grass", 1.0),
    70: ClassTraits("snow", "snow", 0.00, 0.00, 0.0, 0.00, 0.0, "other", "none"),
    80: ClassTraits("water", "water", 0.00, 0.00, 0.0, 0.00, 0.0, "other", "none"),
    90: ClassTraits(
        "grass", "wet_soil", 0.60, 0.15, 1.0, 0.30, 13.0, "other", "herb", "dry_grass", 1.0
    ),
}
GROUPS = ("forest", "open", "other")
