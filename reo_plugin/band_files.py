"""An explicit band mapping as files the worker recognises by themselves.

The worker finds Sentinel-2 bands by band description, file name or band order. When the user maps
bands by hand (a file named ``red.tif`` is B04, band 7 of a stack is B08), the plugin writes one
small GDAL VRT per band, named after the source and the band and described as that band, pointing at the chosen
file and band; the worker then reads exactly what the user chose. VRTs hold no pixels: they are a
few hundred bytes each, kept in a cache folder keyed by the mapping.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from reo_core.errors import InputError

CACHE_DIR = Path(tempfile.gettempdir()) / "reo-band-mapping"


def band_vrts(mapping: dict[str, tuple[str, int]], folder: Path | None = None) -> list[str]:
    """One VRT per mapped band (``B04.vrt`` -> band ``index`` of ``file``); their paths."""
    from osgeo import gdal

    folder = folder or _cache_folder(mapping)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for band, (source, index) in sorted(mapping.items()):
        # The source's name is kept: the processing baseline (BOA offset) is read from it.
        target = folder / f"{Path(source).stem}_{band}.vrt"
        if not target.is_file():
            _write_vrt(gdal, source, index, band, target)
        paths.append(str(target))
    return paths


def scl_alias(path: str) -> str:
    """A VRT named ``..._SCL.vrt`` for a scene classification file whose name does not say so."""
    from osgeo import gdal

    folder = _cache_folder({"SCL": (path, 1)})
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{Path(path).stem}_SCL.vrt"
    if not target.is_file():
        _write_vrt(gdal, path, 1, "SCL", target)
    return str(target)


def _write_vrt(gdal, source: str, index: int, band: str, target: Path) -> None:
    dataset = gdal.Open(source)
    if dataset is None:
        raise InputError(f"The file {source} (mapped to {band}) cannot be opened; check the layer.")
    if not 1 <= index <= dataset.RasterCount:
        raise InputError(
            f"{Path(source).name} has {dataset.RasterCount} band(s); band {index} cannot be {band}."
        )
    partial = target.with_suffix(".partial.vrt")
    vrt = gdal.Translate(str(partial), dataset, format="VRT", bandList=[index])
    if vrt is None:
        raise InputError(
            f"Could not describe band {index} of {source} as {band} (GDAL: {gdal.GetLastErrorMsg()})."
        )
    vrt.GetRasterBand(1).SetDescription(band)
    vrt = None  # writes the file
    partial.replace(target)


def _cache_folder(mapping: dict[str, tuple[str, int]]) -> Path:
    stamps = {band: [str(Path(p).resolve()), int(i), _mtime(p)] for band, (p, i) in mapping.items()}
    key = hashlib.sha1(json.dumps(stamps, sort_keys=True).encode()).hexdigest()[:16]
    return CACHE_DIR / key


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0
