"""Estimate outputs on the map: AGB with its Mg/ha colour ramp, land cover with the Copernicus
palette.

The styles are the .qml files in ``resources/styles/`` (written by ``tools/make_styles.py`` from
``reo_core.landcover.CLASSES``). An AGB layer gets two saved styles (Layer Properties ▸ Style, or
the layer's context menu ▸ Styles): the fixed ramp, the same colour for the same biomass on every
map (current), and the same colours stretched over this map's own range. Call these functions on
the GUI thread only.
"""

from __future__ import annotations

import math
from pathlib import Path

from qgis.core import (
    QgsColorRampLegendNodeSettings,
    QgsColorRampShader,
    QgsGradientColorRamp,
    QgsGradientStop,
    QgsLayerTreeGroup,
    QgsProject,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
)

from reo_core.errors import ReoError
from reo_plugin.compat import LINEAR_RAMP, STAT_MAX, STAT_MIN
from reo_plugin.locations import STYLES_DIR
from reo_plugin.model_card import CAVEAT_TAG, ModelCard
from reo_plugin.results import EstimateOutcome

STYLE_FILES: dict[str, Path] = {
    "agb": STYLES_DIR / "agb.qml",
    "land_cover": STYLES_DIR / "land_cover.qml",
}
LAYER_TITLES: dict[str, str] = {"agb": "AGB (Mg/ha)", "land_cover": "Land cover (CGLS-LC100)"}
ADDED_KEYS = ("agb", "land_cover")  # what an estimate adds to the map, top to bottom


class StyleError(ReoError):
    """A style or an output raster that QGIS cannot load."""


AGB_FIXED_STYLE = "Fixed 0–500 Mg/ha (the same colours on every map)"  # noqa: RUF001
AGB_STRETCHED_STYLE = "Stretched to this map"


def apply_style(layer: QgsRasterLayer, key: str) -> None:
    """Give ``layer`` REO's style for output ``key`` ('agb' or 'land_cover').

    AGB layers also get the saved style "Stretched to this map"; the fixed ramp stays current.
    """
    path = STYLE_FILES[key]
    manager = layer.styleManager()
    if key == "agb" and AGB_FIXED_STYLE in manager.styles():
        manager.setCurrentStyle(AGB_FIXED_STYLE)  # styled again: reload the fixed ramp itself
    message, ok = layer.loadNamedStyle(str(path))
    if not ok:
        raise StyleError(
            f"The style {path.name} could not be applied to '{layer.name()}'.", details=message
        )
    if key == "agb":
        add_stretched_style(layer)
    layer.triggerRepaint()


def add_stretched_style(layer: QgsRasterLayer) -> None:
    """Save "Stretched to this map" beside the layer's current (fixed) AGB style."""
    manager = layer.styleManager()
    if manager.currentStyle() != AGB_FIXED_STYLE:
        manager.renameStyle(manager.currentStyle(), AGB_FIXED_STYLE)
    if AGB_STRETCHED_STYLE in manager.styles():
        manager.removeStyle(AGB_STRETCHED_STYLE)
    stretched = stretched_renderer(layer)
    manager.addStyleFromLayer(AGB_STRETCHED_STYLE)
    manager.setCurrentStyle(AGB_STRETCHED_STYLE)
    layer.setRenderer(stretched)
    manager.setCurrentStyle(AGB_FIXED_STYLE)  # stores the stretched style, restores the fixed


def stretched_renderer(layer: QgsRasterLayer) -> QgsSingleBandPseudoColorRenderer:
    """The fixed ramp's colours, evenly spread from this map's minimum to its maximum."""
    fixed = layer.renderer()
    if not isinstance(fixed, QgsSingleBandPseudoColorRenderer):
        raise StyleError(f"'{layer.name()}' has no AGB colour ramp to stretch.")
    colours = [item.color for item in fixed.shader().rasterShaderFunction().colorRampItemList()]
    stats = layer.dataProvider().bandStatistics(1, STAT_MIN | STAT_MAX)
    low, high = stats.minimumValue, stats.maximumValue
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0 if math.isfinite(low) else 1.0  # an empty or flat map
        low = low if math.isfinite(low) else 0.0
    n = len(colours)
    values = [low + (high - low) * i / (n - 1) for i in range(n)]
    ramp = QgsGradientColorRamp(
        colours[0],
        colours[-1],
        False,
        [QgsGradientStop(i / (n - 1), colour) for i, colour in enumerate(colours[1:-1], 1)],
    )
    function = QgsColorRampShader(low, high, ramp, LINEAR_RAMP)
    function.setColorRampItemList(
        [
            QgsColorRampShader.ColorRampItem(v, c, f"{v:.4g} Mg/ha")
            for v, c in zip(values, colours, strict=True)
        ]
    )
    legend = fixed.shader().rasterShaderFunction().legendSettings()
    function.setLegendSettings(QgsColorRampLegendNodeSettings(legend))  # a copy: it takes ownership
    shader = QgsRasterShader(low, high)
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    renderer.setOpacity(fixed.opacity())
    return renderer


def add_outcome_layers(
    outcome: EstimateOutcome,
    project: QgsProject | None = None,
    group_name: str | None = None,
    card: ModelCard | None = None,
) -> list[QgsRasterLayer]:
    """Add the estimate's AGB and land-cover rasters, styled, in a new group at the top of the tree.

    The model's card line goes into each layer's abstract (its tooltip in the layer tree); a model
    with a caveat also marks the group's name. The project owns the layers (never keep them past
    the project's life).
    """
    project = project or QgsProject.instance()
    card = card or ModelCard()
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
        layer.setAbstract(card.line())
        layers.append(layer)
    root = project.layerTreeRoot()
    name = group_name or f"REO — {Path(outcome.out).name}"
    if card.has_caveat:
        name = f"{name} ({CAVEAT_TAG})"
    group: QgsLayerTreeGroup = root.insertGroup(0, name)
    for layer in layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    return layers
