"""Raster pipeline: inputs -> 10 m reference grid -> 25x25 patches -> patch-grid GeoTIFFs."""

from reo_core.raster.clouds import CloudOptions
from reo_core.raster.extent import Extent
from reo_core.raster.grid import PixelGrid
from reo_core.raster.product import open_sentinel2
from reo_core.raster.reader import PatchReader
from reo_core.raster.sources import open_sar
from reo_core.raster.writer import PatchGridWriter

__all__ = [
    "CloudOptions",
    "Extent",
    "PatchGridWriter",
    "PatchReader",
    "PixelGrid",
    "open_sar",
    "open_sentinel2",
]
