"""How many pixels of a boolean mask are set in every square window, by one integral image."""

from __future__ import annotations

import numpy as np


def window_counts(mask: np.ndarray, size: int) -> np.ndarray:
    """The number of True pixels of ``mask`` (H, W) in the ``size`` x ``size`` window starting at
    each pixel: int64 (H - size + 1, W - size + 1)."""
    integral = np.pad(np.cumsum(np.cumsum(mask, axis=0, dtype=np.int64), axis=1), ((1, 0), (1, 0)))
    return (
        integral[size:, size:]
        - integral[:-size, size:]
        - integral[size:, :-size]
        + integral[:-size, :-size]
    )
