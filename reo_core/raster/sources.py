"""Input rasters: which file and band holds each Sentinel-2 band and PALSAR-2 polarisation.

Sentinel-2 comes as one multi-band raster or as separate per-band files at their native 10/20/60 m.
A band's identity comes, in this order, from an explicit mapping, the band description or GDAL's
``BANDNAME`` item (``B02``, ``B2``, ``b8a``, ``B08_10m``, STAC common names such as ``nir08``), the
file name (``..._B8A.tif``, ``B02.tif``) or, for a stack without band names, from the band order
the user names (``agbd``, ``l1c``, ``eurosat``): 12 or 13 unnamed bands fit several orders, so REO
does not guess. Files are only opened to read their headers here.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from reo_core.errors import InputError
from reo_core.raster.product_files import is_gdal_name
from reo_core.sensors import palsar2, sentinel2
from reo_core.sensors.palsar2 import SarUnits

logger = logging.getLogger(__name__)

# A float nodata sentinel for warped reads of float sources that declare no nodata.
FLOAT_FILL = -9999.0
_POSITIONAL = re.compile(r"band\s*\d+", re.IGNORECASE)


@dataclass(frozen=True)
class BandRef:
    """One band of one file: the file, its 1-based band index and what the file says about it."""

    path: Path
    index: int
    crs: CRS
    transform: rasterio.Affine
    width: int
    height: int
    dtype: str
    nodata: float | None
    identified_by: str = ""  # how the band was recognised: description, file name, order, ...

    @property
    def resolution(self) -> float:
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (self.width, self.height)
        return min(left, right), min(top, bottom), max(left, right), max(top, bottom)

    @property
    def is_integer(self) -> bool:
        return np.issubdtype(np.dtype(self.dtype), np.integer)


@dataclass(frozen=True)
class SarInput:
    """Resolved PALSAR-2 input: a BandRef for HH and HV and the units they are stored in."""

    bands: dict[str, BandRef]
    units: SarUnits


def open_sar(
    paths: Sequence[str | Path],
    polarisation_mapping: Mapping[str, str | tuple[str, int]] | None = None,
    units: str | SarUnits | None = None,
) -> SarInput:
    """Find HH and HV among ``paths`` (two single-band files or one two-band file).

    ``units`` (dn, db, linear) defaults to: DN for integer rasters, dB for float rasters whose
    values are mostly negative, linear power otherwise.
    """
    found = collect_bands(paths, polarisation_mapping or {}, str.upper, _detect_sar_bands)
    bands = {p: single_band(p, found, "PALSAR-2") for p in palsar2.POLARISATIONS if p in found}
    missing = [p for p in palsar2.POLARISATIONS if p not in bands]
    if missing:
        raise InputError(
            f"The PALSAR-2 input lacks {', '.join(missing)}. Give both HH and HV rasters "
            "(file names containing '_HH' / '_HV', or band descriptions HH / HV).",
            details=f"files: {file_names(paths)}",
        )
    check_same_crs(bands, "PALSAR-2")
    resolved_units = SarUnits.parse(units) if units is not None else _guess_sar_units(bands["HH"])
    return SarInput(bands=bands, units=resolved_units)


def collect_bands(
    paths: Iterable[Path],
    mapping: Mapping[str, str | Path | tuple[str | Path, int]],
    name_of_key: Callable[[str], str],
    detect: Callable[[Path], dict[str, BandRef]],
) -> dict[str, list[BandRef]]:
    """Band name -> every place it was found: the explicit mapping first, then detection in files.

    A band the mapping names is not taken from detection, so a mapping can override a file's own
    description; two detections of one band are kept, for single_band to refuse.
    """
    found: dict[str, list[BandRef]] = {}
    for key, target in mapping.items():
        path, index = (target, 1) if isinstance(target, (str, Path)) else target
        ref = replace(read_band_ref(path, index), identified_by="band mapping")
        found.setdefault(name_of_key(key), []).append(ref)
    mapped = set(found)
    for path in paths:
        for name, ref in detect(path).items():
            if name not in mapped:
                found.setdefault(name, []).append(ref)
    return found


def s2_mapping_key(key: str) -> str:
    name = sentinel2.normalize_band_name(key)
    if name is None:
        raise InputError(f"Band mapping key '{key}' is not a Sentinel-2 band name (B01..B12, B8A).")
    return name


def read_band_ref(path: str | Path, index: int = 1) -> BandRef:
    """Header of one band of a raster, checked for being a georeferenced raster."""
    path = Path(path)
    with _open(path) as src:
        if not 1 <= index <= src.count:
            raise InputError(f"{path.name} has {src.count} band(s); band {index} does not exist.")
        return _band_ref(src, path, index)


def _open(path: Path) -> rasterio.DatasetReader:
    if not is_gdal_name(path) and not path.exists():
        raise InputError(f"Input raster {path} does not exist; check the path.")
    try:
        src = rasterio.open(path)
    except RasterioIOError as error:
        raise InputError(
            f"{path.name} is not a raster GDAL can read; give a GeoTIFF or another GDAL raster.",
            details=str(error),
        ) from None
    if src.crs is None:
        src.close()
        raise InputError(
            f"{path.name} has no coordinate reference system; assign one "
            f"(e.g. gdal_edit.py -a_srs EPSG:32633 {path.name}) and try again."
        )
    if src.transform.b != 0 or src.transform.d != 0:
        src.close()
        raise InputError(f"{path.name} is rotated; warp it to a north-up grid (gdalwarp) first.")
    return src


def _band_ref(
    src: rasterio.DatasetReader, path: Path, index: int, identified_by: str = ""
) -> BandRef:
    return BandRef(
        path=path,
        index=index,
        crs=src.crs,
        transform=src.transform,
        width=src.width,
        height=src.height,
        dtype=src.dtypes[index - 1],
        nodata=src.nodatavals[index - 1],
        identified_by=identified_by,
    )


def _bands_by_description(
    src: rasterio.DatasetReader, path: Path, name_of: Callable[[str], str | None]
) -> dict[str, BandRef]:
    """Bands whose description (or GDAL ``BANDNAME`` item) ``name_of`` recognises ('B04', 'HH').

    A description that is only the band's position ('Band 9' at band 9) names nothing: tools write
    them for any stack, and 'Band 9' of an L1C stack is B8A.
    """
    refs = {}
    for index, description in enumerate(src.descriptions, start=1):
        text = description or src.tags(index).get("BANDNAME", "")
        if _POSITIONAL.fullmatch(text.strip()) and int(text.split()[-1]) == index:
            continue
        name = name_of(text)
        if name is not None:
            refs[name] = _band_ref(src, path, index, "band description")
    return refs


def detect_s2_bands(path: str | Path, band_order: str | None = None) -> dict[str, BandRef]:
    """The Sentinel-2 bands of one file, B10 included (the caller decides what to ignore)."""
    path = Path(path)

    def in_order(count: int) -> tuple[tuple[str, ...], str]:
        return _band_order(path, count, band_order), f"band order '{band_order}'"

    unnamed = (
        f"Cannot tell which Sentinel-2 band {path.name} holds: "
        "it has no band description and its name has no band code. "
        f"Rename it like '..._B04.tif' or map it explicitly (--band B04={path.name})."
    )
    return _detect_bands(
        path, sentinel2.normalize_band_name, sentinel2.band_from_file_name, unnamed, in_order
    )


def _detect_bands(
    path: Path,
    described: Callable[[str], str | None],
    from_file_name: Callable[[str], str | None],
    unnamed: str,
    stack_order: Callable[[int], tuple[tuple[str, ...], str]],
) -> dict[str, BandRef]:
    """The bands of one file, named by their descriptions (``described``), else the single band by
    the file name (``from_file_name``; InputError ``unnamed`` when it names none), else in the
    order ``stack_order(band count)`` gives for a multi-band file without names (with how that
    order was chosen)."""
    with _open(path) as src:
        refs = _bands_by_description(src, path, described)
        if refs:
            return refs
        if src.count == 1:
            name = from_file_name(path.stem)
            if name is None:
                raise InputError(unnamed)
            return {name: _band_ref(src, path, 1, "file name")}
        order, identified_by = stack_order(src.count)
        return {name: _band_ref(src, path, i, identified_by) for i, name in enumerate(order, 1)}


def _band_order(path: Path, count: int, band_order: str | None) -> tuple[str, ...]:
    """The order the user named for a stack without band names; refused when none was named."""
    fitting = [
        f"{key} ({', '.join(order)})"
        for key, order in sentinel2.BAND_ORDERS.items()
        if len(order) == count
    ]
    if band_order is None:
        hint = (
            f"{count} unnamed bands fit several orders: " + "; ".join(fitting) + ". "
            if len(fitting) > 1
            else f"{fitting[0]} is the usual order of {count} bands, but REO does not guess. "
            if fitting
            else ""
        )
        raise InputError(
            f"{path.name} has {count} bands without band names. {hint}Say which order it is in "
            f"(--band-order {'|'.join(sentinel2.BAND_ORDERS)}), set its band descriptions "
            "(B02, B03, ...) or map the bands (--band B02=FILE:INDEX)."
        )
    order = sentinel2.BAND_ORDERS.get(band_order)
    if order is None:
        raise InputError(
            f"Unknown band order '{band_order}'; choose one of {', '.join(sentinel2.BAND_ORDERS)}."
        )
    if len(order) != count:
        raise InputError(
            f"{path.name} has {count} bands, but the band order '{band_order}' has {len(order)}; "
            + (
                "choose " + " or ".join(fitting)
                if fitting
                else "map the bands (--band B02=FILE:INDEX)"
            )
            + "."
        )
    return order


def _detect_sar_bands(path: str | Path) -> dict[str, BandRef]:
    path = Path(path)

    def in_order(count: int) -> tuple[tuple[str, ...], str]:
        if count != 2:
            raise InputError(
                f"{path.name} has {count} bands; a PALSAR-2 raster holds HH and HV (2 bands)."
            )
        logger.info("%s: no band descriptions, assuming bands HH, HV", path.name)
        return tuple(palsar2.POLARISATIONS), "band order HH, HV"

    unnamed = (
        f"Cannot tell whether {path.name} is HH or HV: name it like '..._HH.tif' "
        "or set its band description."
    )
    name_of = palsar2.polarisation_from_name
    return _detect_bands(path, name_of, name_of, unnamed, in_order)


def single_band(name: str, found: dict[str, list[BandRef]], sensor: str) -> BandRef:
    refs = found[name]
    if len(refs) > 1:
        places = ", ".join(f"{r.path.name} band {r.index}" for r in refs)
        raise InputError(
            f"{sensor} band {name} is given more than once ({places}); keep one of them "
            "or map the band explicitly."
        )
    return refs[0]


def check_same_crs(bands: dict[str, BandRef], sensor: str) -> None:
    crs_by_band = {name: ref.crs for name, ref in bands.items()}
    first_name, first_crs = next(iter(crs_by_band.items()))
    for name, crs in crs_by_band.items():
        if crs != first_crs:
            raise InputError(
                f"{sensor} bands are in different CRSs ({first_name}: {first_crs}, {name}: {crs}); "
                f"warp them to one CRS first."
            )


def _guess_sar_units(ref: BandRef) -> SarUnits:
    if ref.is_integer:
        return SarUnits.DN
    with rasterio.open(ref.path) as src:
        step = max(1, max(src.width, src.height) // 256)
        sample = src.read(ref.index, out_shape=(src.height // step or 1, src.width // step or 1))
    values = sample[np.isfinite(sample)]
    if ref.nodata is not None and not math.isnan(ref.nodata):
        values = values[values != ref.nodata]
    units = SarUnits.DB if values.size and np.median(values) < 0 else SarUnits.LINEAR
    logger.info(
        "%s: float PALSAR-2 values read as %s (pass units to override)", ref.path.name, units.value
    )
    return units


def file_names(paths: Sequence[str | Path]) -> str:
    return ", ".join(Path(p).name for p in paths) or "none"
