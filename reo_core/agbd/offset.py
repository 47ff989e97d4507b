"""The BOA offset of each AGBD patch, decided from its values first and its metadata second.

Processing baseline 04.00 (from 2022-01-25) adds 1000 DN to every L2A value, and ESA's reprocessing
of older acquisitions (baseline 05.00) added it to many 2019-2020 products too. AGBD's flag
``Sentinel_metadata/S2_boa_offset`` is set only for acquisitions after 2022-01-25, so a patch of a
reprocessed product carries the offset with the flag at 0 (notes/AGBD_FORMAT.md, the caveat).
Removing an offset that is not there clips dark pixels to 0; keeping one that is there makes
everything 0.1 too bright.

The values decide by the same data check, with the same bands and thresholds, that reads a user's
product (:mod:`reo_core.raster.radiometry`), applied to each patch's pixels: for each pixel the
darkest of B02, B04, B11 and B12 (the visible bands are dark over vegetation, the short-wave
infrared over water and snow). Without the offset, a tenth of the pixels or more lie far below
1000 DN (below 500: reflectance under -0.05 if the offset were there): ``no offset``. With it,
almost none lie below 1000 DN and a quarter or more just above (1000..1500 DN, dark surfaces):
``offset``. Bright patches (dry grass, bare soil, clouds) are undecided, and so is a patch with too
few valid pixels: the metadata decide them (the flag, or a processing baseline >= 04.00).

One product (a tile, or a Lite region, on one acquisition date) has one offset, so a builder that
sees whole files pools the patches' votes (:func:`product_offsets`): where at least
:data:`MIN_PRODUCT_VOTES` patches of a product were decided by their values, their majority holds
for every patch of the product (source ``product``), which settles the bright patches the values
alone could not. The build's stats.json counts how each patch was decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reo_core.raster.radiometry import (
    DARK_BANDS,
    FAR_BELOW_DN,
    JUST_ABOVE_DN,
    MIN_PIXELS,
    NO_OFFSET_SHARE,
    OFFSET_MAX_BELOW,
    OFFSET_MIN_JUST_ABOVE,
)
from reo_core.sensors.sentinel2 import (
    AGBD_BAND_ORDER,
    BOA_ADD_OFFSET_DN,
    FIRST_OFFSET_BASELINE,
    NODATA_DN,
)

OFFSET_SOURCES: tuple[str, ...] = ("data", "metadata", "product")  # index = the source code
DATA, METADATA, PRODUCT = 0, 1, 2
MIN_PRODUCT_VOTES = 3  # patches decided by their values before a product's majority counts
_DARK = [AGBD_BAND_ORDER.index(band) for band in DARK_BANDS]


@dataclass(frozen=True)
class OffsetDecision:
    """Per-patch offsets and how each was decided (arrays of length N)."""

    offset: np.ndarray  # (N,) int64 DN, 0 or 1000
    source: np.ndarray  # (N,) uint8 index into OFFSET_SOURCES
    metadata: np.ndarray  # (N,) int64 DN, what the metadata alone would have said


def metadata_offset(flag: np.ndarray, baseline: np.ndarray | None = None) -> np.ndarray:
    """The offset the metadata states: AGBD's flag, or a processing baseline >= 04.00.

    Args:
        flag: (N,) ``S2_boa_offset`` (0 or 1).
        baseline: (N,) ``S2_pbn`` as major * 100 + minor (e.g. 500 = 05.00), where the file has it.
    Returns:
        (N,) int64, 0 or 1000 DN.
    """
    offset = np.asarray(flag, dtype=np.int64) != 0
    if baseline is not None:
        major, minor = FIRST_OFFSET_BASELINE
        offset |= np.asarray(baseline, dtype=np.int64) >= major * 100 + minor
    return offset.astype(np.int64) * BOA_ADD_OFFSET_DN


def data_verdicts(s2_dn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patch, what its values say: offset, no offset, or neither; and its valid-pixel share.

    A pixel is valid when all 12 bands hold data (DN > 0).

    Args:
        s2_dn: (N, H, W, 12) uint16 in AGBD band order.
    Returns:
        (has offset (N,) bool, has none (N,) bool, valid share (N,) float32 in 0..1).
    """
    dn = np.asarray(s2_dn)
    n = dn.shape[0]
    valid = (dn != NODATA_DN).all(axis=-1).reshape(n, -1)  # (N, H*W)
    darkest = dn[..., _DARK].min(axis=-1).reshape(n, -1).astype(np.int64)
    n_valid = valid.sum(axis=1)
    counted = np.maximum(n_valid, 1)

    def share(mask: np.ndarray) -> np.ndarray:
        return (mask & valid).sum(axis=1) / counted

    below = share(darkest < BOA_ADD_OFFSET_DN)
    far_below = share(darkest < BOA_ADD_OFFSET_DN - FAR_BELOW_DN)
    just_above = share(
        (darkest >= BOA_ADD_OFFSET_DN) & (darkest < BOA_ADD_OFFSET_DN + JUST_ABOVE_DN)
    )
    enough = n_valid >= MIN_PIXELS
    none = enough & (far_below >= NO_OFFSET_SHARE)
    some = enough & ~none & (below <= OFFSET_MAX_BELOW) & (just_above >= OFFSET_MIN_JUST_ABOVE)
    return some, none, (n_valid / valid.shape[1]).astype(np.float32)


def decide_offset(
    s2_dn: np.ndarray, flag: np.ndarray, baseline: np.ndarray | None = None
) -> tuple[OffsetDecision, np.ndarray]:
    """The BOA offset of every patch (module doc), and each patch's valid-pixel share.

    Args:
        s2_dn: (N, H, W, 12) uint16 L2A DN in AGBD band order.
        flag, baseline: the metadata, see :func:`metadata_offset`.
    Returns:
        (the decision, valid share (N,) float32).
    """
    has_offset, no_offset, share = data_verdicts(s2_dn)
    stated = metadata_offset(flag, baseline)
    offset = np.where(has_offset, BOA_ADD_OFFSET_DN, np.where(no_offset, 0, stated))
    source = np.where(no_offset | has_offset, DATA, METADATA).astype(np.uint8)
    return OffsetDecision(offset.astype(np.int64), source, stated), share


def product_offsets(
    product: np.ndarray, offset: np.ndarray, source: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets pooled per product: the majority of its value-decided patches, where it has enough.

    Args:
        product: (N,) int64 product id of each patch (tile or region and acquisition date).
        offset, source: (N,) per-patch decisions (:func:`decide_offset`).
    Returns:
        (offset (N,) int64, source (N,) uint8); patches of products with fewer than
        :data:`MIN_PRODUCT_VOTES` value-decided patches keep their own decision.
    """
    ids, inverse = np.unique(product, return_inverse=True)
    by_data = source == DATA
    votes = np.bincount(inverse[by_data], minlength=ids.size)
    yes = np.bincount(inverse[by_data], weights=offset[by_data] > 0, minlength=ids.size)
    pooled = votes >= MIN_PRODUCT_VOTES
    majority = np.where(2 * yes > votes, BOA_ADD_OFFSET_DN, 0)
    use = pooled[inverse]
    return (
        np.where(use, majority[inverse], offset).astype(np.int64),
        np.where(use, PRODUCT, source).astype(np.uint8),
    )
