"""Everything the files of a Sentinel-2 input say about their product, gathered once.

For every band file (and, for a VRT or a GDAL subdataset, the files behind it): its GDAL metadata
(dataset and band items, band scale and offset), the ``MTD_MSIL2A.xml`` / ``MTD_MSIL1C.xml`` beside
it or in a parent folder (inside a zip too), a STAC item JSON beside it that lists it, and product
names in the path. The decisions (radiometry, level) read this; nothing here decides anything.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import rasterio

from reo_core.raster.product_files import is_gdal_name
from reo_core.raster.sources import BandRef
from reo_core.sensors.sentinel2_metadata import (
    ProductMetadata,
    ProductName,
    StacItem,
    is_stac_item,
    names_in_path,
    parse_product_metadata,
    parse_stac_item,
)

logger = logging.getLogger(__name__)

MTD_NAMES = ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml")
MTD_SEARCH_DEPTH = 6  # parent folders searched: IMG_DATA/R10m is 4 below the .SAFE root
MAX_JSON_BYTES = 5_000_000  # a STAC item is a few kB; larger JSON files are not items


@dataclass(frozen=True)
class Found:
    """A document found for a product, and where."""

    where: str
    document: ProductMetadata | StacItem


@dataclass
class ProductContext:
    """What the input's files say, per band name."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # upper-case keys
    scaling: dict[str, tuple[float, float]] = field(default_factory=dict)  # GDAL (scale, offset)
    units: dict[str, str] = field(default_factory=dict)  # GDAL band unit type
    mtd: Found | None = None
    stac: Found | None = None
    stac_assets: dict[str, str] = field(default_factory=dict)  # band -> asset file name
    names: list[tuple[str, ProductName]] = field(
        default_factory=list
    )  # (path, name), nearest first

    @property
    def product_name(self) -> str | None:
        for found in (self.mtd, self.stac):
            if found is not None and found.document.product:
                return found.document.product
        return self.names[0][1].text if self.names else None


def read_product_context(bands: dict[str, BandRef]) -> ProductContext:
    """Gather the metadata of every band's file once."""
    context = ProductContext()
    related: list[str] = []
    for name, ref in bands.items():
        files = _read_gdal(ref, name, context)
        for path in files:
            if path not in related:
                related.append(path)
    for path in related:
        context.names += [(path, n) for n in names_in_path(path) if (path, n) not in context.names]
        if context.mtd is None:
            context.mtd = _find_mtd(path)
    for name, ref in bands.items():
        _find_stac(ref.path, name, context)
    return context


def _read_gdal(ref: BandRef, name: str, context: ProductContext) -> list[str]:
    """Record one band's GDAL metadata; the file and the files behind it (VRT sources, MTD)."""
    with rasterio.open(ref.path) as src:
        tags = {k.upper(): v for k, v in {**src.tags(), **src.tags(ref.index)}.items()}
        context.tags[name] = tags
        context.scaling[name] = (src.scales[ref.index - 1], src.offsets[ref.index - 1])
        context.units[name] = src.units[ref.index - 1] or ""
        files = list(src.files or [])
    return [str(ref.path)] + [f for f in files if f != str(ref.path) and not f.endswith(".aux.xml")]


def _find_mtd(path: str) -> Found | None:
    """The product metadata file beside ``path`` or in one of its parent folders (also in a zip)."""
    if path.startswith("/vsizip/"):
        return _find_mtd_in_zip(path)
    if is_gdal_name(path):
        return None
    folder = Path(path).parent
    for _ in range(MTD_SEARCH_DEPTH):
        for mtd_name in MTD_NAMES:
            candidate = folder / mtd_name
            if candidate.is_file():
                return _parse_mtd(str(candidate), candidate.read_bytes())
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def _find_mtd_in_zip(path: str) -> Found | None:
    inner = path.removeprefix("/vsizip/")
    if inner.startswith("{"):  # /vsizip/{archive}/member
        archive_path, _, member = inner[1:].partition("}/")
    else:  # /vsizip/archive.zip/member
        archive_path, _, member = inner.partition(".zip/")
        archive_path += ".zip"
    try:
        with zipfile.ZipFile(archive_path) as archive:
            names = set(archive.namelist())
            folder = PurePosixPath(member).parent
            for _ in range(MTD_SEARCH_DEPTH):
                for mtd_name in MTD_NAMES:
                    candidate = str(folder / mtd_name).removeprefix("./")
                    if candidate in names:
                        return _parse_mtd(f"{archive_path}/{candidate}", archive.read(candidate))
                folder = folder.parent
    except (OSError, zipfile.BadZipFile):
        return None
    return None


def _parse_mtd(where: str, text: bytes) -> Found | None:
    try:
        return Found(where, parse_product_metadata(text))
    except ValueError as error:
        logger.warning("%s cannot be read (%s); it is not used", where, error)
        return None


def _find_stac(path: Path, band: str, context: ProductContext) -> None:
    """A STAC item beside ``path`` that lists it (or the folder's only item)."""
    if is_gdal_name(path):
        return
    items = [context.stac] if context.stac else _stac_items(Path(path).parent)
    for found in items:
        item: StacItem = found.document
        if path.name in item.assets or len(items) == 1:
            context.stac = found
            if path.name in item.assets:
                context.stac_assets[band] = path.name
            return


def _stac_items(folder: Path) -> list[Found]:
    found = []
    for candidate in sorted(folder.glob("*.json")):
        if candidate.stat().st_size > MAX_JSON_BYTES:
            continue
        try:
            document = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if is_stac_item(document):
            found.append(Found(str(candidate), parse_stac_item(document)))
    return found
