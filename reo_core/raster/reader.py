"""Streaming patches: Sentinel-2 (and PALSAR-2) resampled onto the 10 m grid, cut into 25x25
windows.

The reader walks the patch grid in square blocks of patches, so memory depends on the block size,
never on the size of the extent. Every input is read through a ``WarpedVRT`` onto the reference
grid, which resamples 20/60 m bands and reprojects PALSAR-2 from any CRS in one step.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import rasterio
import shapely
from numpy.lib.stride_tricks import sliding_window_view
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from reo_core.errors import ExtentError, InputError
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.raster.cloud_reach import CloudReach, pixel_size_m
from reo_core.raster.clouds import MASK, SCL, SCREENING, classify_mask
from reo_core.raster.extent import Extent, parse_crs
from reo_core.raster.grid import PatchGrid, PixelGrid, PixelWindow, reference_grid
from reo_core.raster.product import Sentinel2Input
from reo_core.raster.skips import SkipCounts, no_usable_patch, skip_reasons
from reo_core.raster.sources import FLOAT_FILL, BandRef, SarInput
from reo_core.sensors import cloud_screening, palsar2, sentinel2

logger = logging.getLogger(__name__)

DEFAULT_MAX_NODATA_FRACTION = 0.25
DEFAULT_BLOCK_PATCHES = 16
# GDAL's block cache defaults to 5% of RAM and would grow with the extent; cap it.
DEFAULT_GDAL_CACHE_MB = 32
# GDAL approximates a reprojection linearly over each chunk it warps (to 1/8 pixel by default), so
# a pixel's value would depend on the extent asked for. Near-zero tolerance transforms every pixel
# exactly: an extent processed whole or in tiles gives the same values (0 is not accepted).
WARP_TOLERANCE = 1e-6

NamedRefs = list[tuple[str, BandRef]]  # (band name, band) pairs of one file
FileVrts = dict[Path, tuple[WarpedVRT, NamedRefs]]  # per input file: its VRT and its bands
NodataOf = Callable[[BandRef], tuple[float | None, float]]  # a band -> (source, warped) no-data


class BlockSpan(NamedTuple):
    """A block of ``n_rows`` x ``n_cols`` patches from patch (``row``, ``col``)."""

    row: int
    col: int
    n_rows: int
    n_cols: int


@dataclass(frozen=True)
class _OpenInputs:
    """The inputs seen through WarpedVRTs on the reference grid, for one pass over the blocks."""

    s2: FileVrts
    mask: WarpedVRT | None  # the cloud mask (SCL or the user's), if the clouds come from one
    sar: FileVrts | None
    cloud_reach: CloudReach | None  # where the built-in screening may find shadows, if it is used


@dataclass
class PatchBlock:
    """A block of ``n_rows`` x ``n_cols`` patches starting at patch-grid cell (``row``, ``col``).

    ``s2`` is reflectance (R, C, bands, size, size) in ``band_order``; ``sar`` is gamma-naught dB
    (R, C, 2, size, size) ordered HH, HV. No-data, cloud and cloud-shadow pixels are NaN. ``keep``
    marks the patches that pass the no-data rule and lie in the area of interest; the others must
    come out as no-data, and ``skip_reason`` says why (``reo_core.raster.skips`` codes, 0 = kept).
    """

    row: int
    col: int
    s2: np.ndarray
    sar: np.ndarray | None
    valid_fraction: np.ndarray  # (R, C)
    keep: np.ndarray  # (R, C) bool
    band_order: tuple[str, ...]
    skip_reason: np.ndarray | None = None  # (R, C) uint8

    @property
    def n_rows(self) -> int:
        return self.keep.shape[0]

    @property
    def n_cols(self) -> int:
        return self.keep.shape[1]


class PatchReader:
    """Reads the patches of an extent, block by block.

    Args:
        s2: resolved Sentinel-2 input (``open_sentinel2``).
        sar: resolved PALSAR-2 input (``open_sar``) or None.
        extent: area to process in any CRS; None = all of the Sentinel-2 imagery.
        stride: pixels between patch origins (25 = adjacent patches).
        max_nodata_fraction: patches with more no-data pixels than this are skipped.
        block_patches: patches per side of a streamed block (memory ~ block_patches^2).
        resampling: how coarser bands and PALSAR-2 are resampled onto the 10 m grid.
    """

    def __init__(
        self,
        s2: Sentinel2Input,
        sar: SarInput | None = None,
        extent: Extent | None = None,
        stride: int = PATCH_SIZE,
        patch_size: int = PATCH_SIZE,
        max_nodata_fraction: float = DEFAULT_MAX_NODATA_FRACTION,
        block_patches: int = DEFAULT_BLOCK_PATCHES,
        resampling: Resampling = Resampling.bilinear,
        gdal_cache_mb: int = DEFAULT_GDAL_CACHE_MB,
    ) -> None:
        if not 0.0 <= max_nodata_fraction < 1.0:
            raise InputError(f"max_nodata_fraction must be in [0, 1), got {max_nodata_fraction}.")
        if block_patches < 1:
            raise InputError(f"block_patches must be at least 1, got {block_patches}.")
        self.s2, self.sar = s2, sar
        self.band_order = tuple(b for b in sentinel2.AGBD_BAND_ORDER if b in s2.bands)
        self.max_nodata_fraction = max_nodata_fraction
        self.block_patches = block_patches
        self.resampling = resampling
        self.gdal_cache_mb = gdal_cache_mb
        self.skips = SkipCounts()  # patches skipped by reason, over the blocks read last
        finest = min(s2.bands.values(), key=lambda ref: ref.resolution)
        self.data_bounds = _intersection(s2.bands.values())  # where every band has pixels
        self.patch_grid: PatchGrid = reference_grid(
            s2.crs, finest.transform, self.data_bounds, extent, patch_size, stride
        )
        # Inputs are warped onto the grid of all of the imagery, whatever the extent, and the
        # extent's patches read as windows of it: GDAL computes a pixel's resampling weights from
        # the warped grid's origin, so one grid for every run gives bitwise the same pixels.
        self._warp_grid = reference_grid(
            s2.crs, finest.transform, self.data_bounds, None, patch_size, stride
        ).pixels
        self._offset = _pixel_offset(self.patch_grid.pixels, self._warp_grid)
        self._area = None
        if extent is not None and not extent.is_box:
            self._area = extent.to_crs(parse_crs(s2.crs)).geometry
            shapely.prepare(self._area)
        if sar is not None:
            self._check_sar_overlap(sar)

    def blocks(self, indices: Sequence[int] | None = None) -> Iterator[PatchBlock]:
        """Every block of the patch grid, row-major. Raises ExtentError if no patch was usable.

        Args:
            indices: read only these blocks (positions in ``block_layout()``), in the order given,
                e.g. every k-th block for one of k processes. The no-usable-patch check is then
                the caller's: it needs all blocks.
        """
        layout = self.block_layout()
        selected = layout if indices is None else [layout[i] for i in indices]
        kept = 0
        self.skips = SkipCounts()
        with rasterio.Env(GDAL_CACHEMAX=self.gdal_cache_mb * 1024 * 1024), ExitStack() as stack:
            s2_vrts = self._open_vrts(stack, self.s2.bands, _s2_nodata)
            screening = self.s2.decision.clouds.kind == SCREENING
            files = _OpenInputs(
                s2_vrts,
                self._open_mask_vrt(stack) if self.s2.cloud_mask is not None else None,
                self._open_vrts(stack, self.sar.bands, self._sar_nodata) if self.sar else None,
                self._cloud_reach(s2_vrts) if screening else None,
            )
            for span in selected:
                block = self._read_block(files, span)
                kept += int(block.keep.sum())
                self.skips.add(block.skip_reason)
                yield block
        if kept == 0 and indices is None:
            raise self.no_usable_patch(self.skips.counts)

    def no_usable_patch(self, counts: dict[str, int] | None) -> ExtentError:
        """The error of a run without a usable patch, saying why (``counts`` by skip reason)."""
        return no_usable_patch(counts, self.max_nodata_fraction, self.s2.decision.clouds.detail)

    def block_layout(self) -> list[BlockSpan]:
        """(row, col, n_rows, n_cols) of every block, row-major."""
        grid, step = self.patch_grid, self.block_patches
        return [
            BlockSpan(row, col, min(step, grid.rows - row), min(step, grid.cols - col))
            for row in range(0, grid.rows, step)
            for col in range(0, grid.cols, step)
        ]

    @property
    def n_patches(self) -> int:
        return self.patch_grid.rows * self.patch_grid.cols

    def _read_block(self, files: _OpenInputs, span: BlockSpan) -> PatchBlock:
        row_off, col_off, height, width = self.patch_grid.pixel_window(*span)
        window = (row_off + self._offset[0], col_off + self._offset[1], height, width)
        inside = self._inside_area(span)
        s2 = self._read_s2(files.s2, window)  # (bands, h, w)
        no_data = ~np.isfinite(s2).all(axis=0)
        cloud, shadow, mask_no_data = self._clouds(files, s2, window)
        no_data |= mask_no_data
        sar = None
        if files.sar is not None:
            sar = self._read_sar(files.sar, window)
            no_data |= ~np.isfinite(sar).all(axis=0)
        cloud &= ~no_data
        shadow &= ~(no_data | cloud)
        s2[:, no_data | cloud | shadow] = np.nan
        size, stride = self.patch_grid.size, self.patch_grid.stride
        fractions = np.stack(
            [
                _patches(m[None].astype(np.float32), size, stride)[:, :, 0].mean(axis=(-2, -1))
                for m in (no_data, cloud, shadow)
            ],
            axis=-1,
        )  # (R, C, 3)
        valid_fraction = 1.0 - fractions.sum(axis=-1)
        keep = inside & (1.0 - valid_fraction <= self.max_nodata_fraction + 1e-9)
        return PatchBlock(
            row=span.row,
            col=span.col,
            s2=_patches(s2, size, stride),
            sar=None if sar is None else _patches(sar, size, stride),
            valid_fraction=valid_fraction,
            keep=keep,
            band_order=self.band_order,
            skip_reason=skip_reasons(keep, inside, fractions),
        )

    def _clouds(
        self, files: _OpenInputs, s2: np.ndarray, window: PixelWindow
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cloud, shadow, no_data) pixels of a block from the decided cloud source."""
        source = self.s2.decision.clouds
        if source.kind in (SCL, MASK):
            ref = self.s2.cloud_mask
            values = _read_window(files.mask, [("mask", ref)], window)[0]
            return classify_mask(values, source, files.mask.nodata)
        none = np.zeros(s2.shape[1:], dtype=bool)
        if source.kind != SCREENING:
            return none, none.copy(), none.copy()
        reflectance = {b: s2[self.band_order.index(b)] for b in cloud_screening.REQUIRED_BANDS}
        cloud, shadow = cloud_screening.screen(reflectance, files.cloud_reach.near_cloud(window))
        return cloud, shadow, none

    def _cloud_reach(self, vrts: FileVrts) -> CloudReach:
        """Where the built-in screening's shadows may lie: near its clouds, looked for over the
        patch grid and the shadow reach around it (``reo_core.raster.cloud_reach``)."""
        wanted = cloud_screening.REQUIRED_BANDS
        screening_vrts = {
            path: (vrt, [(name, ref) for name, ref in refs if name in wanted])
            for path, (vrt, refs) in vrts.items()
        }
        screening_vrts = {path: value for path, value in screening_vrts.items() if value[1]}

        def read(window: PixelWindow) -> dict[str, np.ndarray]:
            bands = _read_bands(
                screening_vrts, window, "Sentinel-2", self.s2.to_reflectance, wanted
            )
            return dict(zip(wanted, bands, strict=True))

        pixels, whole = self.patch_grid.pixels, self._warp_grid
        area = (self._offset[0], self._offset[1], pixels.height, pixels.width)
        pixel_m = pixel_size_m(whole.crs, whole.resolution)
        return CloudReach(read, area, (whole.height, whole.width), pixel_m)

    def _read_s2(self, vrts: FileVrts, window: PixelWindow) -> np.ndarray:
        """(bands, h, w) reflectance in ``band_order``; no data as NaN."""
        return _read_bands(vrts, window, "Sentinel-2", self.s2.to_reflectance, self.band_order)

    def _read_sar(self, vrts: FileVrts, window: PixelWindow) -> np.ndarray:
        """(2, h, w) gamma-naught dB, HH then HV; no data as NaN."""

        def to_db(values: np.ndarray, _ref: BandRef) -> np.ndarray:
            return palsar2.to_db(values, self.sar.units)

        return _read_bands(vrts, window, "PALSAR-2", to_db, palsar2.POLARISATIONS)

    def _open_vrts(
        self, stack: ExitStack, bands: dict[str, BandRef], nodata_of: NodataOf
    ) -> FileVrts:
        """One WarpedVRT per input file onto the reference grid: {path: (vrt, [band refs])}."""
        by_path: dict[Path, list[tuple[str, BandRef]]] = {}
        for name, ref in bands.items():
            by_path.setdefault(ref.path, []).append((name, ref))
        vrts = {}
        for path, named_refs in by_path.items():
            src_nodata, dst_nodata = nodata_of(named_refs[0][1])
            vrts[path] = (
                self._warp(stack, path, self.resampling, src_nodata, dst_nodata),
                named_refs,
            )
        return vrts

    def _open_mask_vrt(self, stack: ExitStack) -> WarpedVRT:
        """The cloud mask (SCL or the user's) on the reference grid, resampled by nearest so
        classes stay classes. Outside the mask: SCL's no-data class 0, else the mask's no-data
        (or 0, clear)."""
        ref = self.s2.cloud_mask
        if self.s2.decision.clouds.kind == SCL:
            return self._warp(stack, ref.path, Resampling.nearest, None, 0)
        nodata = ref.nodata if ref.nodata is not None else 0
        return self._warp(stack, ref.path, Resampling.nearest, ref.nodata, nodata)

    def _warp(
        self,
        stack: ExitStack,
        path: Path,
        resampling: Resampling,
        src_nodata: float | None,
        nodata: float,
    ) -> WarpedVRT:
        """A file seen through a WarpedVRT on the imagery's reference grid, closed with
        ``stack``."""
        pixels = self._warp_grid
        src = stack.enter_context(rasterio.open(path))
        vrt = WarpedVRT(
            src,
            crs=pixels.crs,
            transform=pixels.transform,
            width=pixels.width,
            height=pixels.height,
            resampling=resampling,
            src_nodata=src_nodata,
            nodata=nodata,
            tolerance=WARP_TOLERANCE,
        )
        return stack.enter_context(vrt)

    def _sar_nodata(self, ref: BandRef) -> tuple[float | None, float]:
        if ref.is_integer:
            return (ref.nodata if ref.nodata is not None else palsar2.NODATA_DN), 0
        return _float_nodata(ref)

    def _inside_area(self, span: BlockSpan) -> np.ndarray:
        row, col, n_rows, n_cols = span
        if self._area is None:
            return np.ones((n_rows, n_cols), dtype=bool)
        boxes = [
            shapely.box(*self.patch_grid.patch_bounds(r, c))
            for r in range(row, row + n_rows)
            for c in range(col, col + n_cols)
        ]
        return shapely.intersects(self._area, boxes).reshape(n_rows, n_cols)

    def _check_sar_overlap(self, sar: SarInput) -> None:
        ref = sar.bands["HH"]
        sar_bounds = transform_bounds(
            ref.crs, self.patch_grid.pixels.crs, *ref.bounds, densify_pts=21
        )
        grid = self.patch_grid.pixels.bounds
        overlaps = sar_bounds[0] < grid[2] and grid[0] < sar_bounds[2]
        overlaps = overlaps and sar_bounds[1] < grid[3] and grid[1] < sar_bounds[3]
        if not overlaps:
            raise ExtentError(
                "The PALSAR-2 input does not overlap the extent; "
                "give PALSAR-2 tiles that cover it, "
                "or run without PALSAR-2 (modality 'ms').",
                details=f"PALSAR-2 {ref.path.name} bounds in {ref.crs}: {ref.bounds}",
            )


