"""The patch under a map click, computed in the plugin the way reo_core's grid does it.

reo_core's reference grid (``reo_core/raster/grid.py``) is the 10 m grid anchored on the finest
Sentinel-2 band's pixel corners, cut to the imagery (snapped inward) or to a requested extent
(snapped outward), and grown to whole patches; a point belongs to the patch whose centre cell holds
it. This module repeats that arithmetic without rasterio, so a click can be outlined at once; the
worker's answer carries the patch it used, and a test checks both agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reo_core.errors import ExtentError

RESOLUTION_M = 10.0
PATCH_SIZE = 25
SNAP_TOLERANCE = 1e-6

Bounds = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class LocalPatchGrid:
    """``rows`` x ``cols`` patches of ``size`` pixels, ``stride`` apart, from (left, top)."""

    left: float
    top: float
    width: int  # pixels
    height: int
    stride: int = PATCH_SIZE
    size: int = PATCH_SIZE
    resolution: float = RESOLUTION_M

    @property
    def rows(self) -> int:
        return (self.height - self.size) // self.stride + 1

    @property
    def cols(self) -> int:
        return (self.width - self.size) // self.stride + 1

    def patch_at(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the patch whose centre cell holds (x, y); ExtentError outside."""
        cell = self.stride * self.resolution
        shift = (self.size - self.stride) / 2.0 * self.resolution
        col = math.floor((x - self.left - shift) / cell)
        row = math.floor((self.top - shift - y) / cell)
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise ExtentError(f"The point ({x:.1f}, {y:.1f}) lies outside the Sentinel-2 imagery.")
        return row, col

    def patch_bounds(self, row: int, col: int) -> Bounds:
        """(xmin, ymin, xmax, ymax) of a patch's 25 x 25 pixel footprint."""
        left = self.left + col * self.stride * self.resolution
        top = self.top - row * self.stride * self.resolution
        side = self.size * self.resolution
        return left, top - side, left + side, top


def patch_grid(
    anchor: tuple[float, float],
    data_bounds: Bounds,
    extent: Bounds | None = None,
    stride: int = PATCH_SIZE,
    size: int = PATCH_SIZE,
) -> LocalPatchGrid:
    """The patch grid of the imagery (or of ``extent``, given in the imagery's CRS).

    Args:
        anchor: (x, y) of a pixel corner of the finest Sentinel-2 band.
        data_bounds: the area every Sentinel-2 band covers.
        extent: the requested area, or None for all of the imagery.
    """
    res = RESOLUTION_M
    data = _snap(data_bounds, anchor, outward=False)
    wanted = data
    if extent is not None:
        wanted = _snap(extent, anchor, outward=True)
        wanted = (max(wanted[0], data[0]), max(wanted[1], data[1]),
                  min(wanted[2], data[2]), min(wanted[3], data[3]))  # fmt: skip
    width = round((wanted[2] - wanted[0]) / res)
    height = round((wanted[3] - wanted[1]) / res)
    if width < size or height < size:
        raise ExtentError("The area is smaller than one patch (250 m); enlarge it.")
    width = size + math.ceil((width - size) / stride) * stride
    height = size + math.ceil((height - size) / stride) * stride
    return LocalPatchGrid(wanted[0], wanted[3], width, height, stride, size)


def _snap(bounds: Bounds, anchor: tuple[float, float], outward: bool) -> Bounds:
    x0, y0 = anchor

    def down(value: float, origin: float) -> float:
        return origin + math.floor((value - origin) / RESOLUTION_M + SNAP_TOLERANCE) * RESOLUTION_M

    def up(value: float, origin: float) -> float:
        return origin + math.ceil((value - origin) / RESOLUTION_M - SNAP_TOLERANCE) * RESOLUTION_M

    left, bottom, right, top = bounds
    if outward:
        return down(left, x0), down(bottom, y0), up(right, x0), up(top, y0)
    return up(left, x0), up(bottom, y0), down(right, x0), down(top, y0)
