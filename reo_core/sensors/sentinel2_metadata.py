"""What a Sentinel-2 product says about itself: its name, its MTD_MSIL*.xml and its STAC item.

Plain parsing of text (no GDAL): each reader returns what the document states and None for what it
does not, so that the radiometry decision can tell "this source is silent" from "this source says
0".

- Product names: ESA's ``S2B_MSIL2A_20220105T090329_N0400_R007_T33NZA_20220105T105930`` (also
  truncated, as BigEarthNet's ``S2A_MSIL2A_20170613T101031_87_48``), Earth Search's
  ``S2B_33UUP_20230615_0_L2A``, a granule folder ``L2A_T33NZA_A025247_20220105T091436`` and a
  granule file ``T33NZA_20220105T090329_B04_10m``.
- ``MTD_MSIL2A.xml`` / ``MTD_MSIL1C.xml``: product type, processing baseline, start time, the
  per-band ``BOA_ADD_OFFSET`` (L2A) or ``RADIO_ADD_OFFSET`` (L1C) and the quantification value.
- A STAC item (Earth Search, Planetary Computer, CDSE): ``s2:processing_baseline``,
  ``s2:product_type``, ``datetime``, and per asset ``raster:bands`` scale and offset and the band.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath

from reo_core.sensors.sentinel2 import L1C_BAND_ORDER, normalize_band_name

L2A, L1C = "L2A", "L1C"

_SAFE_NAME = re.compile(
    r"S2[A-D]_MSIL(1C|2A)_(\d{8})T\d{4,6}(?:_N(\d{2})(\d{2}))?"  # mission, level, date, baseline
    r"(?:_R\d{3}_T\d{2}[A-Z]{3}(?:_\d{8}T\d{6})?)?",  # orbit, tile, discriminator
    re.IGNORECASE,
)
_EARTH_SEARCH_NAME = re.compile(r"S2[A-D]_\d{1,2}[C-X][A-Z]{2}_(\d{8})_\d+_L(1C|2A)", re.IGNORECASE)
_GRANULE_FOLDER = re.compile(r"L(1C|2A)_T\d{2}[A-Z]{3}_A\d{6}_(\d{8})T\d{6}", re.IGNORECASE)
_GRANULE_FILE = re.compile(r"T\d{2}[A-Z]{3}_(\d{8})T\d{6}", re.IGNORECASE)


@dataclass(frozen=True)
class ProductName:
    """What a name states: the matched text, and its level, acquisition date and baseline if any."""

    text: str
    level: str | None = None
    acquired: date | None = None
    baseline: tuple[int, int] | None = None


def parse_product_name(text: str) -> ProductName | None:
    """The Sentinel-2 product named in ``text`` (a file or folder name), or None."""
    if match := _SAFE_NAME.search(text):
        baseline = None if match.group(3) is None else (int(match.group(3)), int(match.group(4)))
        return ProductName(
            match.group(0), "L" + match.group(1).upper(), _day(match.group(2)), baseline
        )
    if match := _EARTH_SEARCH_NAME.search(text):
        return ProductName(match.group(0), "L" + match.group(2).upper(), _day(match.group(1)))
    if match := _GRANULE_FOLDER.search(text):
        return ProductName(match.group(0), "L" + match.group(1).upper(), _day(match.group(2)))
    if match := _GRANULE_FILE.search(text):
        return ProductName(match.group(0), None, _day(match.group(1)))
    return None


def names_in_path(path: str | PurePath) -> list[ProductName]:
    """Product names in a path's file name and its folders, nearest first."""
    parts = PurePath(path).parts
    found = [parse_product_name(PurePath(part).stem) for part in reversed(parts)]
    return [name for name in found if name is not None]


@dataclass(frozen=True)
class ProductMetadata:
    """What an MTD_MSIL2A.xml / MTD_MSIL1C.xml states."""

    level: str | None
    baseline: tuple[int, int] | None
    acquired: date | None
    product: str | None  # PRODUCT_URI without .SAFE
    offsets: dict[str, int] | None  # band -> DN offset (positive), None when the list is absent
    quantification: float | None


