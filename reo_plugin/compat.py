"""QGIS enums under their QGIS 3.22 and QGIS 3.30+/4 names, looked up once.

QGIS 3.30-3.36 moved many enums into ``Qgis`` (``Qgis.GeometryType.Polygon``,
``Qgis.ProcessingSourceType.Raster`` ...); QGIS 4 drops the old spellings. The plugin supports
3.22 to 4.x, so it takes whichever exists. Qt enums are always fully scoped
(``Qt.AlignmentFlag...``).
"""

from __future__ import annotations

from typing import TypeVar

from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsMapLayerProxyModel,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsRasterBandStats,
    QgsWkbTypes,
)

T = TypeVar("T")


def _pick(new_owner: str, new_name: str, old: T) -> T:
    owner = getattr(Qgis, new_owner, None)
    return getattr(owner, new_name) if owner is not None and hasattr(owner, new_name) else old


POLYGON_GEOMETRY = _pick("GeometryType", "Polygon", QgsWkbTypes.GeometryType.PolygonGeometry)
RASTER_SOURCE = _pick("ProcessingSourceType", "Raster", QgsProcessing.SourceType.TypeRaster)
FOLDER_BEHAVIOR = _pick(
    "ProcessingFileParameterBehavior", "Folder", QgsProcessingParameterFile.Behavior.Folder
)
INTEGER_NUMBER = _pick(
    "ProcessingNumberParameterType", "Integer", QgsProcessingParameterNumber.Type.Integer
)
DOUBLE_NUMBER = _pick(
    "ProcessingNumberParameterType", "Double", QgsProcessingParameterNumber.Type.Double
)
ADVANCED_PARAMETER = _pick(
    "ProcessingParameterFlag", "Advanced", QgsProcessingParameterDefinition.Flag.FlagAdvanced
)
RASTER_LAYER_FILTER = _pick("LayerFilter", "RasterLayer", QgsMapLayerProxyModel.Filter.RasterLayer)
STAT_MIN = _pick("RasterBandStatistic", "Min", QgsRasterBandStats.Stats.Min)
STAT_MAX = _pick("RasterBandStatistic", "Max", QgsRasterBandStats.Stats.Max)
LINEAR_RAMP = _pick("ShaderInterpolationMethod", "Linear", QgsColorRampShader.Type.Interpolated)
