"""Map layers as REO inputs: the file behind a layer, and which Sentinel-2 band or PALSAR-2
polarisation a layer (or one band of it) holds.

REO reads files, not QGIS layers: the worker opens them itself. A layer that is not a file on disk
(a WMS, an XYZ tile service, a PostGIS raster, a virtual layer) is refused with a message saying how
to make a file of it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from qgis.core import QgsMapLayer, QgsProject, QgsRasterLayer

from reo_core.errors import InputError, ReoError
from reo_core.sensors.palsar2 import polarisation_from_name
from reo_core.sensors.sentinel2 import band_from_file_name, normalize_band_name

_BAND_LABEL = re.compile(r"^Band \d+\s*:\s*(.+?)(?:\s*\(.*\))?$")


class LayerError(InputError):
    """A layer that REO cannot read as it is."""


def raster_file(layer: QgsMapLayer) -> str:
    """The file a raster layer reads; LayerError if it is no raster or not a file."""
    if layer is None or not layer.isValid():
        raise LayerError("The chosen layer is missing or invalid; choose another layer.")
    name = layer.name()
    if not isinstance(layer, QgsRasterLayer):
        raise LayerError(
            f"'{name}' is not a raster layer; REO reads Sentinel-2 and PALSAR-2 rasters."
        )
    if layer.providerType() != "gdal":
        raise LayerError(
            f"'{name}' is a '{layer.providerType()}' layer, not a file. REO reads raster files "
            "(GeoTIFF, JPEG 2000, VRT): save it with Export ▸ Save As… and use the file."
        )
    source = source_path(layer)
    if source.startswith("/vsi"):
        return source
    if not os.path.isfile(source):
        raise LayerError(
            f"'{name}' does not come from a file REO can open ({source}). Save it as a GeoTIFF "
            "with Export ▸ Save As… and use the file."
        )
    return str(Path(source).resolve())


def source_path(layer: QgsMapLayer) -> str:
    """The file (or /vsi path) of a layer's source, without GDAL's '|option=...' suffixes."""
    return layer.source().split("|", 1)[0]


def source_stem(layer: QgsMapLayer) -> str:
    """The file name of a layer's source without its extension ('T32TNS_..._B04_10m')."""
    return Path(source_path(layer)).stem


def band_of_layer(layer: QgsMapLayer) -> str | None:
    """The Sentinel-2 band a single-band layer holds, from its file name or its layer name."""
    candidates = []
    if layer.providerType() == "gdal":
        candidates.append(source_stem(layer))
    candidates.append(layer.name())
    if isinstance(layer, QgsRasterLayer) and layer.bandCount() == 1:
        candidates.append(band_description(layer, 1) or "")
    for text in candidates:
        band = _band_in_text(text)
        if band is not None:
            return band
    return None


def band_description(layer: QgsRasterLayer, band: int) -> str | None:
    """The band's description as the file gives it ('B04' from QGIS's 'Band 04: B04'), or None."""
    label = layer.bandName(band)
    match = _BAND_LABEL.match(label)
    return match.group(1).strip() if match else None


def bands_of_multiband(layer: QgsRasterLayer, band_order: str | None = None) -> dict[str, int]:
    """Sentinel-2 band -> 1-based band index of a multi-band layer: from its band descriptions, or
    for a stack without band names from the order the user named (``sentinel2.BAND_ORDERS``).

    An unnamed stack without an order gives nothing: 12 or 13 bands fit several orders, and the
    worker refuses to guess (its ``inspect`` says so); the plugin shows what the worker will do.
    """
    from reo_core.sensors.sentinel2 import BAND_ORDERS, IGNORED_BANDS

    found: dict[str, int] = {}
    for index in range(1, layer.bandCount() + 1):
        band = _band_in_text(band_description(layer, index) or "")
        if band is not None and band not in found:
            found[band] = index
    if found or band_order not in BAND_ORDERS:
        return found
    order = BAND_ORDERS[band_order]
    if len(order) != layer.bandCount():
        return {}
    return {band: index for index, band in enumerate(order, 1) if band not in IGNORED_BANDS}


def file_names_band(layer: QgsRasterLayer, band: str) -> bool:
    """True when the layer's file is a single-band raster whose name says it holds ``band`` (the
    worker then recognises it by itself, as it would in a product folder)."""
    if layer.providerType() != "gdal" or layer.bandCount() != 1:
        return False
    stem = source_stem(layer)
    try:
        return band_from_file_name(stem) == band
    except ReoError:
        return False


def polarisation_of_layer(layer: QgsMapLayer) -> str | None:
    """'HH' or 'HV' for a PALSAR-2 layer, from its file name or layer name; None if neither."""
    texts = [layer.name()]
    if layer.providerType() == "gdal":
        texts.insert(0, source_stem(layer))
    for text in texts:
        try:
            found = polarisation_from_name(text)
        except ReoError:
            continue
        if found is not None:
            return found
    return None


def raster_layers(project: QgsProject | None = None) -> list[QgsRasterLayer]:
    """The project's raster layers, in layer-tree order (mapLayers() is unordered)."""
    project = project or QgsProject.instance()
    ordered = [node.layer() for node in project.layerTreeRoot().findLayers()]
    seen = {layer.id() for layer in ordered if layer is not None}
    ordered += [layer for layer in project.mapLayers().values() if layer.id() not in seen]
    return [layer for layer in ordered if isinstance(layer, QgsRasterLayer)]


def _band_in_text(text: str) -> str | None:
    if not text:
        return None
    band = normalize_band_name(text)
    if band is not None:
        return band
    try:
        return band_from_file_name(text)
    except ReoError:
        return None