def read_native(
    ref: BandRef, units: palsar2.SarUnits, window: PixelWindow | None = None
) -> np.ndarray:
    """One PALSAR-2 band on its own grid, in dB; the file's no-data and DN 0 become NaN.

    Args:
        window: (row_off, col_off, height, width) in the file's pixels; None = the whole band.
    """
    with rasterio.open(ref.path) as src:
        read_window = (
            None
            if window is None
            else rasterio.windows.Window(window[1], window[0], window[3], window[2])
        )
        values = src.read(ref.index, window=read_window)
    invalid = _invalid(values, ref.nodata, ref, "PALSAR-2 band")
    db = palsar2.to_db(values, units)
    db[invalid] = np.nan
    return db


def _pixel_offset(part: PixelGrid, whole: PixelGrid) -> tuple[int, int]:
    """(row, col) of grid ``part``'s corner in grid ``whole``: both lie on one 10 m lattice."""
    col = (part.transform.c - whole.transform.c) / whole.resolution
    row = (whole.transform.f - part.transform.f) / whole.resolution
    if min(row, col) < -1e-6 or abs(row - round(row)) > 1e-6 or abs(col - round(col)) > 1e-6:
        raise AssertionError(f"grid {part.transform} is not on the pixels of {whole.transform}")
    return round(row), round(col)


