"""A PNG quicklook of an estimate: the AGB map with its Mg/ha colour bar beside the land-cover map.

Drawn with matplotlib's Agg canvas (no display, no pyplot state) from the written GeoTIFFs, read at
most ``MAX_PIXELS`` on a side (through their overviews), so memory does not grow with the extent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling

from reo_core.atomic import replacing
from reo_core.landcover import CLASSES, NODATA_CODE

MAX_PIXELS = 1000
AGB_COLORMAP = "YlGn"


def write_quicklook(path: Path, agb_tif: Path, land_cover_tif: Path, title: str = "") -> Path:
    """Draw ``path`` (PNG) from the AGB and land-cover GeoTIFFs; written atomically.

    Axes are the rasters' CRS coordinates; the land-cover legend lists the classes present.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    agb, extent = _read(agb_tif, Resampling.average)
    classes, _ = _read(land_cover_tif, Resampling.mode)
    agb = np.ma.masked_invalid(agb)
    figure = Figure(figsize=(12, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    image = left.imshow(agb, cmap=AGB_COLORMAP, extent=extent, interpolation="nearest", vmin=0)
    figure.colorbar(image, ax=left, label="above-ground biomass (Mg/ha)", shrink=0.85)
    left.set_title("AGB")
    present = [int(c) for c in np.unique(classes) if int(c) != NODATA_CODE and int(c) in CLASSES]
    codes = sorted(present) or [0]
    colors = ListedColormap([CLASSES[c].color for c in codes])
    index = np.ma.masked_array(
        np.searchsorted(codes, classes).clip(0, len(codes) - 1), mask=~np.isin(classes, codes)
    )
    right.imshow(
        index,
        cmap=colors,
        norm=BoundaryNorm(np.arange(len(codes) + 1) - 0.5, len(codes)),
        extent=extent,
        interpolation="nearest",
    )
    right.set_title("land cover (Copernicus CGLS-LC100)")
    handles = [Patch(color=CLASSES[c].color, label=f"{c} {CLASSES[c].short_name}") for c in present]
    if handles:
        right.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    for axes in (left, right):
        axes.tick_params(labelsize=7)
        axes.ticklabel_format(useOffset=False, style="plain")
    if title:
        figure.suptitle(title)
    with replacing(path) as temporary:
        figure.savefig(temporary, format="png", metadata={"Software": None})
    return path


def _read(
    path: Path, resampling: Resampling
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Band 1 at most MAX_PIXELS on a side (float NaN for no-data, classes as they are)."""
    with rasterio.open(path) as src:
        scale = max(1.0, max(src.width, src.height) / MAX_PIXELS)
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        values = src.read(1, out_shape=shape, resampling=resampling)
        if values.dtype.kind == "f":
            values = np.where(values == src.nodata, np.nan, values)
        left, bottom, right, top = src.bounds
    return values, (left, right, bottom, top)
