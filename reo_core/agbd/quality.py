"""Which AGBD patches can teach a model, and why the others cannot.

AGBD's label is GEDI L4A above-ground biomass density at the footprint, 0 to 500 Mg/ha. A label
outside that range is not biomass: -9999 is GEDI's fill value, other negatives and values above
500 are retrieval failures. Such patches, patches without a single Sentinel-2 pixel holding data
in every band, patches whose land-cover map is all no data, and a footprint given twice in one
split are dropped, each counted by its reason (:data:`DROP_REASONS`). A label or coordinate that
is not a number at all (NaN, infinite) means a damaged file: the readers refuse it
(:func:`check_finite`).
"""

from __future__ import annotations

import numpy as np

from reo_core.errors import InputError
from reo_core.landcover import NODATA_CODE

AGB_RANGE_MG_HA = (0.0, 500.0)  # AGBD's label range (GEDI L4A AGBD, Mg/ha)
GEDI_FILL_VALUE = -9999.0
KEEP = 0
# Code (index + 1) -> reason; the first that applies is a patch's reason.
DROP_REASONS: tuple[str, ...] = (
    "agb_fill_value",  # GEDI's fill value -9999 instead of a label
    "agb_negative",  # any other negative label
    "agb_above_500",  # a label above AGBD's 500 Mg/ha
    "s2_no_data",  # no Sentinel-2 pixel with data in all bands
    "land_cover_no_data",  # the LC map is all no data: nothing to describe
    "duplicate_footprint",  # the same GEDI footprint earlier in the same split
)
REASON_CODE: dict[str, int] = {reason: i + 1 for i, reason in enumerate(DROP_REASONS)}


def label_reasons(agbd: np.ndarray) -> np.ndarray:
    """Per-patch drop code of the labels alone (:data:`KEEP` or a code of :data:`REASON_CODE`).

    Args:
        agbd: (N,) finite labels, Mg/ha.
    Returns:
        (N,) uint8.
    """
    agbd = np.asarray(agbd, dtype=np.float64)
    low, high = AGB_RANGE_MG_HA
    reasons = np.full(agbd.shape, KEEP, dtype=np.uint8)
    reasons[agbd > high] = REASON_CODE["agb_above_500"]
    reasons[agbd < low] = REASON_CODE["agb_negative"]
    reasons[agbd == GEDI_FILL_VALUE] = REASON_CODE["agb_fill_value"]
    return reasons


def patch_reasons(agbd: np.ndarray, s2_valid: np.ndarray, land_cover: np.ndarray) -> np.ndarray:
    """Per-patch drop code from the label, the Sentinel-2 valid share and the dominant class.

    Args:
        agbd: (N,) labels; s2_valid: (N,) share of pixels with data in all bands;
        land_cover: (N,) dominant class, ``NODATA_CODE`` when the LC map is all no data.
    Returns:
        (N,) uint8; duplicates are found later, over a whole split.
    """
    reasons = label_reasons(agbd)
    unset = reasons == KEEP
    reasons[unset & (np.asarray(s2_valid) <= 0)] = REASON_CODE["s2_no_data"]
    unset = reasons == KEEP
    reasons[unset & (np.asarray(land_cover) == NODATA_CODE)] = REASON_CODE["land_cover_no_data"]
    return reasons


def count_reasons(reasons: np.ndarray) -> dict[str, int]:
    """``{reason: count}`` of every reason of :data:`DROP_REASONS` (zeros included)."""
    counts = np.bincount(np.asarray(reasons, dtype=np.int64), minlength=len(DROP_REASONS) + 1)
    return {reason: int(counts[REASON_CODE[reason]]) for reason in DROP_REASONS}


def check_finite(values: np.ndarray, what: str, where: str, start: int) -> None:
    """Raise InputError naming the first patch whose ``what`` is NaN or infinite.

    Args:
        values: (N,) per-patch values of one window; where: "data.h5: tile 32TNS";
        start: the window's first patch index.
    """
    bad = np.flatnonzero(~np.isfinite(np.asarray(values, dtype=np.float64)))
    if bad.size:
        first = int(bad[0])
        raise InputError(
            f"{where}, patch {start + first}: {what} is {values[first]} "
            f"({bad.size} such patch(es) in patches {start}-{start + len(values) - 1}); the file "
            "is damaged: download it again, or remove these patches from it."
        )