def _read_bands(
    vrts: FileVrts,
    window: PixelWindow,
    sensor: str,
    convert: Callable[[np.ndarray, BandRef], np.ndarray],
    order: Sequence[str],
) -> np.ndarray:
    """Every band of ``vrts`` in ``window``, converted, no data as NaN, stacked in ``order``."""
    bands = {}
    for vrt, named_refs in vrts.values():
        data = _read_window(vrt, named_refs, window)
        for (name, ref), values in zip(named_refs, data, strict=True):
            invalid = _invalid(values, vrt.nodata, ref, f"{sensor} band {name}")
            converted = convert(values, ref)
            converted[invalid] = np.nan
            bands[name] = converted
    return np.stack([bands[name] for name in order])


def _read_window(vrt: WarpedVRT, named_refs: NamedRefs, window: PixelWindow) -> np.ndarray:
    row_off, col_off, height, width = window
    return vrt.read(
        indexes=[ref.index for _, ref in named_refs],
        window=rasterio.windows.Window(col_off, row_off, width, height),
    )


def _s2_nodata(ref: BandRef) -> tuple[float | None, float]:
    if ref.is_integer:
        # L2A marks no data with DN 0; a file may declare another value too.
        return (ref.nodata if ref.nodata is not None else sentinel2.NODATA_DN), 0
    return _float_nodata(ref)


