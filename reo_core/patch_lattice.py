"""The global patch lattice: where the 25 x 25-pixel patches lie, in plain projected coordinates.

Patches sit on one lattice anchored in the CRS, not on the corner of whatever extent was asked
for: patch origins are ``phase + k * stride * resolution`` on both axes, where ``phase`` is the
position of the imagery's 10 m pixel lattice (0 for Sentinel-2 products, whose pixel corners lie on
multiples of 10 m; so with the default stride patches start on multiples of 250 m). Any two runs
over the same imagery, whatever their extents, therefore give cells that coincide, and a map of a
part of a scene overlays the map of the whole.

A run covers the lattice cells that intersect its area (the extent cut to the imagery, or all of
the imagery). A cell is ``stride`` pixels wide and centred on its patch's centre, so with the
default stride it is the patch's footprint; cells at the imagery's edges hold patches that reach
past it, and the reader's no-data rule decides whether they are kept.

This module is plain arithmetic (no GDAL, numpy or torch) so that the QGIS plugin outlines the
patch under a click exactly as the worker computes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reo_core.errors import ExtentError

REFERENCE_RESOLUTION_M = 10.0  # the Sentinel-2 10 m grid every input is resampled onto
PATCH_SIZE = 25  # pixels per patch side (250 m), the paper's and AGBD's patch
# Coordinates within this fraction of a pixel of a lattice line count as on it (floating-point
# noise).
SNAP_TOLERANCE = 1e-6

Bounds = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class PatchLayout:
    """``rows`` x ``cols`` patches of ``size`` pixels, ``stride`` apart, from the pixel corner
    (``left``, ``top``) of a ``width`` x ``height``-pixel reference grid."""

    left: float
    top: float
    width: int  # pixels of the reference grid
    height: int
    stride: int = PATCH_SIZE
    size: int = PATCH_SIZE
    resolution: float = REFERENCE_RESOLUTION_M

    @property
    def rows(self) -> int:
        return (self.height - self.size) // self.stride + 1

    @property
    def cols(self) -> int:
        return (self.width - self.size) // self.stride + 1

    @property
    def cell_size(self) -> float:
        """Side of an output cell in CRS units (250 m at the default stride)."""
        return self.stride * self.resolution

    @property
    def cell_origin(self) -> tuple[float, float]:
        """Top-left corner of cell (0, 0): the first patch's corner moved to its centre cell."""
        shift = (self.size - self.stride) / 2.0 * self.resolution
        return self.left + shift, self.top - shift

    def patch_at(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the patch whose cell holds (x, y); ExtentError outside the layout."""
        x0, y0 = self.cell_origin
        col = math.floor((x - x0) / self.cell_size)
        row = math.floor((y0 - y) / self.cell_size)
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise ExtentError(
                f"The point ({x:.1f}, {y:.1f}) lies outside the Sentinel-2 imagery (or the extent)."
            )
        return row, col

    def patch_bounds(self, row: int, col: int) -> Bounds:
        """(xmin, ymin, xmax, ymax) of a patch's ``size`` x ``size``-pixel footprint."""
        left = self.left + col * self.stride * self.resolution
        top = self.top - row * self.stride * self.resolution
        side = self.size * self.resolution
        return left, top - side, left + side, top


def patch_layout(
    anchor: tuple[float, float],
    data_bounds: Bounds,
    extent: Bounds | None = None,
    stride: int = PATCH_SIZE,
    size: int = PATCH_SIZE,
    resolution: float = REFERENCE_RESOLUTION_M,
) -> PatchLayout:
    """The lattice cells covering the imagery, or ``extent`` (in the imagery's CRS) cut to it.

    Args:
        anchor: (x, y) of any pixel corner of the imagery's finest band: it fixes the lattice's
            phase, so the patches read the imagery's own pixels without resampling them.
        data_bounds: the area every band covers.
        extent: the requested area, or None for all of the imagery.
    """
    if size < 1 or not 1 <= stride <= size:
        raise ExtentError(f"Stride must be between 1 and the patch size {size}, got {stride}.")
    area = data_bounds
    if extent is not None:
        area = (
            max(extent[0], data_bounds[0]),
            max(extent[1], data_bounds[1]),
            min(extent[2], data_bounds[2]),
            min(extent[3], data_bounds[3]),
        )
    if not (
        area[2] - area[0] > SNAP_TOLERANCE * resolution
        and area[3] - area[1] > SNAP_TOLERANCE * resolution
    ):
        raise ExtentError(
            "The requested extent does not overlap the Sentinel-2 imagery; pan to the imagery "
            "or choose another extent.",
            details=f"extent {_fmt(extent)}; imagery {_fmt(data_bounds)}",
        )
    step = stride * resolution
    shift = (size - stride) / 2.0 * resolution  # from a patch's corner to its cell's corner
    phase_x, phase_y = _phase(anchor[0], resolution), _phase(anchor[1], resolution)
    first_col, last_col = _cells(area[0] - phase_x - shift, area[2] - phase_x - shift, step)
    # Rows count downwards: the same arithmetic on -y.
    first_row, last_row = _cells(-area[3] + phase_y - shift, -area[1] + phase_y - shift, step)
    left = phase_x + first_col * step
    top = phase_y - first_row * step
    width = (last_col - first_col) * stride + size
    height = (last_row - first_row) * stride + size
    return PatchLayout(left, top, width, height, stride, size, resolution)


def _phase(value: float, resolution: float) -> float:
    """Where the pixel lattice through ``value`` crosses [0, resolution); 0 when on a multiple."""
    phase = value % resolution
    if phase < SNAP_TOLERANCE * resolution or phase > (1 - SNAP_TOLERANCE) * resolution:
        return 0.0
    return phase


def _cells(low: float, high: float, step: float) -> tuple[int, int]:
    """First and last lattice index k whose cell [k*step, (k+1)*step) meets (low, high)."""
    first = math.floor(low / step + SNAP_TOLERANCE)
    last = math.ceil(high / step - SNAP_TOLERANCE) - 1
    return first, max(first, last)


def _fmt(bounds: Bounds | None) -> str:
    return "none" if bounds is None else "(" + ", ".join(f"{v:.2f}" for v in bounds) + ")"
