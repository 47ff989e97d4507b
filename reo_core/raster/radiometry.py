"""The BOA offset of a Sentinel-2 input: decided from its metadata, then checked against its data.

From processing baseline 04.00 (products from 25 January 2022, and the whole archive reprocessed
as baseline 05.00) every L2A digital number carries ``BOA_ADD_OFFSET`` = 1000 DN; reading such data
as if it had none adds 0.1 to every reflectance, and the opposite error clips dark pixels to 0.
The offset is decided in this order, the first source that answers winning:

1. the user's explicit choice (``--boa-offset 0|1000``);
2. GDAL metadata: ``BOA_ADD_OFFSET*`` / ``RADIO_ADD_OFFSET*`` items, a band scale of 1e-4 with its
   offset, the SENTINEL2 driver's ``PROCESSING_BASELINE``;
3. the ``MTD_MSIL2A.xml`` beside the files or in a parent folder (a .SAFE's own list);
4. a STAC item beside the files (``raster:bands`` offset, ``s2:processing_baseline``);
5. a product name anywhere in the path, with a baseline ESA uses (``N0400`` and later);
6. the acquisition date (from 2022-01-25).

Then the data always get a say (:mod:`reo_core.sensors.offset_check`, the check AGBD patches get
too): for each sampled pixel the darkest of B02, B04, B11 and B12. With the offset, that darkest
value sits just above 1000 DN and hardly ever far below (that would be reflectance under -0.05);
without it, most dark surfaces lie below 500 DN. A source the data contradict is overruled with a
warning; the user's choice is kept, with a warning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import numpy as np

from reo_core.errors import InputError
from reo_core.raster.product_context import ProductContext
from reo_core.raster.sampling import sample_band, sample_shape, valid_values
from reo_core.raster.sources import BandRef
from reo_core.raster.units import DN, FileUnits
from reo_core.sensors import sentinel2
from reo_core.sensors.offset_check import DARK_BANDS, FAR_BELOW_DN, MIN_PIXELS, dark_shares

OFFSET = sentinel2.BOA_ADD_OFFSET_DN
DATE_KEYS = (
    "PRODUCT_START_TIME",
    "DATATAKE_1_DATATAKE_SENSING_START",
    "SENSING_TIME",
    "ACQUISITION_DATE",
    "DATE_ACQUIRED",
)


@dataclass(frozen=True)
class Finding:
    """A value and where it came from."""

    value: int | str  # a DN offset, a level ("L2A"), a date as yyyymmdd
    source: str  # user | GDAL metadata | MTD | STAC item | product name | acquisition date | data
    detail: str


@dataclass(frozen=True)
class DataCheck:
    """What the darkest band of each sampled pixel says about the offset."""

    bands: tuple[str, ...]
    pixels: int
    share_below_offset: float | None
    share_far_below: float | None  # below 500 DN
    share_just_above: float | None  # 1000..1500 DN
    verdict: str  # "offset" | "no offset" | "undecided"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OffsetDecision:
    offset_dn: int
    source: str
    detail: str
    check: DataCheck
    warnings: tuple[str, ...]


def decide_offset(
    bands: dict[str, BandRef],
    units: dict[str, FileUnits],
    context: ProductContext,
    user_offset: int | None,
) -> OffsetDecision:
    """The offset of the input ``bands`` (all bands found), with its source and the data check."""
    check = data_check(bands, units)
    warnings: list[str] = []
    if user_offset is not None:
        chosen = Finding(int(user_offset), "user", f"boa_offset={user_offset}")
        if _contradicts(chosen.value, check):
            warnings.append(_conflict(chosen, check, kept=True))
        return OffsetDecision(chosen.value, chosen.source, chosen.detail, check, tuple(warnings))
    if not any(u.kind == DN for u in units.values()):
        value = OFFSET if check.verdict == "offset" else 0
        if value:
            warnings.append(_conflict(Finding(0, "units", "reflectance input"), check, kept=False))
        detail = "the input is reflectance; metadata offsets apply to digital numbers"
        return OffsetDecision(value, "data" if value else "units", detail, check, tuple(warnings))
    chosen = _from_metadata(bands, context)
    if chosen is None:
        if check.verdict == "undecided":
            warnings.append(
                "No metadata, product name or date tells the BOA offset, and the data do not "
                "show it clearly; read with offset 0. Pass --boa-offset 1000 if the product is "
                "of processing baseline 04.00 or later."
            )
        value = OFFSET if check.verdict == "offset" else 0
        return OffsetDecision(value, "data", f"data check: {check.verdict}", check, tuple(warnings))
    if _contradicts(chosen.value, check):
        warnings.append(_conflict(chosen, check, kept=False))
        value = 0 if check.verdict == "no offset" else OFFSET
        detail = f"{chosen.source} said {chosen.value} ({chosen.detail}); the data overrule it"
        return OffsetDecision(value, "data", detail, check, tuple(warnings))
    return OffsetDecision(chosen.value, chosen.source, chosen.detail, check, tuple(warnings))


def data_check(bands: dict[str, BandRef], units: dict[str, FileUnits]) -> DataCheck:
    """Shares of sampled pixels whose darkest band lies below / far below / just above 1000 DN."""
    dark = tuple(b for b in DARK_BANDS if b in bands)
    if not dark:
        return DataCheck(dark, 0, None, None, None, "undecided")
    bounds = _common_bounds([bands[b] for b in dark])
    finest = min((bands[b] for b in dark), key=lambda ref: ref.resolution)
    shape = sample_shape(finest, bounds)  # every band sampled on one grid: pixels line up
    stack, valid = [], None
    for band in dark:
        ref = bands[band]
        values = sample_band(ref, bounds, shape)
        ok = valid_values(ref, values)
        valid = ok if valid is None else valid & ok
        stack.append(values * units[str(ref.path)].to_dn)
    shares = dark_shares(np.min(np.stack(stack), axis=0).reshape(1, -1), valid.reshape(1, -1))
    pixels = int(shares.pixels[0])
    if pixels < MIN_PIXELS:
        return DataCheck(dark, pixels, None, None, None, "undecided")
    verdict = "undecided"
    if shares.no_offset[0]:
        verdict = "no offset"
    elif shares.has_offset[0]:
        verdict = "offset"
    below, far_below, just_above = (
        round(float(share[0]), 4) for share in (shares.below, shares.far_below, shares.just_above)
    )
    return DataCheck(dark, pixels, below, far_below, just_above, verdict)


def acquisition_date(bands: dict[str, BandRef], context: ProductContext) -> Finding | None:
    """The acquisition date (as yyyymmdd in ``value``) from metadata or a name, if any."""
    for found in (context.mtd, context.stac):
        if found is not None and found.document.acquired:
            return _date_finding(found.document.acquired, found.where)
    for band, tags in context.tags.items():
        for key in DATE_KEYS:
            text = tags.get(key, "")[:10].replace("-", "").replace(":", "")
            if text.isdigit() and len(text) == 8:
                return _date_finding(
                    date(int(text[:4]), int(text[4:6]), int(text[6:])),
                    f"GDAL metadata {key} of {bands[band].path.name}",
                )
    for where, name in context.names:
        if name.acquired:
            return _date_finding(name.acquired, f"'{name.text}' in {where}")
    return None


def _from_metadata(bands: dict[str, BandRef], context: ProductContext) -> Finding | None:
    for source in (_gdal_metadata, _mtd, _stac, _product_name):
        finding = source(bands, context)
        if finding is not None:
            return finding
    acquired = acquisition_date(bands, context)
    if acquired is None:
        return None
    day = date(acquired.value // 10000, acquired.value // 100 % 100, acquired.value % 100)
    offset = sentinel2.boa_offset_for_date(day)
    relation = "on or after" if offset else "before"
    detail = f"acquired {day} ({acquired.detail}), {relation} {sentinel2.OFFSET_START_DATE}"
    return Finding(offset, "acquisition date", detail)


def _gdal_metadata(bands: dict[str, BandRef], context: ProductContext) -> Finding | None:
    found: dict[str, tuple[int, str]] = {}
    for band, tags in context.tags.items():
        where = bands[band].path.name
        for key, value in tags.items():
            if key.startswith(("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET")) and _key_fits(key, band):
                found[band] = (abs(round(float(value))), f"{key}={value} in {where}")
                break
        else:
            scale, offset = context.scaling.get(band, (1.0, 0.0))
            if abs(scale - 1.0 / sentinel2.QUANTIFICATION_VALUE) < 1e-9:
                found[band] = (abs(round(offset / scale)), f"band scale {scale}, offset {offset}")
            elif sentinel2.is_known_baseline(baseline := _baseline_tag(tags)):
                found[band] = (
                    sentinel2.boa_offset_for_baseline(baseline),
                    f"PROCESSING_BASELINE={tags['PROCESSING_BASELINE']} in {where}",
                )
    return _one_value(found, "GDAL metadata")


def _mtd(bands: dict[str, BandRef], context: ProductContext) -> Finding | None:
    if context.mtd is None:
        return None
    metadata, where = context.mtd.document, context.mtd.where
    if metadata.offsets:
        found = {
            b: (metadata.offsets[b], f"offset list of {where}")
            for b in bands
            if b in metadata.offsets
        }
        return _one_value(found, "MTD")
    if metadata.baseline is not None:
        text = (
            f"processing baseline {metadata.baseline[0]:02d}.{metadata.baseline[1]:02d} in {where}"
        )
        return Finding(sentinel2.boa_offset_for_baseline(metadata.baseline), "MTD", text)
    return None


def _stac(bands: dict[str, BandRef], context: ProductContext) -> Finding | None:
    if context.stac is None:
        return None
    item, where = context.stac.document, context.stac.where
    if item.offset_removed:
        return Finding(0, "STAC item", f"earthsearch:boa_offset_applied is true in {where}")
    found = {}
    for band, asset_name in context.stac_assets.items():
        asset = item.assets[asset_name]
        if asset.offset_dn is not None:
            found[band] = (asset.offset_dn, f"raster:bands offset of {asset_name} in {where}")
    if found:
        return _one_value(found, "STAC item")
    if item.baseline is not None:
        text = f"s2:processing_baseline {item.baseline[0]:02d}.{item.baseline[1]:02d} in {where}"
        return Finding(sentinel2.boa_offset_for_baseline(item.baseline), "STAC item", text)
    return None


def _product_name(bands: dict[str, BandRef], context: ProductContext) -> Finding | None:
    for where, name in context.names:
        if sentinel2.is_known_baseline(name.baseline):
            baseline = f"N{name.baseline[0]:02d}{name.baseline[1]:02d}"
            return Finding(
                sentinel2.boa_offset_for_baseline(name.baseline),
                "product name",
                f"baseline {baseline} of '{name.text}' in {where}",
            )
    return None


def _one_value(found: dict[str, tuple[int, str]], source: str) -> Finding | None:
    if not found:
        return None
    values = {value for value, _ in found.values()}
    if len(values) > 1:
        listed = "; ".join(f"{band}: {value} ({detail})" for band, (value, detail) in found.items())
        raise InputError(
            f"The {source} of the Sentinel-2 files give different BOA offsets; the files seem to "
            "come from different products. Give the bands of one product, or say which offset "
            "applies with --boa-offset.",
            details=listed,
        )
    value, detail = next(iter(found.values()))
    return Finding(value, source, detail)


def _key_fits(key: str, band: str) -> bool:
    """BOA_ADD_OFFSET applies to every band; BOA_ADD_OFFSET_B2 only to B02."""
    suffix = key.rsplit("OFFSET", 1)[-1].strip("_")
    return not suffix or sentinel2.normalize_band_name(suffix) == band


def _baseline_tag(tags: dict[str, str]) -> tuple[int, int] | None:
    text = tags.get("PROCESSING_BASELINE", "")
    parts = text.split(".")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _date_finding(day: date, where: str) -> Finding:
    return Finding(day.year * 10000 + day.month * 100 + day.day, "acquisition date", where)


def _contradicts(offset: int, check: DataCheck) -> bool:
    return (offset >= OFFSET and check.verdict == "no offset") or (
        offset == 0 and check.verdict == "offset"
    )


def _conflict(chosen: Finding, check: DataCheck, kept: bool) -> str:
    if check.verdict == "no offset":
        seen = (
            f"in {100 * check.share_far_below:.0f}% of the sampled pixels the darkest of "
            f"{', '.join(check.bands)} is below {OFFSET - FAR_BELOW_DN} DN, impossible with "
            f"the {OFFSET} DN offset"
        )
    else:
        seen = (
            f"the darkest of {', '.join(check.bands)} lies below {OFFSET} DN in only "
            f"{100 * check.share_below_offset:.1f}% of the sampled pixels and just above it in "
            f"{100 * check.share_just_above:.0f}%: the data carry the offset"
        )
    said = f"{chosen.source} gives BOA offset {chosen.value} ({chosen.detail})"
    if kept:
        return f"{said}, but {seen}. Kept as you asked; check the product."
    other = 0 if check.verdict == "no offset" else OFFSET
    return f"{said}, but {seen}; read with offset {other}. Pass --boa-offset to insist."


def _common_bounds(refs: list[BandRef]) -> tuple[float, float, float, float]:
    bounds = [ref.bounds for ref in refs]
    return (
        max(b[0] for b in bounds),
        max(b[1] for b in bounds),
        min(b[2] for b in bounds),
        min(b[3] for b in bounds),
    )