def parse_product_metadata(text: str | bytes) -> ProductMetadata:
    """Read the product-level metadata file of a .SAFE; ValueError if it is not XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ValueError(f"not XML: {error}") from None
    values = {_local(e.tag): (e.text or "").strip() for e in root.iter()}
    root_tag = _local(root.tag)
    level = _level_of(values.get("PRODUCT_TYPE", "") + " " + values.get("PROCESSING_LEVEL", ""))
    if level is None:
        level = L2A if "2A" in root_tag else L1C if "1C" in root_tag else None
    offsets = {}
    for element in root.iter():
        if _local(element.tag) in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET"):
            band_id = int(element.get("band_id", "-1"))
            if 0 <= band_id < len(L1C_BAND_ORDER):
                offsets[L1C_BAND_ORDER[band_id]] = abs(round(float(element.text)))
    quantification = values.get("BOA_QUANTIFICATION_VALUE") or values.get("QUANTIFICATION_VALUE")
    product = values.get("PRODUCT_URI") or None
    return ProductMetadata(
        level=level,
        baseline=_baseline(values.get("PROCESSING_BASELINE")),
        acquired=_day(values.get("PRODUCT_START_TIME", "")[:10].replace("-", "")),
        product=product.removesuffix(".SAFE") if product else None,
        offsets=offsets or None,
        quantification=float(quantification) if quantification else None,
    )


@dataclass(frozen=True)
class StacAsset:
    """One asset of a STAC item: the band it holds and its DN offset, when the item says."""

    band: str | None
    offset_dn: int | None


@dataclass(frozen=True)
class StacItem:
    """What a Sentinel-2 STAC item states."""

    product: str | None
    level: str | None
    baseline: tuple[int, int] | None
    acquired: date | None
    offset_removed: bool | None  # Earth Search's earthsearch:boa_offset_applied
    assets: dict[str, StacAsset] = field(default_factory=dict)  # by file name of the href


def is_stac_item(document: object) -> bool:
    return (
        isinstance(document, dict)
        and document.get("type") == "Feature"
        and "stac_version" in document
        and isinstance(document.get("assets"), dict)
    )


def parse_stac_item(document: dict) -> StacItem:
    """Read a STAC item (a dict from its JSON)."""
    properties = document.get("properties") or {}
    product = properties.get("s2:product_uri") or document.get("id")
    level = _level_of(str(properties.get("s2:product_type", "")))
    level = level or _level_of(str(properties.get("processing:level", "")))
    if level is None and isinstance(product, str) and (name := parse_product_name(product)):
        level = name.level
    removed = properties.get("earthsearch:boa_offset_applied")
    return StacItem(
        product=str(product).removesuffix(".SAFE") if product else None,
        level=level,
        baseline=_baseline(properties.get("s2:processing_baseline")),
        acquired=_day(str(properties.get("datetime") or "")[:10].replace("-", "")),
        offset_removed=removed if isinstance(removed, bool) else None,
        assets={
            PurePath(str(asset.get("href", ""))).name: _asset(key, asset)
            for key, asset in (document.get("assets") or {}).items()
            if isinstance(asset, dict) and asset.get("href")
        },
    )


def _asset(key: str, asset: dict) -> StacAsset:
    band = None
    for entry in asset.get("eo:bands") or []:
        if isinstance(entry, dict):
            band = normalize_band_name(str(entry.get("name", ""))) or normalize_band_name(
                str(entry.get("common_name", ""))
            )
            break
    band = band or normalize_band_name(key)
    offset_dn = None
    raster_bands = asset.get("raster:bands") or []
    if raster_bands and isinstance(raster_bands[0], dict) and "offset" in raster_bands[0]:
        scale = float(raster_bands[0].get("scale") or 1.0)
        offset_dn = abs(round(float(raster_bands[0]["offset"]) / scale))
    return StacAsset(band, offset_dn)


def _level_of(text: str) -> str | None:
    text = text.upper()
    if "2A" in text:
        return L2A
    if "1C" in text:
        return L1C
    return None


def _baseline(text: object) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{1,2})\.(\d{2})", str(text or "").strip())
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def _day(yyyymmdd: str) -> date | None:
    try:
        return datetime.strptime(yyyymmdd, "%Y%m%d").date()
    except ValueError:
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
