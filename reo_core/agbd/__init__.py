"""Readers of AGBD (Sialelli et al., 2024) patch files: raw per-tile HDF5, AGBD-Lite, HF parquet.

``open_agbd(path)`` detects the layout and yields :class:`AgbdPatch` records; ``agbd_windows`` hands
out lazily read runs of patches for two-pass builders; ``read_splits`` is AGBD's tile split.
"""

from reo_core.agbd.open import agbd_windows, detect_layout, open_agbd, read_splits
from reo_core.agbd.record import AgbdPatch

__all__ = [
    "AgbdPatch",
    "agbd_windows",
    "detect_layout",
    "open_agbd",
    "read_splits",
]
