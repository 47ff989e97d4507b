"""The Sentinel-2 band mapping: which layer (and which band of it) is B02, B03, ...

One row per band of AGBD's order. In multi-band mode every row points into the one chosen layer and
only the band number is chosen; in per-band mode each row has its own layer. Rows are filled by
detection (band descriptions, file names, layer names) and can be edited.
"""

from __future__ import annotations

from qgis.core import QgsRasterLayer
from qgis.gui import QgsMapLayerComboBox

from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, ALL_BANDS
from reo_plugin.compat import RASTER_LAYER_FILTER
from reo_plugin.layers import band_of_layer, bands_of_multiband, raster_layers
from reo_plugin.qt import QtCore, QtWidgets, Signal

BAND, LAYER, INDEX = range(3)
Mapping = dict[str, tuple[QgsRasterLayer, int]]


class BandTable(QtWidgets.QTableWidget):
    """Band -> (layer, band number); ``mapping()`` reads it, ``detect()`` fills it."""

    mappingChanged = Signal()  # noqa: N815

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(len(AGBD_BAND_ORDER), 3, parent)
        self.setObjectName("reoBandTable")
        self.setHorizontalHeaderLabels(["Band", "Layer", "Band of layer"])
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(LAYER, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(BAND, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(INDEX, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.multiband_layer: QgsRasterLayer | None = None
        self.required: tuple[str, ...] = AGBD_BAND_ORDER
        self.layer_boxes: dict[str, QgsMapLayerComboBox] = {}
        self.index_boxes: dict[str, QtWidgets.QComboBox] = {}
        for row, band in enumerate(AGBD_BAND_ORDER):
            item = QtWidgets.QTableWidgetItem(band)
            item.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip(
                f"{band}: {ALL_BANDS[band].description}, {ALL_BANDS[band].resolution_m} m"
            )
            self.setItem(row, BAND, item)
            layer_box = QgsMapLayerComboBox()
            layer_box.setFilters(RASTER_LAYER_FILTER)
            layer_box.setAllowEmptyLayer(True)
            layer_box.setLayer(None)
            layer_box.layerChanged.connect(lambda _layer, b=band: self._layer_changed(b))
            self.setCellWidget(row, LAYER, layer_box)
            index_box = QtWidgets.QComboBox()
            index_box.currentIndexChanged.connect(lambda _i: self.mappingChanged.emit())
            self.setCellWidget(row, INDEX, index_box)
            self.layer_boxes[band], self.index_boxes[band] = layer_box, index_box
        self.set_multiband(None)

    # -- modes ----------------------------------------------------------------------------------

    def set_multiband(self, layer: QgsRasterLayer | None) -> None:
        """Multi-band mode on ``layer`` (rows choose band numbers); None = per-band mode."""
        self.multiband_layer = layer
        self.setColumnHidden(LAYER, layer is not None)
        if layer is not None:
            detected = bands_of_multiband(layer)
            for band in AGBD_BAND_ORDER:
                self._fill_indexes(band, layer, detected.get(band))
        else:
            for band in AGBD_BAND_ORDER:
                self._layer_changed(band)
        self.mappingChanged.emit()

    def set_required(self, bands: tuple[str, ...]) -> None:
        """Mark the bands the model reads; the others are shown as not needed."""
        self.required = tuple(bands)
        for row, band in enumerate(AGBD_BAND_ORDER):
            item = self.item(row, BAND)
            needed = band in self.required
            item.setText(band if needed else f"{band} (not read)")
            font = item.font()
            font.setBold(needed)
            item.setFont(font)

    # -- reading and filling --------------------------------------------------------------------

    def mapping(self) -> Mapping:
        """Band -> (layer, 1-based band) for every row that is set."""
        found: Mapping = {}
        for band in AGBD_BAND_ORDER:
            layer = self.multiband_layer or self.layer_boxes[band].currentLayer()
            index = self.index_boxes[band].currentData()
            if layer is not None and index:
                found[band] = (layer, int(index))
        return found

    def detected(self) -> Mapping:
        """What detection alone gives (the mapping the files state by themselves)."""
        if self.multiband_layer is not None:
            return {
                b: (self.multiband_layer, i)
                for b, i in bands_of_multiband(self.multiband_layer).items()
            }
        found: Mapping = {}
        for layer in raster_layers():
            band = band_of_layer(layer) if layer.bandCount() == 1 else None
            if band is not None and band not in found:
                found[band] = (layer, 1)
        return found

    def detect(self) -> int:
        """Fill the rows from detection; the number of bands found."""
        detected = self.detected()
        for band in AGBD_BAND_ORDER:
            if band not in detected:
                continue
            layer, index = detected[band]
            if self.multiband_layer is None:
                self.layer_boxes[band].setLayer(layer)
            self._select_index(band, index)
        self.mappingChanged.emit()
        return len(detected)

    def set_band(self, band: str, layer: QgsRasterLayer | None, index: int = 1) -> None:
        """Set one row by hand (per-band mode: the layer; both modes: the band number)."""
        if self.multiband_layer is None:
            self.layer_boxes[band].setLayer(layer)
        self._select_index(band, index)

    # -- internals ------------------------------------------------------------------------------

    def _layer_changed(self, band: str) -> None:
        if self.multiband_layer is not None:
            return
        layer = self.layer_boxes[band].currentLayer()
        self._fill_indexes(band, layer, 1 if layer is not None else None)
        self.mappingChanged.emit()

    def _fill_indexes(self, band: str, layer: QgsRasterLayer | None, selected: int | None) -> None:
        box = self.index_boxes[band]
        box.blockSignals(True)
        box.clear()
        box.addItem("—", None)
        if layer is not None:
            for index in range(1, layer.bandCount() + 1):
                box.addItem(layer.bandName(index), index)
        box.setCurrentIndex(max(box.findData(selected), 0) if selected else 0)
        box.blockSignals(False)

    def _select_index(self, band: str, index: int) -> None:
        box = self.index_boxes[band]
        position = box.findData(index)
        if position >= 0:
            box.setCurrentIndex(position)
