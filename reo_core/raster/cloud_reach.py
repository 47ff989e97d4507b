"""Where a cloud is near enough to cast a shadow: the geometric half of the built-in screening.

The built-in screening (``reo_core.sensors.cloud_screening``) finds cloud shadows by their darkness,
and dark surfaces are not all shadows: a humic lake (visible and infrared reflectance about 0.01)
is darker than the shadow reference in every band. Sen2Cor confirms a shadow by casting the cloud
mask away from the sun; here a dark pixel counts as cloud shadow only where the screening found a
cloud within :data:`SHADOW_REACH_M` of it, in any direction (the sun's azimuth is not read). A
dark lake in a clear scene is then water, as it should be, and a shadow beside its cloud is still
a shadow.

The clouds are looked for over the area read plus the reach on every side (as far as the imagery
goes), chunk by chunk at full resolution with the same per-pixel tests, and kept as a coarse grid
of :data:`CELL_PX` x :data:`CELL_PX` pixel cells that hold a cloud; a cell is near a cloud when a
cloudy cell lies within the reach (a square, not a disc). Memory stays that of one chunk and the
coarse grid, whatever the extent.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from rasterio.crs import CRS

from reo_core.raster.grid import PixelWindow
from reo_core.sensors import cloud_screening
from reo_core.window_sums import window_counts

# A cloud 1.5 km high casts its shadow 0.9 km away from it at a 60 degree sun and 2.9 km away at
# 27 degrees; farther shadows (high clouds, low winter sun) are missed, dark surfaces farther from
# any cloud than this are not taken for shadows.
SHADOW_REACH_M = 3000.0
CELL_PX = 10  # coarse cells of 10 x 10 pixels (100 m at 10 m)
CHUNK_PX = 500  # pixels per side of one read while looking for clouds (a multiple of CELL_PX)

METRES_PER_DEGREE = 111_320.0  # along a meridian; enough to size a reach in degrees

ReadBands = Callable[[PixelWindow], dict[str, np.ndarray]]  # window -> reflectance by band


class CloudReach:
    """Which pixels of a reference grid have a cloud within :data:`SHADOW_REACH_M`.

    Args:
        read: reads the screening's bands (``cloud_screening.REQUIRED_BANDS``) in a window of the
            reference grid, as reflectance with no data as NaN.
        area: the window that will be asked about (row_off, col_off, height, width).
        grid_shape: (height, width) of the reference grid: clouds are looked for within it only.
        resolution_m: pixel size of the grid in metres.
    """

    def __init__(
        self,
        read: ReadBands,
        area: PixelWindow,
        grid_shape: tuple[int, int],
        resolution_m: float,
    ) -> None:
        reach_px = math.ceil(SHADOW_REACH_M / resolution_m)
        row, col, height, width = area
        self.row0, self.col0 = max(0, row - reach_px), max(0, col - reach_px)
        row1 = min(grid_shape[0], row + height + reach_px)
        col1 = min(grid_shape[1], col + width + reach_px)
        cloudy = self._cloudy_cells(read, self.row0, self.col0, row1, col1)
        self.near = any_within(cloudy, math.ceil(reach_px / CELL_PX))

    @staticmethod
    def _cloudy_cells(read: ReadBands, row0: int, col0: int, row1: int, col1: int) -> np.ndarray:
        """(cells down, cells across) bool: the cell holds at least one cloud pixel."""
        cloudy = np.zeros(
            (math.ceil((row1 - row0) / CELL_PX), math.ceil((col1 - col0) / CELL_PX)), dtype=bool
        )
        for top in range(row0, row1, CHUNK_PX):
            for left in range(col0, col1, CHUNK_PX):
                height, width = min(CHUNK_PX, row1 - top), min(CHUNK_PX, col1 - left)
                cloud = cloud_screening.cloud_pixels(read((top, left, height, width)))
                cells = _cells_with_any(cloud)
                r, c = (top - row0) // CELL_PX, (left - col0) // CELL_PX
                cloudy[r : r + cells.shape[0], c : c + cells.shape[1]] |= cells
        return cloudy

    def near_cloud(self, window: PixelWindow) -> np.ndarray:
        """(height, width) bool for a window inside the area: a cloud lies within the reach."""
        row, col, height, width = window
        rows = (np.arange(row, row + height) - self.row0) // CELL_PX
        cols = (np.arange(col, col + width) - self.col0) // CELL_PX
        if rows.min() < 0 or cols.min() < 0:
            raise ValueError(
                f"window {window} starts before the cloud search ({self.row0}, {self.col0})"
            )
        rows = np.minimum(rows, self.near.shape[0] - 1)
        cols = np.minimum(cols, self.near.shape[1] - 1)
        return self.near[np.ix_(rows, cols)]


def pixel_size_m(crs: CRS, resolution: float) -> float:
    """A grid's pixel size in metres, from its size in the CRS's units (metres, feet, degrees)."""
    if crs.is_geographic:
        return resolution * METRES_PER_DEGREE
    return resolution * crs.linear_units_factor[1]


def _cells_with_any(mask: np.ndarray) -> np.ndarray:
    """A boolean (h, w) array reduced to CELL_PX x CELL_PX cells: True where any pixel is."""
    height, width = mask.shape
    padded = np.zeros(
        (math.ceil(height / CELL_PX) * CELL_PX, math.ceil(width / CELL_PX) * CELL_PX), dtype=bool
    )
    padded[:height, :width] = mask
    rows, cols = padded.shape[0] // CELL_PX, padded.shape[1] // CELL_PX
    return padded.reshape(rows, CELL_PX, cols, CELL_PX).any(axis=(1, 3))


def any_within(mask: np.ndarray, radius: int) -> np.ndarray:
    """True where ``mask`` holds a True within ``radius`` cells (a (2 radius + 1)-wide square)."""
    return window_counts(np.pad(mask, radius), 2 * radius + 1) > 0
