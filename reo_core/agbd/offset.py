"""The BOA offset of each AGBD patch, decided from its values first and its metadata second.

Processing baseline 04.00 (from 2022-01-25) adds 1000 DN to every L2A value, and ESA's reprocessing
of older acquisitions (baseline 05.00) added it to many 2019-2020 products too. AGBD's flag
``Sentinel_metadata/S2_boa_offset`` is set only for acquisitions after 2022-01-25, so a patch of a
reprocessed product carries the offset with the flag at 0 (notes/AGBD_FORMAT.md, the caveat).
Removing an offset that is not there clips dark pixels to 0; keeping one that is there makes
everything 0.1 too bright.

The values decide by the data check that reads a user's product
(:func:`reo_core.sensors.offset_check.dark_shares`), applied to each patch's pixels: the darkest of
B02, B04, B11 and B12 far below 1000 DN rules the offset out, just above it shows it. Bright
patches (dry grass, bare soil, clouds) are undecided, and so is a patch with too few valid pixels:
the metadata decide them (the flag, or a processing baseline >= 04.00).

One product (a tile, or a Lite region, on one acquisition date) has one offset, so a builder that
sees whole files pools the patches' votes (:func:`product_offsets`): where at least
:data:`MIN_PRODUCT_VOTES` patches of a product were decided by their values, their majority holds
for every patch of the product (source ``product``), which settles the bright patches the values
alone could not. The build's stats.json counts how each patch was decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reo_core.sensors.offset_check import DARK_BANDS, dark_shares
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
    shares = dark_shares(darkest, valid)
    return shares.has_offset, shares.no_offset, (shares.pixels / valid.shape[1]).astype(np.float32)


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
