"""Patch-grid GeoTIFFs written block by block, atomically.

A writer creates ``<name>.partial.tif`` beside the target, receives blocks as they are computed,
builds overviews when all are in, and renames the file to its final name only then. A failed or
cancelled run removes the partial file; a killed one leaves only a ``.partial.tif``, never a file
that looks finished.

GDAL does not always raise when a write fails: on a full disk it may only log
``TIFFWriteDirectoryTagData:IO error`` and leave an empty or truncated file. So before the rename
the file is read back whole (every block of every band and overview) and flushed to disk; any
failure is an ``OutputError`` that says how much space is left, and the partial file is removed.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.windows import Window

from reo_core.errors import InputError, OutputError
from reo_core.raster.grid import PixelGrid

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial.tif"
TILE_SIZE = 256
# Overviews are built down to this size (pixels on the longer side).
MIN_OVERVIEW_SIZE = 32


def partial_path(path: Path) -> Path:
    """Where a raster lives while it is being written."""
    return path.with_name(path.stem + PARTIAL_SUFFIX)


class PatchGridWriter:
    """Writes one GeoTIFF on ``grid``, block by block, as a context manager.

    Args:
        path: final file name (``.tif``).
        grid: the patch grid (``PatchGrid.grid``) the raster covers.
        dtype: numpy dtype name, e.g. 'float32' for AGB, 'uint8' for land cover.
        nodata: value of cells without a result (skipped patches).
        descriptions: one description per band ('AGB (Mg/ha)').
        units: unit string per band ('Mg/ha'), or None.
        colormap: GDAL colour table for band 1 (single-band uint8 rasters).
        categorical: True for class rasters (overviews by mode, no smoothing).
        tags: dataset metadata written to the file.
    """

    def __init__(
        self,
        path: str | Path,
        grid: PixelGrid,
        dtype: str,
        nodata: float,
        descriptions: Sequence[str],
        units: Sequence[str | None] | None = None,
        colormap: dict[int, tuple[int, int, int, int]] | None = None,
        categorical: bool = False,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".tif", ".tiff"):
            raise InputError(f"Output {self.path} must be a GeoTIFF ending in .tif.")
        self.grid = grid
        self.dtype = np.dtype(dtype)
        self.nodata = nodata
        self.descriptions = list(descriptions)
        self.units = list(units) if units is not None else [None] * len(self.descriptions)
        self.colormap = colormap
        self.categorical = categorical
        self.tags = tags or {}
        self._dataset = None
        self._env: rasterio.Env | None = None

    @property
    def count(self) -> int:
        return len(self.descriptions)

    def __enter__(self) -> PatchGridWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = partial_path(self.path)
        temporary.unlink(missing_ok=True)  # a stale file of a killed run
        self._env = rasterio.Env()  # GDAL's errors go to logging (and are raised), not to stderr
        self._env.__enter__()
        try:
            self._dataset = rasterio.open(temporary, "w", **self._profile())
        except (RasterioError, CPLE_BaseError) as error:
            self._leave_env()
            temporary.unlink(missing_ok=True)
            raise write_error(self.path, error) from None
        for band, (description, unit) in enumerate(
            zip(self.descriptions, self.units, strict=True), 1
        ):
            self._dataset.set_band_description(band, description)
            if unit:
                self._dataset.set_band_unit(band, unit)
        if self.colormap:
            self._dataset.write_colormap(1, self.colormap)
        if self.tags:
            self._dataset.update_tags(**self.tags)
        return self

    def write(self, row: int, col: int, values: np.ndarray) -> None:
        """Write a block whose top-left cell is (``row``, ``col``).

        Args:
            values: shape (bands, h, w), or (h, w) for a single band.
        """
        if self._dataset is None:
            raise RuntimeError("PatchGridWriter.write called outside its 'with' block")
        values = np.asarray(values)
        if values.ndim == 2:
            values = values[None]
        if values.shape[0] != self.count:
            raise ValueError(f"block has {values.shape[0]} bands, the raster {self.count}")
        height, width = values.shape[1:]
        if row < 0 or col < 0 or row + height > self.grid.height or col + width > self.grid.width:
            raise ValueError(
                f"block of {height}x{width} at ({row}, {col}) exceeds the "
                f"{self.grid.height}x{self.grid.width} grid"
            )
        try:
            self._dataset.write(
                values.astype(self.dtype, copy=False), window=Window(col, row, width, height)
            )
        except (RasterioError, CPLE_BaseError) as error:
            raise write_error(self.path, error) from None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._close(complete=exc_type is None)
        finally:
            self._leave_env()

    def _close(self, complete: bool) -> None:
        """Finish the file and rename it (``complete``), or delete it."""
        dataset, self._dataset = self._dataset, None
        temporary = Path(dataset.name)
        if not complete:
            dataset.close()
            temporary.unlink(missing_ok=True)
            return
        try:
            factors = overview_factors(self.grid.width, self.grid.height)
            if factors:
                resampling = Resampling.mode if self.categorical else Resampling.average
                dataset.build_overviews(factors, resampling)
                dataset.update_tags(ns="rio_overview", resampling=resampling.name)
            dataset.close()
            check_written(temporary, self.grid, self.count)
            os.replace(temporary, self.path)
        except (RasterioError, CPLE_BaseError, OSError) as error:
            dataset.close()
            temporary.unlink(missing_ok=True)
            raise write_error(self.path, error) from None
        except BaseException:
            dataset.close()
            temporary.unlink(missing_ok=True)
            raise
        logger.info("wrote %s", self.path)

    def _leave_env(self) -> None:
        env, self._env = self._env, None
        if env is not None:
            env.__exit__(None, None, None)

    def _profile(self) -> dict:
        tiled = self.grid.width > TILE_SIZE or self.grid.height > TILE_SIZE
        profile = {
            "driver": "GTiff",
            "width": self.grid.width,
            "height": self.grid.height,
            "count": self.count,
            "dtype": self.dtype.name,
            "crs": self.grid.crs,
            "transform": self.grid.transform,
            "nodata": self.nodata,
            "compress": "deflate",
            "predictor": 3 if self.dtype.kind == "f" else 2,
            "interleave": "band",
            "BIGTIFF": "IF_SAFER",
        }
        if tiled:
            profile.update(tiled=True, blockxsize=TILE_SIZE, blockysize=TILE_SIZE)
        return profile


def check_written(path: Path, grid: PixelGrid, count: int) -> None:
    """Read ``path`` back whole and flush it to disk; raises if GDAL wrote less than it said.

    Patch-grid rasters are small (one cell per patch), so reading them back costs little.
    """
    with rasterio.open(path) as src:
        if (src.width, src.height, src.count) != (grid.width, grid.height, count):
            raise RasterioError(
                f"{path.name} holds {src.count} band(s) of {src.width}x{src.height}, "
                f"not {count} of {grid.width}x{grid.height}"
            )
        for _, window in src.block_windows(1):
            src.read(window=window)
        for factor in src.overviews(1):
            shape = (count, math.ceil(src.height / factor), math.ceil(src.width / factor))
            src.read(out_shape=shape)
    descriptor = os.open(path, os.O_RDWR)
    try:
        os.fsync(descriptor)  # a full disk can also show only here
    finally:
        os.close(descriptor)


def write_error(path: Path, error: Exception) -> OutputError:
    """The message for a file that could not be written (a full disk, mostly); GDAL's is logged."""
    logger.info("writing %s failed: %s: %s", path, type(error).__name__, error)
    free = shutil.disk_usage(path.parent).free / 2**20
    return OutputError(
        f"Writing {path.name} into {path.parent} failed ({free:.1f} MB free on that disk); free "
        "space or choose another output folder."
    )


def overview_factors(width: int, height: int) -> list[int]:
    """Powers of two that shrink the raster's longer side down to about MIN_OVERVIEW_SIZE pixels."""
    factors, factor = [], 2
    while (
        max(width, height) / factor >= MIN_OVERVIEW_SIZE / 2
        and max(width, height) > MIN_OVERVIEW_SIZE
    ):
        factors.append(factor)
        factor *= 2
    return factors
