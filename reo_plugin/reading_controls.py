"""The dock's overrides of how a Sentinel-2 input is read: a cloud mask layer (its kind and
threshold), the band order of an unnamed stack, the BOA offset and Level-1C.

They only collect the user's choice; the worker decides with it and says how (``reading_panel``).
Not remembered between sessions: they belong to one product, and a forgotten "allow Level-1C" or
a fixed offset would silently misread the next one.
"""

from __future__ import annotations

from qgis.core import QgsMapLayer

from reo_core.sensors.sentinel2 import BAND_ORDERS, BOA_ADD_OFFSET_DN, CLOUD_MASK_KINDS
from reo_plugin.band_table import compact, raster_layer_box
from reo_plugin.parameters import AUTO, BOA_OFFSET_CHOICES
from reo_plugin.qt import QtCore, QtWidgets, Signal

PROBABILITY = "probability"
MASK_CHARACTERS = 4  # the cloud mask's boxes show at least this many characters (they grow)
KIND_TIPS = {
    "scl": "an L2A scene classification: classes 8, 9, 10 cloud, 3 shadow, 0, 1 no data",
    "fmask": "Fmask: 4 cloud, 2 shadow, 255 no data",
    "binary": "any value other than 0 is cloud",
    PROBABILITY: "cloud probability (s2cloudless, Earth Engine): cloudy at or above the threshold",
}
_TOOLTIP_ROLE = QtCore.Qt.ItemDataRole.ToolTipRole
OFFSET_LABELS = {
    AUTO: "auto (metadata, checked against the data)",
    "0": "0 DN (no offset)",
    str(BOA_ADD_OFFSET_DN): f"{BOA_ADD_OFFSET_DN} DN (baseline 04.00 and later)",
}


class CloudMaskRow(QtWidgets.QWidget):
    """A cloud mask layer, what its values mean, and (probability masks) the threshold."""

    changed = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = raster_layer_box("reoCloudMask", allow_empty=True, characters=MASK_CHARACTERS)
        self.layer.setToolTip(
            "Optional: a cloud mask in the imagery's CRS "
            "(the L2A SCL, Fmask, a cloud probability). "
            "Without one REO uses the product's SCL if it finds it, else its built-in screening."
        )
        self.kind = QtWidgets.QComboBox()
        self.kind.setObjectName("reoCloudMaskKind")
        for kind in CLOUD_MASK_KINDS:
            self.kind.addItem(kind, kind)
            self.kind.setItemData(self.kind.count() - 1, KIND_TIPS.get(kind, kind), _TOOLTIP_ROLE)
        self.kind.setToolTip("What the mask's values mean")
        self.threshold = QtWidgets.QDoubleSpinBox()
        self.threshold.setObjectName("reoCloudThreshold")
        self.threshold.setRange(0.0, 255.0)
        self.threshold.setDecimals(2)
        self.threshold.setSpecialValueText("default")  # 0 = the worker's default (0.4, or 40)
        self.threshold.setToolTip(
            "Cloudy at or above this value; default: 0.4 for 0-1 masks, 40 for integer masks"
        )
        # One line, the boxes sized to a few characters (they grow with the dock): a second line
        # for the threshold would push the band grid out of a laptop screen's height.
        compact(self.kind, MASK_CHARACTERS)
        self.threshold.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed
        )
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        label = QtWidgets.QLabel("Clouds")
        label.setToolTip(self.layer.toolTip())
        row.addWidget(label)
        row.addWidget(self.layer, 2)
        row.addWidget(self.kind, 1)
        row.addWidget(self.threshold, 1)
        self.layer.layerChanged.connect(self._changed)
        self.kind.currentIndexChanged.connect(self._changed)
        self.threshold.valueChanged.connect(self._changed)
        self._changed()

    def path_layer(self) -> QgsMapLayer | None:
        return self.layer.currentLayer()

    def mask_kind(self) -> str:
        return self.kind.currentData() or CLOUD_MASK_KINDS[0]

    def set_kind(self, kind: str) -> None:
        self.kind.setCurrentIndex(max(self.kind.findData(kind), 0))

    def mask_threshold(self) -> float | None:
        """The threshold of a probability mask; None for the worker's default or other kinds."""
        if self.mask_kind() != PROBABILITY or self.threshold.value() == self.threshold.minimum():
            return None
        return self.threshold.value()

    def _changed(self, *_args: object) -> None:
        has_mask = self.layer.currentLayer() is not None
        self.kind.setEnabled(has_mask)
        self.threshold.setVisible(has_mask and self.mask_kind() == PROBABILITY)
        self.changed.emit()


class BandOrderRow(QtWidgets.QWidget):
    """The order of a multi-band stack without band names (agbd, l1c, eurosat); REO never
    guesses."""

    changed = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QtWidgets.QComboBox()
        self.combo.setObjectName("reoBandOrder")
        self.combo.addItem("from the band names", None)
        for name, order in BAND_ORDERS.items():
            self.combo.addItem(f"{name} ({len(order)} bands)", name)
            self.combo.setItemData(self.combo.count() - 1, ", ".join(order), _TOOLTIP_ROLE)
        self.combo.setToolTip(
            "For a stack whose bands have no names: the order its bands are in "
            "(agbd: B01…B8A, B09, B11, B12; l1c: with B10; eurosat: B8A last)"
        )
        compact(self.combo)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QtWidgets.QLabel("Band order"))
        row.addWidget(self.combo, 1)
        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def order(self) -> str | None:
        return self.combo.currentData()

    def set_order(self, order: str | None) -> None:
        self.combo.setCurrentIndex(max(self.combo.findData(order), 0))


def boa_offset_box() -> QtWidgets.QComboBox:
    """auto, 0 or 1000 DN; ``currentData()`` is the parameter's value."""
    box = QtWidgets.QComboBox()
    box.setObjectName("reoBoaOffset")
    for choice in BOA_OFFSET_CHOICES:
        box.addItem(OFFSET_LABELS.get(choice, choice), choice)
    box.setToolTip(
        "The BOA_ADD_OFFSET of the L2A digital numbers. auto: from the metadata, the product "
        "name or the date, always checked against the data; 0 or 1000 to insist."
    )
    compact(box)
    return box


def allow_l1c_box() -> QtWidgets.QCheckBox:
    box = QtWidgets.QCheckBox("Allow Level-1C")
    box.setObjectName("reoAllowL1c")
    box.setToolTip(
        "Read a Level-1C (top-of-atmosphere) product as if it were L2A. The models read surface "
        "reflectance: the estimates are biased, and the run is marked as L1C."
    )
    return box
