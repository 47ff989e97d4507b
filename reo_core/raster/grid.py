"""Grids: the 10 m reference grid of a request, and the patch grid of its 25x25 windows.

The reference grid is the Sentinel-2 10 m pixel grid (anchored on the finest Sentinel-2 band's
pixel corners) cut to the requested extent. Every other input is resampled onto it. The patch grid
has one cell per patch: for stride ``s`` and patch size ``p`` its cells are ``s`` pixels wide and
centred on the patches' centres, so with the default stride 25 each cell is the patch's footprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rasterio.crs import CRS
from rasterio.transform import Affine

from reo_core.errors import ExtentError, InputError
from reo_core.raster.extent import Extent, parse_crs

REFERENCE_RESOLUTION_M = 10.0
PATCH_SIZE = 25
# Grid edges within this fraction of a pixel of a grid line snap to it (floating-point noise).
SNAP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PixelGrid:
    """A north-up raster grid: CRS, affine transform and size in pixels."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def resolution(self) -> float:
        return self.transform.a

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform.c, self.transform.f
        return left, top + self.height * self.transform.e, left + self.width * self.transform.a, top


@dataclass(frozen=True)
class PatchGrid:
    """The patches of a reference grid: ``rows`` x ``cols`` windows of ``size`` pixels, ``stride`` apart."""

    pixels: PixelGrid
    size: int
    stride: int

    @property
    def rows(self) -> int:
        return (self.pixels.height - self.size) // self.stride + 1

    @property
    def cols(self) -> int:
        return (self.pixels.width - self.size) // self.stride + 1

    @property
    def grid(self) -> PixelGrid:
        """The output raster grid: one cell per patch, centred on the patch centre."""
        res = self.pixels.resolution
        shift = (self.size - self.stride) / 2.0 * res
        transform = Affine(
            self.stride * res, 0.0, self.pixels.transform.c + shift,
            0.0, -self.stride * res, self.pixels.transform.f - shift,
        )  # fmt: skip
        return PixelGrid(self.pixels.crs, transform, self.cols, self.rows)

    def pixel_window(
        self, row: int, col: int, n_rows: int = 1, n_cols: int = 1
    ) -> tuple[int, int, int, int]:
        """(row_off, col_off, height, width) in reference pixels covering a block of patches."""
        return (
            row * self.stride,
            col * self.stride,
            (n_rows - 1) * self.stride + self.size,
            (n_cols - 1) * self.stride + self.size,
        )

    def patch_bounds(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of one patch's footprint in the grid's CRS."""
        res = self.pixels.resolution
        left = self.pixels.transform.c + col * self.stride * res
        top = self.pixels.transform.f - row * self.stride * res
        return left, top - self.size * res, left + self.size * res, top

    def patch_at(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the patch whose centre cell holds the point (x, y) in the grid's CRS."""
        inverse = ~self.grid.transform
        col, row = inverse @ (x, y)
        row, col = math.floor(row), math.floor(col)
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise ExtentError(f"The point ({x}, {y}) lies outside the processed area.")
        return row, col


def reference_grid(
    crs: CRS,
    anchor: Affine,
    data_bounds: tuple[float, float, float, float],
    extent: Extent | None,
    patch_size: int = PATCH_SIZE,
    stride: int = PATCH_SIZE,
) -> PatchGrid:
    """The patch grid covering ``extent`` (or all of ``data_bounds``) on the 10 m grid of ``anchor``.

    The requested area is snapped outward to 10 m pixels and grown so whole patches cover it; the
    imagery's area is snapped inward. Patches beyond the imagery read as no-data.
    """
    if patch_size < 1 or not 1 <= stride <= patch_size:
        raise InputError(f"Stride must be between 1 and the patch size {patch_size}, got {stride}.")
    if not crs.is_projected:
        raise InputError(
            f"The Sentinel-2 input is in a geographic CRS ({crs}); REO works on the 10 m grid of a "
            "projected CRS. Warp it to its UTM zone first (gdalwarp -t_srs EPSG:326xx)."
        )
    res, x0, y0 = REFERENCE_RESOLUTION_M, anchor.c, anchor.f
    data = _snap(data_bounds, x0, y0, res, outward=False)
    if extent is None:
        wanted = data
    else:
        projected = extent.to_crs(parse_crs(crs))
        wanted = _snap(projected.bounds, x0, y0, res, outward=True)
        if not _overlaps(wanted, data):
            raise ExtentError(
                "The requested extent does not overlap the Sentinel-2 imagery; pan to the imagery "
                "or choose another extent.",
                details=f"extent in {crs}: {_fmt(projected.bounds)}; imagery: {_fmt(data_bounds)}",
            )
        wanted = (
            max(wanted[0], data[0]),
            max(wanted[1], data[1]),
            min(wanted[2], data[2]),
            min(wanted[3], data[3]),
        )
    width = round((wanted[2] - wanted[0]) / res)
    height = round((wanted[3] - wanted[1]) / res)
    if width < patch_size or height < patch_size:
        raise ExtentError(
            f"The extent covers {width} x {height} pixels of 10 m, smaller than one patch of "
            f"{patch_size} x {patch_size} pixels ({patch_size * res:.0f} m); enlarge it."
        )
    # Grow to whole patches: the last patch may reach past the request.
    width = patch_size + math.ceil((width - patch_size) / stride) * stride
    height = patch_size + math.ceil((height - patch_size) / stride) * stride
    transform = Affine(res, 0.0, wanted[0], 0.0, -res, wanted[3])
    return PatchGrid(PixelGrid(crs, transform, width, height), patch_size, stride)


def _snap(
    bounds, x0: float, y0: float, res: float, outward: bool
) -> tuple[float, float, float, float]:
    def down(value: float, origin: float) -> float:
        steps = (value - origin) / res
        return origin + math.floor(steps + SNAP_TOLERANCE) * res

    def up(value: float, origin: float) -> float:
        steps = (value - origin) / res
        return origin + math.ceil(steps - SNAP_TOLERANCE) * res

    left, bottom, right, top = bounds
    if outward:
        return down(left, x0), down(bottom, y0), up(right, x0), up(top, y0)
    return up(left, x0), up(bottom, y0), down(right, x0), down(top, y0)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _fmt(bounds) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in bounds) + ")"
