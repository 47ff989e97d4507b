"""Grids: the 10 m reference grid of a request, and the patch grid of its 25x25 windows.

Patches lie on the global lattice of ``reo_core.patch_lattice`` (origins on multiples of the stride
in the CRS, in phase with the imagery's 10 m pixels), so runs over different extents give cells
that coincide. The reference grid is the 10 m grid those patches cover; every input is resampled
onto it. The patch grid has one cell per patch: for stride ``s`` and patch size ``p`` its cells are
``s`` pixels wide and centred on the patches' centres, so with the default stride 25 each cell is
the patch's footprint.
"""

from __future__ import annotations

from dataclasses import dataclass

from rasterio.crs import CRS
from rasterio.transform import Affine

from reo_core.errors import ExtentError, InputError
from reo_core.patch_lattice import (
    PATCH_SIZE,
    REFERENCE_RESOLUTION_M,
    Bounds,
    PatchLayout,
    patch_layout,
)
from reo_core.raster.extent import Extent, parse_crs

__all__ = ["PatchGrid", "PixelGrid", "PixelWindow", "reference_grid"]


PixelWindow = tuple[int, int, int, int]  # row_off, col_off, height, width on a PixelGrid


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
    """The patches of a reference grid: ``rows`` x ``cols`` windows of ``size`` pixels, ``stride``
    apart."""

    pixels: PixelGrid
    size: int
    stride: int

    @property
    def layout(self) -> PatchLayout:
        """The same patches as plain numbers (``reo_core.patch_lattice``)."""
        p = self.pixels
        return PatchLayout(
            p.transform.c, p.transform.f, p.width, p.height, self.stride, self.size, p.resolution
        )

    @property
    def rows(self) -> int:
        return self.layout.rows

    @property
    def cols(self) -> int:
        return self.layout.cols

    @property
    def grid(self) -> PixelGrid:
        """The output raster grid: one cell per patch, centred on the patch centre."""
        layout = self.layout
        x0, y0 = layout.cell_origin
        transform = Affine(layout.cell_size, 0.0, x0, 0.0, -layout.cell_size, y0)
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
        return self.layout.patch_bounds(row, col)

    def patch_at(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the patch whose centre cell holds the point (x, y) in the grid's CRS."""
        return self.layout.patch_at(x, y)


def reference_grid(
    crs: CRS,
    anchor: Affine,
    data_bounds: tuple[float, float, float, float],
    extent: Extent | None,
    patch_size: int = PATCH_SIZE,
    stride: int = PATCH_SIZE,
) -> PatchGrid:
    """The patch grid covering ``extent`` (or all of ``data_bounds``) on the global patch lattice.

    ``anchor`` is the transform of the finest Sentinel-2 band: its pixel corners fix the lattice's
    phase. The patches are the lattice cells that meet the extent cut to the imagery; those that
    reach past the imagery read as no-data there.
    """
    if patch_size < 1 or not 1 <= stride <= patch_size:
        raise InputError(f"Stride must be between 1 and the patch size {patch_size}, got {stride}.")
    if not crs.is_projected:
        raise InputError(
            f"The Sentinel-2 input is in a geographic CRS ({crs}); REO works on the 10 m grid of a "
            "projected CRS. Warp it to its UTM zone first (gdalwarp -t_srs EPSG:326xx)."
        )
    wanted = None
    if extent is not None:
        wanted = extent.to_crs(parse_crs(crs)).bounds
        if not _overlaps(wanted, data_bounds):
            raise ExtentError(
                "The requested extent does not overlap the Sentinel-2 imagery; pan to the imagery "
                "or choose another extent.",
                details=f"extent in {crs}: {_fmt(wanted)}; imagery: {_fmt(data_bounds)}",
            )
    layout = patch_layout(
        (anchor.c, anchor.f), data_bounds, wanted, stride, patch_size, REFERENCE_RESOLUTION_M
    )
    res = layout.resolution
    transform = Affine(res, 0.0, layout.left, 0.0, -res, layout.top)
    return PatchGrid(PixelGrid(crs, transform, layout.width, layout.height), patch_size, stride)


def _overlaps(a: Bounds, b: Bounds) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _fmt(bounds: Bounds) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in bounds) + ")"
