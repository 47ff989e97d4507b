"""The Sentinel-2 band mapping: which layer (and which band of it) is B02, B03, ...

One cell per band of AGBD's order, laid out as a compact two-column grid (B01-B06 left, B07-B12
right), so all twelve bands show at once without a scroll bar of their own. In multi-band mode
every cell points into the one chosen layer and only the band number is chosen; in per-band mode
each cell has its own layer, and a band number only when that layer has several bands. Cells are
filled by detection (band descriptions, file names, layer names, the band order the user named for
an unnamed stack), then by the worker's own decision (``show_decision``), and can be edited; the
cells the user set by hand are remembered (``manual``): they are what the plugin sends as a band
mapping, everything else is left to the worker.
"""

from __future__ import annotations

from qgis.core import QgsRasterLayer
from qgis.gui import QgsMapLayerComboBox

from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, ALL_BANDS
from reo_plugin.compat import RASTER_LAYER_FILTER
from reo_plugin.layers import band_of_layer, bands_of_multiband, raster_layers
from reo_plugin.qt import QtCore, QtGui, QtWidgets, Signal

Mapping = dict[str, tuple[QgsRasterLayer, int]]
COLUMNS = 2
COMBO_CHARACTERS = 8  # combo boxes size to this many characters, not to the longest layer name
CELL_CHARACTERS = 5  # at least, in a cell of the grid: it grows with the dock


