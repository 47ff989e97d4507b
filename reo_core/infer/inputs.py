"""The inputs of one model: Sentinel-2 (and PALSAR-2) files and an extent -> a PatchReader.

The model says what it reads (its bands and modality); inputs that cannot feed it are errors that
name the model, what it needs and what to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reo_core.errors import InputError
from reo_core.model.config import ReoConfig
from reo_core.raster import Extent, PatchReader, open_sar, open_sentinel2
from reo_core.raster.grid import PATCH_SIZE
from reo_core.raster.reader import DEFAULT_BLOCK_PATCHES, DEFAULT_MAX_NODATA_FRACTION


@dataclass(frozen=True)
class InputSpec:
    """Where the patches come from and how the extent is cut."""

    s2: tuple[Path, ...]  # one multi-band raster or per-band files (SCL files are masks)
    sar: tuple[Path, ...] = ()  # PALSAR-2 HH and HV, for ms+sar models
    extent: Extent | None = None  # None = all of the Sentinel-2 imagery
    stride: int = PATCH_SIZE  # pixels between patches (25 = adjacent)
    max_nodata_fraction: float = DEFAULT_MAX_NODATA_FRACTION
    block_patches: int = DEFAULT_BLOCK_PATCHES  # patches per side of a streamed block

    def __post_init__(self) -> None:
        object.__setattr__(self, "s2", tuple(Path(p) for p in self.s2))
        object.__setattr__(self, "sar", tuple(Path(p) for p in self.sar or ()))
        if not self.s2:
            raise InputError(
                "No Sentinel-2 input given; pass a multi-band raster or per-band files."
            )
        if not 1 <= self.stride <= PATCH_SIZE:
            raise InputError(
                f"The stride must be between 1 and {PATCH_SIZE} pixels, got {self.stride}."
            )


def open_reader(config: ReoConfig, spec: InputSpec, model_name: str = "the model") -> PatchReader:
    """A PatchReader over ``spec`` that yields what ``config``'s model reads."""
    wants_sar = config.modality == "ms+sar"
    if wants_sar and not spec.sar:
        raise InputError(
            f"{model_name} reads Sentinel-2 and PALSAR-2 (modality 'ms+sar'); give the PALSAR-2 "
            "HH and HV rasters too, or choose a model for Sentinel-2 alone (modality 'ms')."
        )
    if spec.sar and not wants_sar:
        raise InputError(
            f"{model_name} reads Sentinel-2 alone (modality '{config.modality}') and no PALSAR-2; "
            "leave the PALSAR-2 input out, or choose a model trained with it (modality 'ms+sar')."
        )
    try:
        s2 = open_sentinel2(spec.s2, required_bands=config.bands)
    except InputError as error:
        if "lacks band" not in error.message:
            raise
        raise InputError(
            f"{model_name} reads Sentinel-2 bands {', '.join(config.bands)} (modality "
            f"'{config.modality}'), which the input does not all have. {error.message} "
            "Or choose a model trained for the bands you have (an 'rgb' model reads B02, B03, B04).",
            details=error.details,
        ) from None
    sar = open_sar(spec.sar) if wants_sar else None
    return PatchReader(
        s2,
        sar,
        extent=spec.extent,
        stride=spec.stride,
        max_nodata_fraction=spec.max_nodata_fraction,
        block_patches=spec.block_patches,
    )


def make_extent(
    bounds: Sequence[float] | None = None, crs: str | None = None, aoi: str | Path | None = None
) -> Extent | None:
    """An extent from bounds (xmin, ymin, xmax, ymax) in ``crs``, or a GeoJSON area; None = all."""
    if bounds is not None and aoi is not None:
        raise InputError("Give either an extent (bounds) or an area of interest file, not both.")
    if aoi is not None:
        path = Path(aoi)
        if not path.is_file():
            raise InputError(f"The area of interest {path} does not exist; check the path.")
        return Extent.from_geojson(path)
    if bounds is None:
        return None
    if len(bounds) != 4:
        raise InputError(f"An extent needs 4 numbers (xmin, ymin, xmax, ymax), got {len(bounds)}.")
    if not crs:
        raise InputError("The extent needs its CRS (e.g. 'EPSG:32632' or 'EPSG:4326').")
    try:
        values = [float(v) for v in bounds]
    except (TypeError, ValueError):
        raise InputError(f"The extent bounds must be numbers, got {list(bounds)}.") from None
    return Extent.from_bounds(*values, crs)


def add_imagery_arguments(parser) -> None:
    """The --s2 / --sar options every command that reads imagery shares (predict, ask)."""
    parser.add_argument(
        "--s2",
        nargs="+",
        type=Path,
        required=True,
        help="Sentinel-2 L2A: a stack or per-band files",
    )
    parser.add_argument(
        "--sar", nargs="+", type=Path, default=[], help="PALSAR-2 HH and HV (ms+sar models)"
    )
