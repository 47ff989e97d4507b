"""What Sentinel-2 L2A values say about the BOA offset: the one data check of products and patches.

From processing baseline 04.00 every L2A digital number carries 1000 DN
(``sentinel2.BOA_ADD_OFFSET_DN``). For each pixel the darkest of B02, B04, B11 and B12 is taken
(the visible bands are dark over vegetation, the short-wave infrared over water and snow). Without
the offset, a tenth of the pixels or more lie far below 1000 DN (below 500 DN: reflectance under
-0.05 if the offset were there): no offset. With it, almost none lie below 1000 DN and a quarter or
more just above (1000..1500 DN, dark surfaces): offset. Anything else, and fewer than
:data:`MIN_PIXELS` valid pixels, is undecided.

A user's product (``reo_core.raster.radiometry``, one row of sampled pixels) and AGBD patches
(``reo_core.agbd.offset``, one row per patch) are judged by this same function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reo_core.sensors.sentinel2 import BOA_ADD_OFFSET_DN

DARK_BANDS = ("B02", "B04", "B11", "B12")
FAR_BELOW_DN = BOA_ADD_OFFSET_DN // 2  # below 500 DN the offset would mean reflectance < -0.05
JUST_ABOVE_DN = BOA_ADD_OFFSET_DN // 2  # 1000..1500 DN: dark surfaces with the offset
NO_OFFSET_SHARE = 0.10  # this share of darkest values far below the offset rules the offset out
OFFSET_MAX_BELOW = 0.02  # with the offset at most this share lies below it ...
OFFSET_MIN_JUST_ABOVE = 0.25  # ... and this share of dark surfaces sits just above it
MIN_PIXELS = 200  # fewer valid pixels decide nothing


@dataclass(frozen=True)
class DarkShares:
    """Per row (a product's sample, or a patch): how its darkest values lie around 1000 DN."""

    pixels: np.ndarray  # (N,) int64 valid pixels counted
    below: np.ndarray  # (N,) float64 share below the offset
    far_below: np.ndarray  # (N,) share below 500 DN
    just_above: np.ndarray  # (N,) share in 1000..1500 DN
    has_offset: np.ndarray  # (N,) bool: the values show the offset
    no_offset: np.ndarray  # (N,) bool: the values rule it out


def dark_shares(darkest: np.ndarray, valid: np.ndarray) -> DarkShares:
    """The offset verdict of each row of ``darkest`` (module doc).

    Args:
        darkest: (N, P) DN, per pixel the darkest of :data:`DARK_BANDS` (any value where invalid).
        valid: (N, P) bool, pixels with data in every band.
    """
    valid = np.asarray(valid, dtype=bool)
    darkest = np.asarray(darkest)  # invalid pixels' values do not count: share() masks them
    pixels = valid.sum(axis=1)
    counted = np.maximum(pixels, 1)

    def share(mask: np.ndarray) -> np.ndarray:
        return (mask & valid).sum(axis=1) / counted

    offset = BOA_ADD_OFFSET_DN
    below = share(darkest < offset)
    far_below = share(darkest < offset - FAR_BELOW_DN)
    just_above = share((darkest >= offset) & (darkest < offset + JUST_ABOVE_DN))
    enough = pixels >= MIN_PIXELS
    no_offset = enough & (far_below >= NO_OFFSET_SHARE)
    has_offset = (
        enough & ~no_offset & (below <= OFFSET_MAX_BELOW) & (just_above >= OFFSET_MIN_JUST_ABOVE)
    )
    return DarkShares(pixels, below, far_below, just_above, has_offset, no_offset)
