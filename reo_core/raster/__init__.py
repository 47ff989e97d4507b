"""Raster pipeline: inputs -> 10 m reference grid -> 25x25 patches -> patch-grid GeoTIFFs."""

from reo_core.raster.clouds import CloudOptions
from reo_core.raster.extent import Extent
from reo_core.raster.grid import PatchGrid, PixelGrid, reference_grid
from reo_core.raster.product import ProductDecision, Sentinel2Input, open_sentinel2
from reo_core.raster.reader import PatchBlock, PatchReader
from reo_core.raster.sources import SarInput, open_sar
from reo_core.raster.writer import PatchGridWriter

__all__ = [
    "CloudOptions",
    "Extent",
    "PatchBlock",
    "PatchGrid",
    "PatchGridWriter",
    "PatchReader",
    "PixelGrid",
    "ProductDecision",
    "SarInput",
    "Sentinel2Input",
    "open_sar",
    "open_sentinel2",
    "reference_grid",
]
