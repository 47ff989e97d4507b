"""Input rasters: which file and band holds each Sentinel-2 band and PALSAR-2 polarisation.

Sentinel-2 comes as one multi-band raster or as separate per-band files at their native 10/20/60 m.
A band's identity comes, in this order, from an explicit mapping, the band description, the file
name (``..._B8A.tif``) or, for a multi-band raster without descriptions, from its band count (12 =
AGBD order, 13 = L1C order with B10). Files are only opened to read their headers here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from reo_core.errors import InputError
from reo_core.sensors import palsar2, sentinel2
from reo_core.sensors.palsar2 import SarUnits

logger = logging.getLogger(__name__)

# A float nodata sentinel for warped reads of float sources that declare no nodata.
FLOAT_FILL = -9999.0


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
class Sentinel2Input:
    """Resolved Sentinel-2 input: a BandRef per band name, the BOA offset (DN) of each file, and
    the optional scene classification layer whose cloud, shadow and defect classes mask pixels."""

    bands: dict[str, BandRef]
    boa_offsets: dict[Path, int]
    scl: BandRef | None = None

    @property
    def crs(self) -> CRS:
        return next(iter(self.bands.values())).crs


@dataclass(frozen=True)
class SarInput:
    """Resolved PALSAR-2 input: a BandRef for HH and HV and the units they are stored in."""

    bands: dict[str, BandRef]
    units: SarUnits


def open_sentinel2(
    paths: Sequence[str | Path],
    required_bands: Sequence[str] = sentinel2.AGBD_BAND_ORDER,
    band_mapping: Mapping[str, str | tuple[str, int]] | None = None,
    boa_offset: int | None = None,
    scl: str | Path | None = None,
) -> Sentinel2Input:
    """Find every required Sentinel-2 band among ``paths``.

    Args:
        paths: one multi-band raster or several rasters (per-band files, or a mix). A file named
            like ``..._SCL.tif`` among them is taken as the scene classification layer.
        required_bands: the band names the caller needs; any other band found is ignored.
        band_mapping: band name -> file, or (file, 1-based band index), overriding detection.
        boa_offset: DN offset to subtract; None reads it from each file (tags, product name).
        scl: the L2A scene classification layer; its cloud, shadow and defect classes are masked.
    """
    scl_paths = [Path(p) for p in paths if sentinel2.is_scl_file_name(Path(p).stem)]
    paths = [p for p in paths if Path(p) not in scl_paths]
    if scl is not None:
        scl_paths = [Path(scl)]
    if len(scl_paths) > 1:
        raise InputError(
            f"Several scene classification layers given ({_names(scl_paths)}); keep one."
        )
    if not paths and not band_mapping:
        raise InputError("No Sentinel-2 input given; pass a multi-band raster or per-band files.")
    found = _collect(paths, band_mapping or {}, _s2_mapping_key, _detect_s2_bands)
    bands = {name: _single(name, found, "Sentinel-2") for name in required_bands if name in found}
    missing = [name for name in required_bands if name not in bands]
    if missing:
        raise InputError(
            f"The Sentinel-2 input lacks band(s) {', '.join(missing)}. Add the file(s) for "
            f"{', '.join(missing)}, name them like '..._{missing[0]}.tif', or map them explicitly.",
            details=f"bands found: {', '.join(sorted(found)) or 'none'}; files: {_names(paths)}",
        )
    _check_same_crs(bands, "Sentinel-2")
    offsets = {ref.path: _boa_offset(ref, boa_offset) for ref in bands.values()}
    scl_ref = read_band_ref(scl_paths[0]) if scl_paths else None
    if scl_ref is not None and scl_ref.crs != next(iter(bands.values())).crs:
        raise InputError(
            f"The scene classification layer {scl_ref.path.name} is in another CRS than the bands."
        )
    return Sentinel2Input(bands=bands, boa_offsets=offsets, scl=scl_ref)


def open_sar(
    paths: Sequence[str | Path],
    polarisation_mapping: Mapping[str, str | tuple[str, int]] | None = None,
    units: str | SarUnits | None = None,
) -> SarInput:
    """Find HH and HV among ``paths`` (two single-band files or one two-band file).

    ``units`` (dn, db, linear) defaults to: DN for integer rasters, dB for float rasters whose
    values are mostly negative, linear power otherwise.
    """
    found = _collect(paths, polarisation_mapping or {}, str.upper, _detect_sar_bands)
    bands = {p: _single(p, found, "PALSAR-2") for p in palsar2.POLARISATIONS if p in found}
    missing = [p for p in palsar2.POLARISATIONS if p not in bands]
    if missing:
        raise InputError(
            f"The PALSAR-2 input lacks {', '.join(missing)}. Give both HH and HV rasters "
            "(file names containing '_HH' / '_HV', or band descriptions HH / HV).",
            details=f"files: {_names(paths)}",
        )
    _check_same_crs(bands, "PALSAR-2")
    resolved_units = SarUnits.parse(units) if units is not None else _guess_sar_units(bands["HH"])
    return SarInput(bands=bands, units=resolved_units)


def _collect(paths, mapping: Mapping, name_of_key, detect) -> dict[str, list[BandRef]]:
    """Band name -> every place it was found: the explicit mapping first, then detection in files.

    A band the mapping names is not taken from detection, so a mapping can override a file's own
    description; two detections of one band are kept, for _single to refuse.
    """
    found: dict[str, list[BandRef]] = {}
    for key, target in mapping.items():
        path, index = (target, 1) if isinstance(target, (str, Path)) else target
        found.setdefault(name_of_key(key), []).append(read_band_ref(path, index))
    mapped = set(found)
    for path in paths:
        for name, ref in detect(path).items():
            if name not in mapped:
                found.setdefault(name, []).append(ref)
    return found


def _s2_mapping_key(key: str) -> str:
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
    if not path.exists():
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


def _band_ref(src: rasterio.DatasetReader, path: Path, index: int) -> BandRef:
    return BandRef(
        path=path,
        index=index,
        crs=src.crs,
        transform=src.transform,
        width=src.width,
        height=src.height,
        dtype=src.dtypes[index - 1],
        nodata=src.nodatavals[index - 1],
    )


def _bands_by_description(src, path: Path, name_of) -> dict[str, BandRef]:
    """Bands whose description ``name_of`` recognises ('B04', 'HH', ...)."""
    refs = {}
    for index, description in enumerate(src.descriptions, start=1):
        name = name_of(description or "")
        if name is not None:
            refs[name] = _band_ref(src, path, index)
    return refs


def _detect_s2_bands(path: str | Path) -> dict[str, BandRef]:
    path = Path(path)
    with _open(path) as src:
        refs = _bands_by_description(src, path, sentinel2.normalize_band_name)
        if refs:
            return {n: r for n, r in refs.items() if n not in sentinel2.IGNORED_BANDS}
        if src.count == 1:
            name = sentinel2.band_from_file_name(path.stem)
            if name is None:
                raise InputError(
                    f"Cannot tell which Sentinel-2 band {path.name} holds: it has no band description "
                    "and its name has no band code. Rename it like '..._B04.tif' or map it explicitly."
                )
            return {name: _band_ref(src, path, 1)}
        order = {12: sentinel2.AGBD_BAND_ORDER, 13: sentinel2.L1C_BAND_ORDER}.get(src.count)
        if order is None:
            raise InputError(
                f"{path.name} has {src.count} bands without descriptions; a stack without band "
                "descriptions must have 12 (B01..B12 without B10) or 13 (with B10) bands. "
                "Set band descriptions (B02, B03, ...) or map the bands explicitly."
            )
        logger.info(
            "%s: no band descriptions, assuming the %d-band order %s", path.name, src.count, order
        )
        return {
            name: _band_ref(src, path, i)
            for i, name in enumerate(order, start=1)
            if name not in sentinel2.IGNORED_BANDS
        }


def _detect_sar_bands(path: str | Path) -> dict[str, BandRef]:
    path = Path(path)
    with _open(path) as src:
        refs = _bands_by_description(src, path, palsar2.polarisation_from_name)
        if refs:
            return refs
        if src.count == 1:
            polarisation = palsar2.polarisation_from_name(path.stem)
            if polarisation is None:
                raise InputError(
                    f"Cannot tell whether {path.name} is HH or HV: name it like '..._HH.tif' "
                    "or set its band description."
                )
            return {polarisation: _band_ref(src, path, 1)}
        if src.count == 2:
            logger.info("%s: no band descriptions, assuming bands HH, HV", path.name)
            return {p: _band_ref(src, path, i) for i, p in enumerate(palsar2.POLARISATIONS, 1)}
        raise InputError(
            f"{path.name} has {src.count} bands; a PALSAR-2 raster holds HH and HV (2 bands)."
        )


def _single(name: str, found: dict[str, list[BandRef]], sensor: str) -> BandRef:
    refs = found[name]
    if len(refs) > 1:
        places = ", ".join(f"{r.path.name} band {r.index}" for r in refs)
        raise InputError(
            f"{sensor} band {name} is given more than once ({places}); keep one of them "
            "or map the band explicitly."
        )
    return refs[0]


def _check_same_crs(bands: dict[str, BandRef], sensor: str) -> None:
    crs_by_band = {name: ref.crs for name, ref in bands.items()}
    first_name, first_crs = next(iter(crs_by_band.items()))
    for name, crs in crs_by_band.items():
        if crs != first_crs:
            raise InputError(
                f"{sensor} bands are in different CRSs ({first_name}: {first_crs}, {name}: {crs}); "
                f"warp them to one CRS first."
            )


def _boa_offset(ref: BandRef, override: int | None) -> int:
    """DN offset of a Sentinel-2 file: explicit, GDAL's BOA_ADD_OFFSET tags, or its product name."""
    if not ref.is_integer:
        return 0  # float inputs are taken to be reflectance already
    if override is not None:
        return int(override)
    with rasterio.open(ref.path) as src:
        for tags in (src.tags(ref.index), src.tags()):
            for key, value in tags.items():
                if key.upper().startswith("BOA_ADD_OFFSET"):
                    return abs(int(float(value)))
    return sentinel2.boa_offset_for_baseline(sentinel2.processing_baseline(ref.path.name))


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


def _names(paths: Sequence[str | Path]) -> str:
    return ", ".join(Path(p).name for p in paths) or "none"
