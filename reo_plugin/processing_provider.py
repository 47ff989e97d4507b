"""REO's Processing provider (id "reo"): its algorithms in the toolbox, the modeler and batch
mode."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider

from reo_core import __version__
from reo_plugin.estimate_algorithm import EstimateAgbAlgorithm
from reo_plugin.locations import ICON_PATH
from reo_plugin.qt import QtGui

PROVIDER_ID = "reo"


class ReoProvider(QgsProcessingProvider):
    """Provider "reo": ``reo:estimate_agb``."""

    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return "REO"

    def longName(self) -> str:
        return f"REO {__version__} — biomass from Sentinel-2"

    def icon(self) -> QtGui.QIcon:
        return QtGui.QIcon(str(ICON_PATH))

    def svgIconPath(self) -> str:
        return str(ICON_PATH)

    def loadAlgorithms(self) -> None:
        self.addAlgorithm(EstimateAgbAlgorithm())

    def supportedOutputRasterLayerExtensions(self) -> list[str]:
        return ["tif"]  # the worker writes GeoTIFFs; they are moved, not converted