class BandTable(QtWidgets.QWidget):
    """Band -> (layer, band number); ``mapping()`` reads it, ``detect()`` fills it."""

    mappingChanged = Signal()  # noqa: N815

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reoBandTable")
        self.multiband_layer: QgsRasterLayer | None = None
        self.band_order: str | None = None  # the order of an unnamed multi-band stack
        self.manual: set[str] = set()  # bands whose cell the user set by hand
        self.required: tuple[str, ...] = AGBD_BAND_ORDER
        self.labels: dict[str, QtWidgets.QLabel] = {}
        self.layer_boxes: dict[str, QgsMapLayerComboBox] = {}
        self.index_boxes: dict[str, QtWidgets.QComboBox] = {}
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(1)
        rows = -(-len(AGBD_BAND_ORDER) // COLUMNS)
        for position, band in enumerate(AGBD_BAND_ORDER):
            row, column = position % rows, 3 * (position // rows)
            self._add_cell(grid, band, row, column)
        for column in range(COLUMNS):
            grid.setColumnStretch(3 * column + 1, 1)  # the layer boxes take the room
        self.set_multiband(None)

    def _add_cell(self, grid: QtWidgets.QGridLayout, band: str, row: int, column: int) -> None:
        label = QtWidgets.QLabel(band)
        label.setToolTip(f"{band}: {ALL_BANDS[band].description}, {ALL_BANDS[band].resolution_m} m")
        layer_box = raster_layer_box(f"reoBand{band}", allow_empty=True, characters=CELL_CHARACTERS)
        layer_box.layerChanged.connect(lambda _layer, b=band: self._layer_changed(b))
        layer_box.activated.connect(lambda _i, b=band: self._set_by_hand(b))  # the user's choice
        index_box = QtWidgets.QComboBox()
        compact(index_box, CELL_CHARACTERS)
        index_box.setToolTip(f"The band of the layer that holds {band}")
        index_box.currentIndexChanged.connect(lambda _i: self.mappingChanged.emit())
        index_box.activated.connect(lambda _i, b=band: self._set_by_hand(b))
        grid.addWidget(label, row, column)
        grid.addWidget(layer_box, row, column + 1)
        grid.addWidget(index_box, row, column + 2)
        self.labels[band], self.layer_boxes[band], self.index_boxes[band] = (
            label,
            layer_box,
            index_box,
        )

    # -- modes ----------------------------------------------------------------------------------

    def set_multiband(self, layer: QgsRasterLayer | None) -> None:
        """Multi-band mode on ``layer`` (cells choose band numbers); None = per-band mode."""
        if layer is not self.multiband_layer:
            self.manual.clear()
        self.multiband_layer = layer
        for band in AGBD_BAND_ORDER:
            self.layer_boxes[band].setVisible(layer is None)
        if layer is not None:
            detected = bands_of_multiband(layer, self.band_order)
            for band in AGBD_BAND_ORDER:
                self._fill_indexes(band, layer, detected.get(band))
        else:
            for band in AGBD_BAND_ORDER:
                self._layer_changed(band)
        self.mappingChanged.emit()

    def set_band_order(self, order: str | None) -> None:
        """The order of an unnamed multi-band stack (None: none named); refills its cells."""
        if order == self.band_order:
            return
        self.band_order = order
        if self.multiband_layer is not None:
            self.set_multiband(self.multiband_layer)

    def set_required(self, bands: tuple[str, ...]) -> None:
        """Mark the bands the model reads (bold); the others are shown as not read."""
        self.required = tuple(bands)
        for band, label in self.labels.items():
            needed = band in self.required
            font = label.font()
            font.setBold(needed)
            label.setFont(font)
            label.setEnabled(needed)
            description = f"{band}: {ALL_BANDS[band].description}, {ALL_BANDS[band].resolution_m} m"
            label.setToolTip(description if needed else f"{description} (not read by this model)")

    # -- reading and filling --------------------------------------------------------------------

    def mapping(self) -> Mapping:
        """Band -> (layer, 1-based band) for every cell that is set."""
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
                for b, i in bands_of_multiband(self.multiband_layer, self.band_order).items()
            }
        found: Mapping = {}
        for layer in raster_layers():
            band = band_of_layer(layer) if layer.bandCount() == 1 else None
            if band is not None and band not in found:
                found[band] = (layer, 1)
        return found

    def detect(self) -> int:
        """Fill the cells from detection; the number of bands found."""
        detected = self.detected()
        for band in AGBD_BAND_ORDER:
            if band not in detected:
                continue
            layer, index = detected[band]
            if self.multiband_layer is None:
                self.layer_boxes[band].setLayer(layer)
            self._select_index(band, index)
            self.manual.discard(band)
        self.mappingChanged.emit()
        return len(detected)

    def set_band(self, band: str, layer: QgsRasterLayer | None, index: int = 1) -> None:
        """Set one cell by hand (per-band mode: the layer; both modes: the band number)."""
        if self.multiband_layer is None:
            self.layer_boxes[band].setLayer(layer)
        self._select_index(band, index)
        self._set_by_hand(band)

    def show_decision(self, bands: dict[str, dict], file: str) -> None:
        """Multi-band mode: set the cells the user did not set by hand to the bands the worker
        found in ``file`` (the decision's ``bands``: band -> file, band, identified_by)."""
        if self.multiband_layer is None:
            return
        for band in AGBD_BAND_ORDER:
            found = bands.get(band)
            if band in self.manual or not found or str(found.get("file")) != file:
                continue
            self._select_index(band, int(found.get("band") or 0))
            self.index_boxes[band].setToolTip(
                f"{band}: band {found.get('band')} of the layer ({found.get('identified_by')})"
            )

    # -- internals ------------------------------------------------------------------------------

    def _layer_changed(self, band: str) -> None:
        if self.multiband_layer is not None:
            return
        layer = self.layer_boxes[band].currentLayer()
        self.layer_boxes[band].setToolTip(layer.source() if layer is not None else "")
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
        # per-band mode: a single-band layer needs no band number
        single = self.multiband_layer is None and (layer is None or layer.bandCount() == 1)
        box.setVisible(not single)

    def _set_by_hand(self, band: str) -> None:
        self.manual.add(band)
        self.mappingChanged.emit()

    def _select_index(self, band: str, index: int) -> None:
        box = self.index_boxes[band]
        position = box.findData(index)
        if position >= 0:
            box.setCurrentIndex(position)


class LayerBox(QgsMapLayerComboBox):
    """A layer combo box that cuts long names at the start ("…_20200601_B8A_20m"): the files of
    one product share their beginning, and their end says which band and resolution they hold."""

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        painter = QtWidgets.QStylePainter(self)
        option = QtWidgets.QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QtWidgets.QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(
            QtWidgets.QStyle.ComplexControl.CC_ComboBox,
            option,
            QtWidgets.QStyle.SubControl.SC_ComboBoxEditField,
            self,
        )
        room = field.width() - (
            option.iconSize.width() + 4 if not option.currentIcon.isNull() else 0
        )
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, QtCore.Qt.TextElideMode.ElideLeft, max(room, 0)
        )
        painter.drawControl(QtWidgets.QStyle.ControlElement.CE_ComboBoxLabel, option)


def raster_layer_box(
    name: str, allow_empty: bool = False, characters: int = COMBO_CHARACTERS
) -> LayerBox:
    """A chooser of the project's raster layers, named ``name`` for tests and styles, sized to a
    few characters; ``allow_empty``: it may stay empty, and starts so."""
    box = LayerBox()
    box.setObjectName(name)
    box.setFilters(RASTER_LAYER_FILTER)
    box.setAllowEmptyLayer(allow_empty)
    if allow_empty:
        box.setLayer(None)
    compact(box, characters)
    return box


def compact(box: QtWidgets.QComboBox, characters: int = COMBO_CHARACTERS) -> None:
    """Size a combo box to a few characters, not its longest entry (long file names would make
    the dock wider than a laptop screen allows); the full name is in its list and tooltip."""
    box.setSizeAdjustPolicy(
        QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
    )
    box.setMinimumContentsLength(characters)
    box.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
