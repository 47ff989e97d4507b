"""The inputs of one model: Sentinel-2 (and PALSAR-2) files and an extent -> a PatchReader.

The model says what it reads (its bands and modality); inputs that cannot feed it are errors that
name the model, what it needs and what to change. How the Sentinel-2 numbers are read (bands,
level, BOA offset, units, clouds) is decided by ``reo_core.raster.product``; the options for it
are the same on every command line (``add_imagery_arguments``), in the worker and in Python.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reo_core.band_arguments import parse_band_arguments
from reo_core.errors import InputError
from reo_core.model.config import ReoConfig
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.raster import CloudOptions, Extent, PatchReader, open_sar, open_sentinel2
from reo_core.raster.clouds import MASK_KINDS
from reo_core.raster.product import Sentinel2Input
from reo_core.raster.reader import DEFAULT_BLOCK_PATCHES, DEFAULT_MAX_NODATA_FRACTION
from reo_core.sensors.composites import reads_sar
from reo_core.sensors.sentinel2 import BAND_ORDERS, BOA_ADD_OFFSET_DN, BOA_OFFSETS


@dataclass(frozen=True)
class InputSpec:
    """Where the patches come from, how the Sentinel-2 numbers are read and how the extent is
    cut."""

    s2: tuple[Path, ...]  # files, folders (.SAFE, product folders) or zips; SCL files are masks
    sar: tuple[Path, ...] = ()  # PALSAR-2 HH and HV, for ms+sar models
    extent: Extent | None = None  # None = all of the Sentinel-2 imagery
    stride: int = PATCH_SIZE  # pixels between patches (25 = adjacent)
    max_nodata_fraction: float = DEFAULT_MAX_NODATA_FRACTION
    block_patches: int = DEFAULT_BLOCK_PATCHES  # patches per side of a streamed block
    band_mapping: Mapping[str, tuple[Path, int]] = field(
        default_factory=dict
    )  # band -> (file, index)
    band_order: str | None = None  # order of stacks without band names: agbd | l1c | eurosat
    boa_offset: int | None = None  # None = decided from metadata and data; else 0 or 1000 DN
    allow_l1c: bool = False  # read Level-1C (top-of-atmosphere) products, with a warning
    clouds: CloudOptions = field(default_factory=CloudOptions)  # mask file, screening switch

    def __post_init__(self) -> None:
        object.__setattr__(self, "s2", tuple(Path(p) for p in self.s2 or ()))
        object.__setattr__(self, "sar", tuple(Path(p) for p in self.sar or ()))
        mapping = {
            band: (Path(path), int(index))
            for band, (path, index) in dict(self.band_mapping or {}).items()
        }
        object.__setattr__(self, "band_mapping", mapping)
        if not self.s2 and not self.band_mapping:
            raise InputError(
                "No Sentinel-2 input given; pass a multi-band raster, per-band files or the "
                "product's folder."
            )
        if not 1 <= self.stride <= PATCH_SIZE:
            raise InputError(
                f"The stride must be between 1 and {PATCH_SIZE} pixels, got {self.stride}."
            )
        if self.band_order is not None and self.band_order not in BAND_ORDERS:
            raise InputError(
                f"Unknown band order '{self.band_order}'; choose one of {', '.join(BAND_ORDERS)}."
            )
        if self.boa_offset is not None and self.boa_offset not in BOA_OFFSETS:
            raise InputError(
                f"The BOA offset must be auto, 0 or {BOA_ADD_OFFSET_DN} DN, got {self.boa_offset}."
            )


def open_reader(config: ReoConfig, spec: InputSpec, model_name: str = "the model") -> PatchReader:
    """A PatchReader over ``spec`` that yields what ``config``'s model reads."""
    wants_sar = reads_sar(config.modality)
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
        s2 = open_sentinel2_of(spec, config.bands)
    except InputError as error:
        if "lacks band" not in error.message:
            raise
        raise InputError(
            f"{model_name} reads Sentinel-2 bands {', '.join(config.bands)} (modality "
            f"'{config.modality}'), which the input does not all have. {error.message} "
            "Or choose a model trained for the bands you have "
            "(an 'rgb' model reads B02, B03, B04).",
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


def open_sentinel2_of(spec: InputSpec, bands: Sequence[str]) -> Sentinel2Input:
    """The Sentinel-2 input of ``spec`` with the decision of how to read it (``open_sentinel2``)."""
    return open_sentinel2(
        spec.s2,
        required_bands=bands,
        band_mapping=spec.band_mapping,
        boa_offset=spec.boa_offset,
        band_order=spec.band_order,
        allow_l1c=spec.allow_l1c,
        clouds=spec.clouds,
    )


def inspect_inputs(config: ReoConfig, spec: InputSpec) -> dict:
    """How the inputs would be read for ``config``'s model, without running it: the decision of
    ``reo_core.raster.product`` and the patch grid of the extent."""
    reader = open_reader(config, spec)
    grid = reader.patch_grid
    return {
        "decision": reader.s2.decision.to_dict(),
        "grid": {
            "crs": grid.pixels.crs.to_string(),
            "transform": list(grid.grid.transform)[:6],
            "width": grid.cols,
            "height": grid.rows,
            "stride": grid.stride,
        },
        "patches": reader.n_patches,
    }


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


def add_imagery_arguments(parser: argparse.ArgumentParser) -> None:
    """The imagery options every command that reads imagery shares (predict, ask)."""
    add = parser.add_argument
    add(
        "--s2",
        nargs="*",
        type=Path,
        default=[],
        help="Sentinel-2 L2A: a .SAFE folder or zip, a product folder (B02.tif ...), a stack or "
        "per-band files",
    )
    add("--sar", nargs="+", type=Path, default=[], help="PALSAR-2 HH and HV (ms+sar models)")
    add(
        "--band",
        action="append",
        default=[],
        metavar="BAND=FILE[:INDEX]",
        help="which file (and 1-based band) holds a band, e.g. --band B8A=stack.tif:9; repeat",
    )
    add(
        "--band-order",
        choices=tuple(BAND_ORDERS),
        help="order of a 12/13-band stack without band names: agbd (B01..B8A, B09, B11, B12), "
        "l1c (with B10), eurosat (B8A last)",
    )
    add(
        "--boa-offset",
        choices=("auto", *map(str, BOA_OFFSETS)),
        default="auto",
        help="BOA_ADD_OFFSET in DN (default auto: from the metadata, checked against the data)",
    )
    add(
        "--allow-l1c",
        action="store_true",
        help="read Level-1C (top-of-atmosphere) products anyway (biased; marked in the summary)",
    )
    add("--cloud-mask", type=Path, help="a cloud mask raster to use instead of the SCL / screening")
    add(
        "--cloud-mask-kind",
        choices=MASK_KINDS,
        default="scl",
        help="what the mask's values mean (default scl)",
    )
    add(
        "--cloud-threshold",
        type=float,
        help="probability masks: cloudy at or above (default 0.4, or 40 for integer masks)",
    )
    add(
        "--no-cloud-screening",
        dest="cloud_screening",
        action="store_false",
        help="without SCL or mask, do not screen clouds spectrally",
    )


def input_spec_from_args(
    args: argparse.Namespace, extent: Extent | None, **spec: object
) -> InputSpec:
    """An InputSpec from the parsed options of ``add_imagery_arguments`` (plus ``spec``)."""
    if not args.s2 and not args.band:
        raise InputError("Give the Sentinel-2 input: --s2 FILE|FOLDER... or --band B02=FILE ...")
    return InputSpec(
        s2=tuple(args.s2),
        sar=tuple(args.sar),
        extent=extent,
        band_mapping=parse_band_arguments(args.band),
        band_order=args.band_order,
        boa_offset=None if args.boa_offset == "auto" else int(args.boa_offset),
        allow_l1c=args.allow_l1c,
        clouds=CloudOptions(
            args.cloud_mask, args.cloud_mask_kind, args.cloud_threshold, args.cloud_screening
        ),
        **spec,
    )
