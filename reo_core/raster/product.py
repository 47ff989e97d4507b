"""The one place that decides how a Sentinel-2 input's numbers are read, and says so.

``open_sentinel2`` takes what the user gave (files, folders, a .SAFE, a zip, a band mapping, an
order for unnamed stacks, an offset, cloud options) and decides, each with its source:

- which file and band holds each band (``sources``);
- the product level: L1C is refused unless allowed, because the model reads surface reflectance;
- the units of each file (``units``) and the BOA offset (``radiometry``), checked against the data;
- where clouds come from (``clouds``).

The decision is a JSON-serialisable ``ProductDecision``: it is logged, written into summary.json
and answered by the worker's ``inspect`` op, so a user can see and reproduce every choice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.crs import CRS

from reo_core.errors import InputError
from reo_core.raster.clouds import SCREENING, CloudOptions, CloudSource, decide_cloud_source
from reo_core.raster.product_context import ProductContext, read_product_context
from reo_core.raster.product_files import expand_s2_inputs
from reo_core.raster.radiometry import DataCheck, Finding, decide_offset
from reo_core.raster.sources import (
    BandRef,
    check_same_crs,
    collect_bands,
    detect_s2_bands,
    file_names,
    read_band_ref,
    s2_mapping_key,
    single_band,
)
from reo_core.raster.units import FileUnits, file_units
from reo_core.sensors import cloud_screening, sentinel2
from reo_core.sensors.sentinel2_metadata import L1C, L2A

logger = logging.getLogger(__name__)

BandMapping = Mapping[str, "str | Path | tuple[str | Path, int]"]


@dataclass(frozen=True)
class ProductDecision:
    """How a Sentinel-2 input is read; ``to_dict()`` is what summary.json records."""

    product: str | None
    layouts: tuple[str, ...]
    level: Finding | None  # value "L2A" / "L1C" (a str here), None when nothing says
    offset: Finding
    data_check: DataCheck
    quantification: float
    units: dict[str, FileUnits]  # by file
    clouds: CloudSource
    bands: dict[str, BandRef]  # every band found (those read and the others)
    read: tuple[str, ...]  # the bands read into patches
    warnings: tuple[str, ...] = field(default=())
    not_used: tuple[str, ...] = field(default=())  # rasters of product folders that hold no band

    def to_dict(self) -> dict:
        level = self.level
        bands = {
            name: {
                "file": str(ref.path),
                "band": ref.index,
                "identified_by": ref.identified_by,
                "read": name in self.read,
            }
            for name, ref in sorted(self.bands.items())
        }
        return {
            "product": self.product,
            "layouts": list(self.layouts),
            "level": {
                "value": level.value if level else "unknown",
                "source": level.source if level else "nothing says; read as L2A",
                "detail": level.detail if level else None,
            },
            "boa_offset": {
                "value": self.offset.value,
                "source": self.offset.source,
                "detail": self.offset.detail,
                "data_check": self.data_check.to_dict(),
            },
            "quantification": self.quantification,
            "units": {path: {"kind": u.kind, "reason": u.reason} for path, u in self.units.items()},
            "clouds": self.clouds.to_dict(),
            "bands": bands,
            "files_not_used": list(self.not_used),
            "warnings": list(self.warnings),
        }

    def log(self) -> None:
        level = self.level.value if self.level else "unknown (read as L2A)"
        logger.info(
            "Sentinel-2 input %s: level %s; BOA offset %d DN (%s: %s); clouds: %s",
            self.product or "(no product name)",
            level,
            self.offset.value,
            self.offset.source,
            self.offset.detail,
            self.clouds.detail,
        )
        for warning in self.warnings:
            logger.warning("%s", warning)


@dataclass(frozen=True)
class Sentinel2Input:
    """Resolved Sentinel-2 input: the bands to read, how their values become reflectance, and the
    cloud mask file (SCL or the user's) when the cloud source is a file."""

    bands: dict[str, BandRef]
    decision: ProductDecision
    cloud_mask: BandRef | None = None

    @property
    def crs(self) -> CRS:
        return next(iter(self.bands.values())).crs

    def to_reflectance(self, values: np.ndarray, ref: BandRef) -> np.ndarray:
        """Reflectance from a band's values: ``(value x to_dn - offset) / quantification``,
        clipped at 0 as ESA's tools do; no-data is the caller's."""
        units = self.decision.units[str(ref.path)]
        dn = values.astype(np.float32) * np.float32(units.to_dn)
        return sentinel2.reflectance_from_dn(
            dn, self.decision.offset.value, self.decision.quantification
        )


def open_sentinel2(
    paths: Sequence[str | Path],
    required_bands: Sequence[str] = sentinel2.AGBD_BAND_ORDER,
    band_mapping: BandMapping | None = None,
    boa_offset: int | None = None,
    scl: str | Path | None = None,
    band_order: str | None = None,
    allow_l1c: bool = False,
    clouds: CloudOptions | None = None,
) -> Sentinel2Input:
    """Decide how to read a Sentinel-2 input (see the module docstring).

    Args:
        paths: files, folders (.SAFE, product folders) or zips; SCL files among them mask clouds.
        required_bands: the bands the caller needs.
        band_mapping: band name -> file, or (file, 1-based band index), overriding detection.
        boa_offset: the user's BOA offset in DN (0 or 1000); None decides it from the input.
        scl: the L2A scene classification layer, if not among ``paths``.
        band_order: the order of stacks without band names (``sentinel2.BAND_ORDERS``).
        allow_l1c: read Level-1C (top-of-atmosphere) products anyway, with a warning.
        clouds: an explicit cloud mask and the built-in screening switch.
    """
    clouds = clouds or CloudOptions()
    files = expand_s2_inputs(tuple(Path(p) for p in paths))
    if not files.rasters and not band_mapping:
        raise InputError("No Sentinel-2 input given; pass a multi-band raster or per-band files.")
    found = collect_bands(
        files.rasters,
        band_mapping or {},
        s2_mapping_key,
        lambda path: detect_s2_bands(path, band_order),
    )
    bands = {name: single_band(name, found, "Sentinel-2") for name in found}
    _check_required(bands, required_bands, files.rasters)
    usable = {n: r for n, r in bands.items() if n not in sentinel2.IGNORED_BANDS}
    check_same_crs(usable, "Sentinel-2")
    scl_ref = _scene_classification(files.scl, scl, usable)
    mask_ref = _read_mask(clouds.mask, usable) if clouds.mask is not None else None
    context = read_product_context(usable)
    warnings: list[str] = []
    level = _decide_level(context, bands, scl_ref, allow_l1c, warnings)
    units = _units(usable, context)
    warnings += [u.warning for u in units.values() if u.warning]
    offset = decide_offset(usable, units, context, boa_offset)
    warnings += offset.warnings
    cloud_source, cloud_warnings = decide_cloud_source(clouds, scl_ref, mask_ref, set(usable))
    read = list(required_bands)
    if cloud_source.kind == SCREENING:
        read += [b for b in cloud_screening.REQUIRED_BANDS if b not in read]
    read = [b for b in sentinel2.AGBD_BAND_ORDER if b in read]
    decision = ProductDecision(
        product=context.product_name,
        layouts=files.layouts,
        level=level,
        offset=Finding(offset.offset_dn, offset.source, offset.detail),
        data_check=offset.check,
        quantification=_quantification(context),
        units=units,
        clouds=cloud_source,
        bands=bands,
        read=tuple(read),
        warnings=tuple(warnings + cloud_warnings),
        not_used=files.ignored,
    )
    decision.log()
    return Sentinel2Input(
        bands={name: usable[name] for name in read},
        decision=decision,
        cloud_mask=mask_ref if mask_ref is not None else scl_ref,
    )


def _check_required(
    bands: dict[str, BandRef], required: Sequence[str], paths: Sequence[Path]
) -> None:
    missing = [name for name in required if name not in bands]
    if missing:
        raise InputError(
            f"The Sentinel-2 input lacks band(s) {', '.join(missing)}. Add the file(s) for "
            f"{', '.join(missing)}, name them like '..._{missing[0]}.tif', or map them explicitly "
            f"(--band {missing[0]}=FILE[:INDEX]).",
            details=f"bands found: {', '.join(sorted(bands)) or 'none'}; "
            f"files: {file_names(paths)}",
        )


def _scene_classification(
    found: tuple[Path, ...], given: str | Path | None, bands: dict[str, BandRef]
) -> BandRef | None:
    candidates = [Path(given)] if given is not None else list(found)
    if len(candidates) > 1:
        raise InputError(
            f"Several scene classification layers given ({file_names(candidates)}); keep one."
        )
    if not candidates:
        return None
    ref = read_band_ref(candidates[0])
    if ref.crs != next(iter(bands.values())).crs:
        raise InputError(
            f"The scene classification layer {ref.path.name} is in another CRS than the bands."
        )
    return ref


def _read_mask(path: Path, bands: dict[str, BandRef]) -> BandRef:
    ref = read_band_ref(path)
    if ref.crs != next(iter(bands.values())).crs:
        raise InputError(
            f"The cloud mask {path.name} is in another CRS ({ref.crs}) than the Sentinel-2 bands; "
            "warp it onto them first (gdalwarp -t_srs ...)."
        )
    return ref


def _decide_level(
    context: ProductContext,
    bands: dict[str, BandRef],
    scl: BandRef | None,
    allow: bool,
    warnings: list[str],
) -> Finding | None:
    level = _level(context, bands, scl)
    if level is not None and level.value == L1C:
        if not allow:
            raise InputError(
                f"The input is a Level-1C product ({level.detail}): top-of-atmosphere reflectance. "
                "REO's models read surface reflectance (Level-2A, atmospherically corrected), and "
                "top-of-atmosphere values give biased biomass. Use the L2A product of the same "
                "acquisition, or run anyway with --allow-l1c (the result is marked as L1C)."
            )
        warnings.append(
            f"Level-1C input read as if it were Level-2A ({level.detail}), as asked "
            "(allow_l1c): top-of-atmosphere reflectance biases the estimates."
        )
    return level


def _level(
    context: ProductContext, bands: dict[str, BandRef], scl: BandRef | None
) -> Finding | None:
    for band, tags in context.tags.items():
        for key in ("PRODUCT_TYPE", "PROCESSING_LEVEL"):
            level = _level_word(tags.get(key, ""))
            if level:
                text = f"{key}={tags[key]} in {bands[band].path.name}"
                return Finding(level, "GDAL metadata", text)
    for found, source in ((context.mtd, "MTD"), (context.stac, "STAC item")):
        if found is not None and found.document.level:
            return Finding(found.document.level, source, found.where)
    for where, name in context.names:
        if name.level:
            return Finding(name.level, "product name", f"'{name.text}' in {where}")
    if "B10" in bands:
        detail = f"band B10 in {bands['B10'].path.name} (L2A products have no B10)"
        return Finding(L1C, "bands", detail)
    if scl is not None:
        return Finding(L2A, "bands", f"scene classification {scl.path.name}")
    return None


def _level_word(text: str) -> str | None:
    text = text.upper()
    return L2A if "2A" in text else L1C if "1C" in text else None


def _units(bands: dict[str, BandRef], context: ProductContext) -> dict[str, FileUnits]:
    by_file: dict[str, list[tuple[str, BandRef]]] = {}
    for name, ref in bands.items():
        by_file.setdefault(str(ref.path), []).append((name, ref))
    return {
        path: file_units([ref for _, ref in refs], context.units.get(refs[0][0], ""))
        for path, refs in by_file.items()
    }


def _quantification(context: ProductContext) -> float:
    """DN per unit reflectance: the MTD's (BOA_)QUANTIFICATION_VALUE, else ESA's 10000."""
    if context.mtd is not None and context.mtd.document.quantification:
        return float(context.mtd.document.quantification)
    return sentinel2.QUANTIFICATION_VALUE
