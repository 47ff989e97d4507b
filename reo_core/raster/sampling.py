"""A small, fixed sample of a band's values, for decisions that must look at the data.

The sample is the band read at a coarse resolution over given bounds (GDAL uses the file's
overviews, or a JPEG 2000's resolution levels, when it has them), nearest neighbour so values are
the file's own. Samples of bands over the same bounds and shape are co-located, so per-pixel
comparisons across bands (the darkest band of each pixel) are possible. Samples are cached per file
state: a worker answering many questions about one product reads them once.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import rasterio
from rasterio.windows import Window, from_bounds

from reo_core.raster.product_files import is_gdal_name
from reo_core.raster.sources import BandRef

SAMPLE_SIDE = 128  # pixels per side of a sample: 16 384 values
Bounds = tuple[float, float, float, float]


def sample_band(
    ref: BandRef, bounds: Bounds | None = None, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Raw values of ``ref`` over ``bounds`` (default: the whole band), at most SAMPLE_SIDE pixels
    a side, or exactly ``shape`` (to co-locate bands of several resolutions).

    The caller removes no-data (``valid_values``); the array is a read-only cached copy.
    """
    bounds = tuple(bounds or ref.bounds)
    if shape is None:
        shape = sample_shape(ref, bounds)
    return _cached_sample(str(ref.path), ref.index, _file_state(ref), bounds, shape)


def sample_shape(ref: BandRef, bounds: Bounds, side: int = SAMPLE_SIDE) -> tuple[int, int]:
    """The sample shape of ``ref`` over ``bounds``: its pixels there, at most ``side`` a side."""
    width = (bounds[2] - bounds[0]) / ref.resolution
    height = (bounds[3] - bounds[1]) / abs(ref.transform.e)
    return max(1, min(side, round(height))), max(1, min(side, round(width)))


def valid_values(ref: BandRef, values: np.ndarray) -> np.ndarray:
    """Boolean mask of values that are data: finite, not the declared no-data, not DN 0."""
    valid = np.isfinite(values)
    if ref.nodata is not None and np.isfinite(ref.nodata):
        valid &= values != ref.nodata
    if ref.is_integer:
        valid &= values != 0  # Sentinel-2 marks no data with DN 0
    return valid


@functools.lru_cache(maxsize=256)
def _cached_sample(
    path: str, index: int, state: tuple, bounds: Bounds, shape: tuple[int, int]
) -> np.ndarray:
    del state  # part of the cache key only: a rewritten file is sampled again
    with rasterio.open(path) as src:
        full = Window(0, 0, src.width, src.height)
        window = from_bounds(*bounds, transform=src.transform).intersection(full)
        values = src.read(index, window=window, out_shape=shape)
    values = values.astype(np.float64)
    values.setflags(write=False)
    return values


def _file_state(ref: BandRef) -> tuple:
    if is_gdal_name(ref.path):
        return (str(ref.path),)
    stat = os.stat(ref.path)
    return (stat.st_mtime_ns, stat.st_size)
