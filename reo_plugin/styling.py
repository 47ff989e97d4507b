"""Estimate outputs on the map: AGB with its Mg/ha colour ramp, land cover with the Copernicus palette.

The styles are the .qml files in ``resources/styles/`` (written by ``tools/make_styles.py`` from
``reo_core.landcover.CLASSES``). Call these functions on the GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsLayerTreeGroup, QgsProject, QgsRasterLayer

from reo_core.errors import ReoError
from reo_plugin.locations import STYLES_DIR
from reo_plugin.results import EstimateOutcome

STYLE_FILES: dict[str, Path] = {
    "agb": STYLES_DIR / "agb.qml",
    "land_cover": STYLES_DIR / "land_cover.qml",
}
LAYER_TITLES: dict[str, str] = {"agb": "AGB (Mg/ha)", "land_cover": "Land cover (CGLS-LC100)"}
ADDED_KEYS = ("agb", "land_cover")  # what an estimate adds to the map, top to bottom


class StyleError(ReoError):
    """A style or an output raster that QGIS cannot load."""


def apply_style(layer: QgsRasterLayer, key: str) -> None:
    """Give ``layer`` REO's style for output ``key`` ('agb' or 'land_cover')."""
    path = STYLE_FILES[key]
    message, ok = layer.loadNamedStyle(str(path))
    if not ok:
        raise StyleError(
            f"The style {path.name} could not be applied to '{layer.name()}'.", details=message
        )
    layer.triggerRepaint()


def add_outcome_layers(
    outcome: EstimateOutcome, project: QgsProject | None = None, group_name: str | None = None
) -> list[QgsRasterLayer]:
    """Add the estimate's AGB and land-cover rasters, styled, in a new group at the top of the tree.

    The project owns the layers (never keep them past the project's life).
    """
    project = project or QgsProject.instance()
    layers = []
    for key in ADDED_KEYS:
        path = outcome.files.get(key)
        if path is None or not Path(path).is_file():
            raise StyleError(
                f"The worker reported no {LAYER_TITLES[key]} raster in {outcome.out}.",
                details=f"files reported: {outcome.files}",
            )
        layer = QgsRasterLayer(str(path), LAYER_TITLES[key], "gdal")
        if not layer.isValid():
            raise StyleError(f"QGIS cannot open the output {path}.")
        apply_style(layer, key)
        layers.append(layer)
    root = project.layerTreeRoot()
    group: QgsLayerTreeGroup = root.insertGroup(0, group_name or f"REO — {Path(outcome.out).name}")
    for layer in layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    return layers
