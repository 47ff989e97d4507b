"""Ask about a patch: a map tool that outlines the 250 m patch under a click.

The patch is computed as the worker computes it (``reo_core.patch_lattice``, the same code): on the
global patch lattice in phase with the chosen Sentinel-2 layers' 10 m pixels, at the estimate's
stride. The outline stays
on the map while the user chats about the patch; the worker's answer carries the patch it used, and
``show_bounds`` redraws exactly that.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent, QgsMapToolEmitPoint, QgsRubberBand

from reo_core.errors import ExtentError, ReoError
from reo_core.patch_lattice import PATCH_SIZE, Bounds, PatchLayout, patch_layout
from reo_plugin.compat import POLYGON_GEOMETRY
from reo_plugin.qt import QtCore, QtGui, Signal

OUTLINE_COLOR = "#e6007e"
EDGE_POINTS = 8  # points per edge, so the outline bends correctly in another CRS


@dataclass(frozen=True)
class PatchSelection:
    """A picked patch: its centre and bounds in the Sentinel-2 CRS."""

    point: tuple[float, float]
    crs: str
    bounds: tuple[float, float, float, float]
    row: int
    col: int


GridProvider = Callable[[], tuple[PatchLayout, QgsCoordinateReferenceSystem]]


class PatchMapTool(QgsMapToolEmitPoint):
    """Click the map: the patch under the cursor is outlined and ``patchSelected`` emitted."""

    patchSelected = Signal(object)  # noqa: N815
    pickFailed = Signal(str)  # noqa: N815

    def __init__(self, canvas: QgsMapCanvas, grid_provider: GridProvider) -> None:
        super().__init__(canvas)
        self.grid_provider = grid_provider
        self.selection: PatchSelection | None = None
        self.rubber_band = QgsRubberBand(canvas, POLYGON_GEOMETRY)
        color = QtGui.QColor(OUTLINE_COLOR)
        self.rubber_band.setStrokeColor(color)
        color.setAlpha(40)
        self.rubber_band.setFillColor(color)
        self.rubber_band.setWidth(2)
        self.setCursor(QtGui.QCursor(QtCore.Qt.CursorShape.CrossCursor))

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:
        self.select_at(self.toMapCoordinates(event.pos()))

    def select_at(self, map_point: QgsPointXY) -> PatchSelection | None:
        """Select the patch under ``map_point`` (canvas CRS); None (and ``pickFailed``) if none."""
        try:
            grid, crs = self.grid_provider()
            point = self._transform(crs).transform(QgsPointXY(map_point))
            row, col = grid.patch_at(point.x(), point.y())
        except ReoError as error:
            self.pickFailed.emit(error.message)
            return None
        bounds = grid.patch_bounds(row, col)
        centre = ((bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0)
        self.selection = PatchSelection(centre, crs.authid() or crs.toWkt(), bounds, row, col)
        self.show_bounds(bounds, crs)
        self.patchSelected.emit(self.selection)
        return self.selection

    def show_bounds(self, bounds: Bounds, crs: QgsCoordinateReferenceSystem) -> None:
        """Outline ``bounds`` (in ``crs``) on the canvas."""
        xmin, ymin, xmax, ymax = bounds
        corners = [(xmin, ymax), (xmax, ymax), (xmax, ymin), (xmin, ymin), (xmin, ymax)]
        ring = []
        for (x0, y0), (x1, y1) in itertools.pairwise(corners):
            ring += [
                QgsPointXY(x0 + (x1 - x0) * t / EDGE_POINTS, y0 + (y1 - y0) * t / EDGE_POINTS)
                for t in range(EDGE_POINTS)
            ]
        ring.append(ring[0])
        to_canvas = QgsCoordinateTransform(
            crs, self.canvas().mapSettings().destinationCrs(), QgsProject.instance()
        )
        geometry = QgsGeometry.fromPolygonXY([ring])
        geometry.transform(to_canvas)
        self.rubber_band.setToGeometry(geometry)
        self.rubber_band.show()

    def outline(self) -> QgsGeometry:
        return self.rubber_band.asGeometry()

    def clear(self) -> None:
        self.rubber_band.reset(POLYGON_GEOMETRY)
        self.selection = None

    def remove(self) -> None:
        """Take the outline off the canvas for good (plugin unload)."""
        self.clear()
        scene = self.canvas().scene()
        if scene is not None:
            scene.removeItem(self.rubber_band)

    def _transform(self, crs: QgsCoordinateReferenceSystem) -> QgsCoordinateTransform:
        return QgsCoordinateTransform(
            self.canvas().mapSettings().destinationCrs(), crs, QgsProject.instance()
        )


def s2_patch_grid(
    layers: list[QgsRasterLayer],
    extent: QgsRectangle | None = None,
    extent_crs: QgsCoordinateReferenceSystem | None = None,
    stride: int = PATCH_SIZE,
) -> tuple[PatchLayout, QgsCoordinateReferenceSystem]:
    """The patch grid of Sentinel-2 ``layers`` (all in one CRS), cut to ``extent`` if given."""
    layers = [layer for layer in layers if layer is not None and layer.isValid()]
    if not layers:
        raise ExtentError("Choose the Sentinel-2 layers first: the patches lie on their 10 m grid.")
    crs = layers[0].crs()
    finest = min(layers, key=lambda layer: layer.rasterUnitsPerPixelX())
    anchor = (finest.extent().xMinimum(), finest.extent().yMaximum())
    extents = [layer.extent() for layer in layers]
    data = (
        max(e.xMinimum() for e in extents),
        max(e.yMinimum() for e in extents),
        min(e.xMaximum() for e in extents),
        min(e.yMaximum() for e in extents),
    )
    wanted = None
    if extent is not None and not extent.isNull() and not extent.isEmpty():
        if extent_crs is not None and extent_crs.isValid() and extent_crs != crs:
            extent = QgsCoordinateTransform(
                extent_crs, crs, QgsProject.instance()
            ).transformBoundingBox(extent)
        wanted = (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum())
    return patch_layout(anchor, data, wanted, stride), crs