def _float_nodata(ref: BandRef) -> tuple[float | None, float]:
    if ref.nodata is None:
        return None, FLOAT_FILL
    return ref.nodata, ref.nodata


def _invalid(values: np.ndarray, dst_nodata: float | None, ref: BandRef, what: str) -> np.ndarray:
    """No-data pixels of a warped read; NaNs where the file does not declare NaN as no-data are an
    error."""
    nan = np.isnan(values) if not ref.is_integer else np.zeros(values.shape, dtype=bool)
    declared_nan = ref.nodata is not None and math.isnan(ref.nodata)
    if nan.any() and not declared_nan:
        raise InputError(
            f"{what} ({ref.path.name}) contains NaN values but does not declare NaN as no-data. "
            f"Declare it (gdal_edit.py -a_nodata nan {ref.path.name}) or fill the NaNs.",
        )
    if dst_nodata is None or math.isnan(dst_nodata):
        return nan
    return nan | (values == dst_nodata)


def _patches(pixels: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Cut (bands, H, W) into patches (rows, cols, bands, size, size)."""
    windows = sliding_window_view(pixels, (size, size), axis=(-2, -1))[:, ::stride, ::stride]
    return np.ascontiguousarray(np.moveaxis(windows, 0, 2))


def _intersection(refs: Iterable[BandRef]) -> tuple[float, float, float, float]:
    """Area covered by every band; the bands must overlap."""
    refs = list(refs)
    bounds = [ref.bounds for ref in refs]
    left, bottom = max(b[0] for b in bounds), max(b[1] for b in bounds)
    right, top = min(b[2] for b in bounds), min(b[3] for b in bounds)
    if not (left < right and bottom < top):
        raise InputError(
            "The Sentinel-2 band files do not overlap each other; give bands of one scene.",
            details="; ".join(f"{r.path.name}: {r.bounds}" for r in refs),
        )
    return left, bottom, right, top
