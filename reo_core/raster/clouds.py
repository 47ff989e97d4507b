"""Where the clouds come from, and the cloud and shadow pixels of a block.

In order: an explicit mask the user gives (``--cloud-mask FILE --cloud-mask-kind ...``), the
product's scene classification (SCL, found by name among the inputs or in the product folder), the
built-in spectral screening (``reo_core.sensors.cloud_screening``), or nothing when the user turns
the screening off. Whatever the source, it is recorded with the input decision.

Mask kinds (what the values of the file mean; kind: cloud; shadow; no data):

- ``scl``: 8, 9, 10 (cloud medium / high probability, thin cirrus); 3; 0, 1 (no data, defective)
- ``fmask``: 4; 2; 255
- ``binary``: any value other than 0; -; the file's no-data
- ``probability``: at or above the threshold (default 40 % of full scale); -; the file's no-data
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from reo_core.errors import InputError
from reo_core.raster.cloud_reach import SHADOW_REACH_M
from reo_core.raster.sources import BandRef
from reo_core.sensors import cloud_screening, sentinel2

MASK_KINDS = sentinel2.CLOUD_MASK_KINDS
SCL_CLOUD, SCL_SHADOW = sentinel2.SCL_CLOUD_CLASSES, sentinel2.SCL_SHADOW_CLASSES
SCL_NO_DATA = sentinel2.SCL_NO_DATA_CLASSES
FMASK_CLOUD, FMASK_SHADOW, FMASK_NO_DATA = (4,), (2,), (255,)
# s2cloudless's own default: a pixel is cloudy at probability 0.4 (40 on a 0-100 scale).
DEFAULT_PROBABILITY = 0.4
SCREENING, SCL, MASK, NONE = "screening", "scl", "mask", "none"


@dataclass(frozen=True)
class CloudOptions:
    """What the user said about clouds."""

    mask: Path | None = None  # a cloud mask raster in the imagery's CRS (any resolution)
    kind: str = "scl"  # what the mask's values mean: scl | fmask | binary | probability
    threshold: float | None = None  # probability masks: cloudy at or above (file units)
    screening: bool = True  # the built-in spectral screening when there is no SCL or mask

    def __post_init__(self) -> None:
        if self.kind not in MASK_KINDS:
            raise InputError(
                f"Unknown cloud mask kind '{self.kind}'; choose one of {', '.join(MASK_KINDS)}."
            )
        if self.threshold is not None and self.kind != "probability":
            raise InputError("A cloud threshold applies to probability masks only.")
        if self.mask is not None:
            object.__setattr__(self, "mask", Path(self.mask))


@dataclass(frozen=True)
class CloudSource:
    """The decided cloud source."""

    kind: str  # screening | scl | mask | none
    detail: str
    path: str | None = None
    mask_kind: str | None = None
    threshold: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def decide_cloud_source(
    options: CloudOptions, scl: BandRef | None, mask: BandRef | None, bands: set[str]
) -> tuple[CloudSource, list[str]]:
    """The cloud source and the warnings it brings."""
    warnings = []
    if mask is not None:
        threshold = _threshold(options, mask) if options.kind == "probability" else None
        detail = f"{options.kind} mask {mask.path.name}" + (
            f", cloudy at >= {threshold:g}" if threshold is not None else ""
        )
        if scl is not None:
            detail += f" (the scene classification {scl.path.name} is not used)"
        return CloudSource(MASK, detail, str(mask.path), options.kind, threshold), warnings
    if scl is not None:
        return CloudSource(SCL, f"scene classification {scl.path.name}", str(scl.path), "scl"), []
    if not options.screening:
        warnings.append(
            "No cloud screening: the input has no scene classification, no cloud mask was given "
            "and the built-in screening is off, so clouds and their shadows are read as ground."
        )
        return CloudSource(NONE, "screening turned off"), warnings
    missing = [b for b in cloud_screening.REQUIRED_BANDS if b not in bands]
    if missing:
        warnings.append(
            f"No cloud screening: the built-in screening needs {', '.join(missing)}, which the "
            "input lacks, and there is no scene classification or cloud mask. Clouds are read as "
            "ground; give the SCL or a mask (--cloud-mask)."
        )
        return CloudSource(NONE, f"screening needs {', '.join(missing)}"), warnings
    reach = f"shadows only within {SHADOW_REACH_M / 1000:g} km of a cloud"
    return CloudSource(SCREENING, f"{cloud_screening.SCREENING_NAME}, {reach}"), warnings


def classify_mask(
    values: np.ndarray, source: CloudSource, nodata: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cloud, shadow, no_data) boolean arrays from a mask's values warped onto the grid."""
    kind = source.mask_kind
    if kind == "scl":
        return np.isin(values, SCL_CLOUD), np.isin(values, SCL_SHADOW), np.isin(values, SCL_NO_DATA)
    if kind == "fmask":
        return (
            np.isin(values, FMASK_CLOUD),
            np.isin(values, FMASK_SHADOW),
            np.isin(values, FMASK_NO_DATA),
        )
    no_info = ~np.isfinite(values)
    if nodata is not None and np.isfinite(nodata):
        no_info |= values == nodata
    if kind == "binary":
        cloud = (values != 0) & ~no_info
    else:
        cloud = (values >= source.threshold) & ~no_info
    return cloud, np.zeros_like(cloud), np.zeros_like(cloud)


def _threshold(options: CloudOptions, mask: BandRef) -> float:
    if options.threshold is not None:
        return float(options.threshold)
    # An integer probability mask is on a 0-100 scale (Earth Engine's S2_CLOUD_PROBABILITY; Sentinel
    # Hub's 0-255 CLP needs --cloud-threshold 102); a float one on 0-1 (s2cloudless).
    return DEFAULT_PROBABILITY * (100.0 if mask.is_integer else 1.0)
