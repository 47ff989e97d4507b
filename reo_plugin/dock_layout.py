"""The widgets of the REO dock's "Estimate AGB" tab, built once: the collapsible sections in a
scroll area (Inputs, Area and output, Model, Advanced), the run row and the Results section below
it.

``DockLayout`` is a part of ``ReoDock`` (its first base): it makes the widgets, names them (tests
and screenshots find them by object name) and connects them to the dock's slots and signals.
"""

from __future__ import annotations

from qgis.gui import QgsCollapsibleGroupBox, QgsExtentWidget, QgsFileWidget

from reo_core.patch_lattice import PATCH_SIZE
from reo_core.sensors.composites import MODALITIES
from reo_plugin.band_table import BandTable, raster_layer_box
from reo_plugin.locations import DEMO_MODEL_DIR
from reo_plugin.parameters import DEVICES
from reo_plugin.qt import QtCore, QtWidgets
from reo_plugin.reading_controls import BandOrderRow, CloudMaskRow, allow_l1c_box, boa_offset_box
from reo_plugin.reading_panel import ReadingPanel
from reo_plugin.results_panel import ResultsPanel


class DockLayout:
    """The widgets of the Estimate AGB tab; the slots they connect to are ``ReoDock``'s."""

    def _estimate_tab(self) -> QtWidgets.QWidget:
        sections = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(sections)
        column.setContentsMargins(0, 0, 0, 0)
        # "How REO reads this": the worker's decision on these inputs, shown once it answers.
        self.reading_panel = ReadingPanel()
        self.reading = self.reading_panel.line
        self.sections = {
            "inputs": self._inputs_section(),
            "reading": self.reading_panel,
            "area": self._area_section(),
            "model": self._model_section(),
            "advanced": self._advanced_section(),
        }
        for section in self.sections.values():
            column.addWidget(section)
        column.addStretch(1)
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setObjectName("reoSections")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(sections)
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(self._run_row())
        self.results = ResultsPanel()
        layout.addWidget(self.results)
        return page

    def _inputs_section(self) -> QgsCollapsibleGroupBox:
        section = _section("Inputs", "reoInputs")
        self.multiband_radio = QtWidgets.QRadioButton("Multi-band layer")
        self.multiband_radio.setToolTip("All bands in one raster (a stack or an L2A product VRT)")
        self.per_band_radio = QtWidgets.QRadioButton("Layer per band")
        self.per_band_radio.setToolTip("One raster per band, e.g. T32TNN_20200601_B8A_20m.tif")
        self.multiband_radio.setChecked(True)
        self.multiband_radio.toggled.connect(self._mode_changed)
        self.s2_layer = raster_layer_box("reoS2Layer")
        self.s2_layer.layerChanged.connect(self._mode_changed)
        self.cloud_mask = CloudMaskRow()
        self.band_order = BandOrderRow()  # multi-band mode, for stacks without band names
        self.band_order.changed.connect(self._band_order_changed)
        self.band_table = BandTable()
        self.detect_button = QtWidgets.QPushButton("Detect bands")
        self.detect_button.setObjectName("reoDetectBands")
        self.detect_button.setToolTip(
            "Fill the bands, cloud mask and PALSAR-2 from band descriptions, file and layer names."
        )
        self.detect_button.clicked.connect(self.detect_inputs)
        self.hh_layer = raster_layer_box("reoHhLayer", allow_empty=True)
        self.hv_layer = raster_layer_box("reoHvLayer", allow_empty=True)
        self.sar_row = QtWidgets.QWidget()  # shown only for models that read SAR (ms+sar)
        sar = QtWidgets.QHBoxLayout(self.sar_row)
        sar.setContentsMargins(0, 0, 0, 0)
        for name, box in (("PALSAR-2 HH", self.hh_layer), ("HV", self.hv_layer)):
            sar.addWidget(QtWidgets.QLabel(name))
            sar.addWidget(box, 1)
        self.sar_row.setToolTip("ALOS-2 PALSAR-2 HH and HV, for models trained with SAR (ms+sar)")
        form = _form(section)
        form.addRow(self.multiband_radio, self.s2_layer)
        form.addRow(self.per_band_radio, self.detect_button)
        form.addRow(self.cloud_mask)
        form.addRow(self.band_order)
        form.addRow(self.band_table)
        form.addRow(self.sar_row)
        return section

    def _area_section(self) -> QgsCollapsibleGroupBox:
        section = _section("Area and output", "reoArea")
        self.extent = QgsExtentWidget(None, QgsExtentWidget.WidgetStyle.CondensedStyle)
        self.extent.setObjectName("reoExtent")
        self.extent.setNullValueAllowed(True, "All of the Sentinel-2 imagery")
        self.extent.clear()
        if self.canvas is not None:
            self.extent.setMapCanvas(self.canvas)
        self.out_dir = QgsFileWidget()
        self.out_dir.setObjectName("reoOutDir")
        self.out_dir.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.out_dir.setToolTip("Each run writes a new sub-folder here (agb-<date>-<time>).")
        self.out_dir.fileChanged.connect(self._save)
        form = _form(section)
        form.addRow("Extent", self.extent)
        form.addRow("Output folder", self.out_dir)
        return section

    def _model_section(self) -> QgsCollapsibleGroupBox:
        section = _section("Model", "reoModelSection")
        self.model_path = QgsFileWidget()
        self.model_path.setObjectName("reoModel")
        self.model_path.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.model_path.setToolTip(
            f"A REO model folder (with reo_config.json). Built-in: {DEMO_MODEL_DIR}"
        )
        self.model_path.fileChanged.connect(self._model_changed)
        self.model_info = QtWidgets.QLabel("")
        self.model_info.setWordWrap(True)
        # The model's own card line: what it was trained on, and its caveat if it has one.
        self.model_card = QtWidgets.QLabel("")
        self.model_card.setObjectName("reoModelCard")
        self.model_card.setWordWrap(True)
        self.model_card.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.modality = QtWidgets.QComboBox()
        self.modality.setObjectName("reoModality")
        self.modality.addItems(MODALITIES)
        self.modality.currentTextChanged.connect(self._modality_changed)
        form = _form(section)
        form.addRow("Folder", self.model_path)
        form.addRow(self.model_card)
        form.addRow(self.model_info)
        form.addRow("Modality", self.modality)
        return section

    def _advanced_section(self) -> QgsCollapsibleGroupBox:
        section = _section("Advanced", "reoAdvanced", collapsed=True)
        self.device = QtWidgets.QComboBox()
        self.device.setObjectName("reoDevice")
        self.device.setEditable(True)
        self.device.addItems(DEVICES)
        self.device.setToolTip(
            "auto picks a CUDA or Apple GPU when the worker has one; cuda:1 for a second GPU."
        )
        self.stride = QtWidgets.QSpinBox()
        self.stride.setObjectName("reoStride")
        self.stride.setRange(1, PATCH_SIZE)
        self.stride.setSuffix(" px")
        self.stride.setToolTip(
            f"Pixels between patches: {PATCH_SIZE} = adjacent 250 m patches; smaller = finer map, "
            "slower."
        )
        self.batch_size = QtWidgets.QSpinBox()
        self.batch_size.setObjectName("reoBatchSize")
        self.batch_size.setRange(1, 4096)
        self.batch_size.setToolTip(
            "Patches per forward pass; halves itself when the GPU runs out of memory."
        )
        self.device.currentTextChanged.connect(self._save)
        self.stride.valueChanged.connect(self._save)
        self.batch_size.valueChanged.connect(self._save)
        self.boa_offset = boa_offset_box()
        self.allow_l1c = allow_l1c_box()
        self.advanced_form = _form(section)
        self.advanced_form.addRow("BOA offset", self.boa_offset)
        self.advanced_form.addRow(self.allow_l1c)
        self.advanced_form.addRow("Device", self.device)
        self.advanced_form.addRow("Stride", self.stride)
        self.advanced_form.addRow("Batch size", self.batch_size)
        self.advanced_form.addRow(self._worker_row())
        return section

    def _worker_row(self) -> QtWidgets.QWidget:
        row = QtWidgets.QWidget()
        self.worker_label = QtWidgets.QLabel("")
        self.worker_label.setObjectName("reoWorkerLabel")
        self.worker_label.setWordWrap(True)
        setup = QtWidgets.QPushButton("Runtime…")
        setup.setToolTip("Choose or create the Python environment the model runs in.")
        setup.clicked.connect(self.setupRequested)
        diagnostics = QtWidgets.QPushButton("Diagnostics…")
        diagnostics.setToolTip("Python, PyTorch, CUDA and GPU of the worker, and what to fix.")
        diagnostics.clicked.connect(self.diagnosticsRequested)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(setup)
        buttons.addWidget(diagnostics)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.worker_label)
        layout.addLayout(buttons)
        return row

    def _run_row(self) -> QtWidgets.QVBoxLayout:
        self.estimate_button = QtWidgets.QPushButton("Estimate AGB")
        self.estimate_button.setObjectName("reoEstimate")
        self.estimate_button.setDefault(True)
        self.estimate_button.clicked.connect(self._on_estimate)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setObjectName("reoCancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("reoProgress")
        self.progress.setRange(0, 100)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.estimate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        buttons.addWidget(self.progress, 2)
        self.status = QtWidgets.QLabel("")
        self.status.setObjectName("reoStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.hide()
        column = QtWidgets.QVBoxLayout()
        column.addLayout(buttons)
        column.addWidget(self.status)
        return column


def _section(title: str, name: str, collapsed: bool = False) -> QgsCollapsibleGroupBox:
    """A collapsible section that remembers whether the user collapsed it."""
    section = QgsCollapsibleGroupBox(title)
    section.setObjectName(name)
    section.setCollapsed(collapsed)
    section.setSaveCollapsedState(True)
    return section


def _form(section: QtWidgets.QWidget) -> QtWidgets.QFormLayout:
    form = QtWidgets.QFormLayout(section)
    form.setVerticalSpacing(3)
    form.setContentsMargins(6, 4, 6, 4)
    form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form
