"""From what a user downloaded to raster files: .SAFE folders, zips, product folders, files.

``--s2`` may name files, or what a download gives: a ``.SAFE`` folder (the bands lie in
``GRANULE/*/IMG_DATA/R10m|R20m|R60m``, or directly in ``IMG_DATA`` for L1C), a zipped ``.SAFE``
(read through GDAL's ``/vsizip/``), or a product folder (Major-TOM's ``B02.tif ...``, a STAC
download with its item JSON). From a folder, the rasters whose names name a band or the scene
classification are taken, each band at its native resolution (a .SAFE holds B02 at 10, 20 and 60 m);
a folder of rasters none of which names a band (one exported stack) gives all its rasters.
GDAL dataset names (``/vsi...`` paths, ``SENTINEL2_L2A:...`` subdatasets) pass through unchanged.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from reo_core.errors import InputError
from reo_core.sensors import sentinel2

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt")
_RESOLUTION_IN_NAME = re.compile(r"(?:^|[_\-./])R?([1-6]0)m(?=$|[_\-./])", re.IGNORECASE)
_GDAL_PREFIX = re.compile(r"^(/vsi[a-z0-9_]+/|[A-Z][A-Z0-9_]+:)")


@dataclass(frozen=True)
class S2Files:
    """The rasters to read bands from, the scene classification found with them, and how."""

    rasters: tuple[Path, ...]
    scl: tuple[Path, ...]
    layouts: tuple[str, ...]  # per given path: "file", ".SAFE folder", "zipped .SAFE", ...
    ignored: tuple[str, ...] = field(default=())  # rasters of folders not read (no band, resampled)


def is_gdal_name(path: str | Path) -> bool:
    """True for a GDAL dataset name that is not a plain file (``/vsizip/...``,
    ``SENTINEL2_L2A:...``)."""
    return _GDAL_PREFIX.match(str(path)) is not None


def expand_s2_inputs(paths: tuple[Path, ...]) -> S2Files:
    """The raster files behind the given files, folders and zips."""
    rasters: list[Path] = []
    scl: list[Path] = []
    layouts: list[str] = []
    ignored: list[str] = []
    for path in paths:
        layout, found = _expand(Path(path))
        layouts.append(layout)
        if layout == "file":
            (scl if sentinel2.is_scl_file_name(Path(path).stem) else rasters).append(Path(path))
            continue
        bands, scls, others = _sort_by_name(found)
        if not bands and not scls:
            bands = others  # a folder holding one exported stack: its bands are in the file
        else:
            ignored += [p.name for p in others]
        for group, found_here in ((rasters, bands), (scl, scls)):
            chosen = _native_resolution(found_here)
            group += chosen
            ignored += [p.name for p in found_here if p not in chosen]
    return S2Files(tuple(rasters), tuple(scl), tuple(layouts), tuple(ignored))


def _expand(path: Path) -> tuple[str, list[Path]]:
    if is_gdal_name(path) or (path.is_file() and path.suffix.lower() != ".zip"):
        return "file", [path]
    if path.is_file():
        return "zipped product", _zip_rasters(path)
    if not path.is_dir():
        raise InputError(f"The Sentinel-2 input {path} does not exist; check the path.")
    safe = _safe_root(path)
    if safe is not None:
        img = sorted(p for p in safe.glob("GRANULE/*/IMG_DATA/**/*") if _is_raster(p))
        return ".SAFE folder", img
    rasters = sorted(p for p in path.iterdir() if _is_raster(p))
    if not rasters:
        raise InputError(
            f"The folder {path} holds no Sentinel-2 rasters (.tif, .jp2) and is not a .SAFE "
            "product; give the product folder, its .SAFE folder or zip, or the band files."
        )
    return "product folder", rasters


def _safe_root(folder: Path) -> Path | None:
    """The .SAFE product folder at or inside ``folder`` (one level: an unzipped download)."""
    for candidate in (folder, *sorted(folder.glob("*.SAFE"))):
        if (candidate / "GRANULE").is_dir():
            return candidate
    return None


def _zip_rasters(path: Path) -> list[Path]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"{path.name} is not a zip file that can be read: {error}") from None
    members = [n for n in names if "/IMG_DATA/" in n and n.lower().endswith(RASTER_SUFFIXES)]
    members = members or [n for n in names if n.lower().endswith(RASTER_SUFFIXES)]
    if not members:
        raise InputError(f"The zip {path.name} holds no Sentinel-2 rasters (.jp2, .tif).")
    # GDAL's braces keep the archive's absolute path whole (a Path would fold "/vsizip//tmp").
    return [Path(f"/vsizip/{{{path.resolve()}}}/{member}") for member in sorted(members)]


def _is_raster(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in RASTER_SUFFIXES


def _sort_by_name(paths: list[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """(rasters naming a band, scene classifications, the others)."""
    bands, scls, others = [], [], []
    for path in paths:
        if sentinel2.is_scl_file_name(path.stem):
            scls.append(path)
        elif _band_of(path) is not None:
            bands.append(path)
        else:
            others.append(path)
    return bands, scls, others


def _band_of(path: Path) -> str | None:
    try:
        return sentinel2.band_from_file_name(path.stem)
    except InputError:
        return None


def _native_resolution(paths: list[Path]) -> list[Path]:
    """One file per band: the one at the band's native resolution when several resolutions exist."""
    by_band: dict[str, list[Path]] = {}
    for path in paths:
        band = "SCL" if sentinel2.is_scl_file_name(path.stem) else _band_of(path)
        by_band.setdefault(band or path.name, []).append(path)
    chosen = []
    for band, group in by_band.items():
        native = 20 if band == "SCL" else getattr(sentinel2.ALL_BANDS.get(band), "resolution_m", 0)
        at_native = [p for p in group if _resolution_in_name(p) == native]
        chosen += at_native if len(group) > 1 and at_native else group
    return chosen


def _resolution_in_name(path: Path) -> int | None:
    """10, 20 or 60 from a name like ``..._B02_20m.jp2`` or a folder ``R20m``."""
    for part in (path.stem, path.parent.name):
        if match := _RESOLUTION_IN_NAME.search(part):
            return int(match.group(1))
    return None
