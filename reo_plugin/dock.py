"""The REO dock: inputs, area, model and advanced settings for "Estimate AGB", the results of the
last run, and the chat about a patch.

Laid out for a 1366 x 768 laptop screen (``dock_layout.py`` builds the widgets): the settings are
collapsible sections in a scroll area (Inputs, Area and output, Model, Advanced); the Estimate /
Cancel buttons, the progress, the status line and the Results section stay below it, always in view.
The dock only reads its widgets into parameter dataclasses (``parameters.py``) and emits signals;
the controller runs the work. Settings persist between sessions (``settings.DockSettings``; the
sections remember whether they are collapsed).

Whenever the inputs or the overrides of how they are read change (and after "Detect bands"), the
dock asks, through ``inspectRequested``, how the worker would read them, and shows the worker's
answer under the band grid ("How REO reads this", ``reading_panel``) before anything is run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer, QgsRectangle
from qgis.gui import (
    QgsDockWidget,
    QgsMapCanvas,
)

from reo_core.errors import ExtentError, InputError, ReoError
from reo_core.sensors.composites import MODALITIES, bands_needed, reads_sar
from reo_core.sensors.sentinel2 import is_scl_file_name
from reo_plugin.chat import ChatPanel
from reo_plugin.dock_layout import DockLayout
from reo_plugin.layers import (
    bands_of_multiband,
    file_names_band,
    polarisation_of_layer,
    raster_file,
    raster_layers,
    source_stem,
)
from reo_plugin.map_tool import PatchSelection
from reo_plugin.messages import ERROR_COLOUR
from reo_plugin.model_card import ModelCard
from reo_plugin.option_hints import BAND_ORDER_OPTION, DOCK, options_named, with_hint
from reo_plugin.parameters import (
    AskParameters,
    BandMapping,
    EstimateParameters,
    ExtentParameter,
    InputParameters,
    InspectParameters,
    ModelParameters,
    read_model_config,
)
from reo_plugin.qt import QtCore, QtWidgets, Signal
from reo_plugin.reading import Reading
from reo_plugin.results import EstimateOutcome
from reo_plugin.run_folders import new_run_folder
from reo_plugin.settings import DockSettings

LayerBands = Mapping[str, tuple[QgsRasterLayer, int]]  # band -> (layer, 1-based band), as chosen

MULTIBAND, PER_BAND = "multiband", "per_band"
DEFAULT_OUT_DIR = Path.home() / "REO"
INSPECT_DELAY_MS = 400  # changes closer together than this make one inspection
INPUT_ERROR_KINDS = (InputError.__name__, ExtentError.__name__)  # the worker's refusals of inputs


class ReoDock(DockLayout, QgsDockWidget):
    """REO's dock widget (tabs "Estimate AGB" and "Ask about a patch")."""

    estimateRequested = Signal(object)  # EstimateParameters  # noqa: N815
    cancelRequested = Signal()  # noqa: N815
    askRequested = Signal(object)  # AskParameters  # noqa: N815
    inspectRequested = Signal(object)  # InspectParameters  # noqa: N815
    setupRequested = Signal()  # noqa: N815
    diagnosticsRequested = Signal()  # noqa: N815

    def __init__(
        self, canvas: QgsMapCanvas | None = None, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__("REO — Biomass from Sentinel-2", parent)
        self.setObjectName("ReoDock")
        self.canvas = canvas
        self.picked: PatchSelection | None = None  # the patch the chat is about
        self.card = ModelCard()
        self._model_bands: tuple[str, ...] = ()  # the chosen model's bands, read when it changes
        self._loading = True
        self._asked: InspectParameters | None = None  # the inspection last asked for
        # (parameters, error message or None) of the last inspection answered
        self.inspected: tuple[InspectParameters, str | None] | None = None
        self._inspection_due = False  # inputs changed while the dock was hidden
        self._order_asked = False  # the worker asked for the band order of this layer
        self._inspect_timer = QtCore.QTimer(self)
        self._inspect_timer.setSingleShot(True)
        self._inspect_timer.setInterval(INSPECT_DELAY_MS)
        self._inspect_timer.timeout.connect(self.request_inspection)
        self.visibilityChanged.connect(self._visibility_changed)
        body = QtWidgets.QWidget()
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self._estimate_tab(), "Estimate AGB")
        self.chat = ChatPanel()
        self.chat.questionAsked.connect(self._on_question)
        self.tabs.addTab(self.chat, "Ask about a patch")
        layout = QtWidgets.QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs, 1)
        self.setWidget(body)
        self._restore(DockSettings.load())
        self._loading = False
        self._model_changed()
        self._mode_changed()
        self.set_running(False)
        self._connect_inspection()

    # -- reading ----------------------------------------------------------------------------------

    def mode(self) -> str:
        return MULTIBAND if self.multiband_radio.isChecked() else PER_BAND

    def s2_layers(self) -> list[QgsRasterLayer]:
        """The Sentinel-2 layers in use (the multi-band layer, or the mapped per-band layers)."""
        if self.mode() == MULTIBAND:
            layer = self.s2_layer.currentLayer()
            return [layer] if layer is not None else []
        layers = {layer.id(): layer for layer, _ in self.band_table.mapping().values()}
        return list(layers.values())

    def required_bands(self) -> tuple[str, ...]:
        return self._model_bands or bands_needed(self.modality.currentText())

    def read_inputs(self) -> InputParameters:
        """The inputs and the overrides of how they are read; InputError says what to choose.

        Multi-band mode sends the layer's file and lets the worker find its bands (by their names,
        or the band order chosen for an unnamed stack), unless the user set cells of the grid by
        hand: then the grid is sent as it is. Per-band mode sends the files whose names say their
        band, and maps the others (a file named ``red.tif``, a band of a stack) explicitly. Every
        band chosen is sent, not only the model's: the worker's cloud screening reads others.
        """
        required = self.required_bands()
        chosen = self.band_table.mapping()
        if self.mode() == MULTIBAND:
            layer = self.s2_layer.currentLayer()
            if layer is None:
                raise InputError(
                    "Choose the Sentinel-2 layer (a multi-band raster), or switch to 'Layer per "
                    "band'."
                )
            s2, mapping = self._multiband_files(layer, chosen, required)
        else:
            s2, mapping = self._per_band_files(chosen, required)
        sar = [
            layer for layer in (self.hh_layer.currentLayer(), self.hv_layer.currentLayer()) if layer
        ]
        if not reads_sar(self.modality.currentText()):
            sar = []
        mask = self.cloud_mask.path_layer()
        return InputParameters(
            s2=s2,
            sar=tuple(raster_file(layer) for layer in sar),
            band_mapping=mapping,
            band_order=self.band_order.order() if self.mode() == MULTIBAND else None,
            boa_offset=self.boa_offset.currentData(),
            allow_l1c=self.allow_l1c.isChecked(),
            cloud_mask=raster_file(mask) if mask is not None else None,
            cloud_mask_kind=self.cloud_mask.mask_kind(),
            cloud_threshold=self.cloud_mask.mask_threshold(),
        )

    def _multiband_files(
        self, layer: QgsRasterLayer, chosen: LayerBands, required: tuple[str, ...]
    ) -> tuple[tuple[str, ...], BandMapping]:
        path = raster_file(layer)
        if not self.band_table.manual:
            return (path,), {}
        missing = [band for band in required if band not in chosen]
        if missing:
            raise InputError(
                f"The model reads Sentinel-2 band(s) {', '.join(missing)}: choose their band "
                "numbers in the grid under Inputs, or press 'Detect bands' to start again."
            )
        return (), {band: (path, index) for band, (_, index) in chosen.items()}

    def _per_band_files(
        self, chosen: LayerBands, required: tuple[str, ...]
    ) -> tuple[tuple[str, ...], BandMapping]:
        missing = [band for band in required if band not in chosen]
        if missing:
            raise InputError(
                f"The model reads Sentinel-2 band(s) {', '.join(missing)}, which are not mapped. "
                "Choose them under Inputs (or press 'Detect bands')."
            )
        s2: list[str] = []
        mapping: dict[str, tuple[str, int]] = {}
        for band, (layer, index) in chosen.items():  # all: the cloud screening reads B8A too
            path = raster_file(layer)
            if index == 1 and file_names_band(layer, band):
                s2.append(path)
            else:
                mapping[band] = (path, index)
        return tuple(dict.fromkeys(s2)), mapping

    def read_model(self) -> ModelParameters:
        return ModelParameters(
            model=self.model_path.filePath(),
            modality=self.modality.currentText(),
            device=self.device.currentText().strip() or "auto",
        )

    def read_extent(self) -> ExtentParameter | None:
        """The extent the user chose, or None for all of the imagery."""
        rect: QgsRectangle = self.extent.outputExtent()
        if rect.isNull() or rect.isEmpty() or not self.extent.isValid():
            return None
        crs: QgsCoordinateReferenceSystem = self.extent.outputCrs()
        return ExtentParameter(
            (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()),
            crs.authid() or crs.toWkt(),
        )

    def out_folder(self) -> str:
        return self.out_dir.filePath().strip() or str(DEFAULT_OUT_DIR)

    def read_estimate_parameters(self) -> EstimateParameters:
        return EstimateParameters(
            inputs=self.read_inputs(),
            model=self.read_model(),
            out=new_run_folder(self.out_folder()),
            extent=self.read_extent(),
            stride=self.stride.value(),
            batch_size=self.batch_size.value(),
        )

    def read_inspect_parameters(self) -> InspectParameters:
        return InspectParameters(
            inputs=self.read_inputs(),
            model=self.model_path.filePath(),
            extent=self.read_extent(),
            stride=self.stride.value(),
        )

    def read_ask_parameters(self, question: str) -> AskParameters:
        if self.picked is None:
            raise InputError(
                "Pick a patch first: press 'Pick a patch on the map', then click the map."
            )
        return AskParameters(
            inputs=self.read_inputs(),
            model=self.read_model(),
            point=self.picked.point,
            crs=self.picked.crs,
            question=question,
            extent=self.read_extent(),
            stride=self.stride.value(),
        )

    # -- state shown -------------------------------------------------------------------------------

    def set_running(self, running: bool) -> None:
        self.estimate_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setValue(0)

    def set_progress(self, percent: float) -> None:
        self.progress.setValue(round(percent))

    def set_status(self, text: str, error: bool = False) -> None:
        """The status line under the buttons (hidden when empty, to leave room for the sections)."""
        self.status.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def show_outcome(self, outcome: EstimateOutcome, card: ModelCard) -> None:
        """A finished run: the Results section shows its summary (the status line is not needed)."""
        self.set_status("")
        self.results.show_outcome(outcome, card)

    def show_inspection(self, parameters: InspectParameters, reading: Reading) -> None:
        """The worker's decision on ``parameters`` (ignored if the inputs changed since)."""
        if parameters != self._asked:
            return
        self.inspected = (parameters, None)
        self.reading_panel.show_reading(reading)
        if reading.warnings:
            self._bring_reading_into_view()
        if self.mode() == MULTIBAND and parameters.inputs.s2:
            self.band_table.show_decision(
                reading.decision.get("bands") or {}, parameters.inputs.s2[0]
            )

    def show_inspection_error(self, parameters: InspectParameters, error: ReoError) -> None:
        """Why the worker cannot read ``parameters``, with the dock's control for each option."""
        if parameters != self._asked:
            return
        message = with_hint(error.message, DOCK)
        # Only a refusal of the inputs stops an estimate of the same inputs; a worker that did
        # not start may start next time (after REO ▸ Runtime set-up).
        refused = getattr(error, "kind", None) in INPUT_ERROR_KINDS
        self.inspected = (parameters, message if refused else None)
        self.reading_panel.show_error(message)
        self._bring_reading_into_view()
        if BAND_ORDER_OPTION in options_named(error.message):
            self._order_asked = True  # the worker needs one, whatever the layer looked like
            self._show_band_order()

    def inspection_failed(self, parameters: InspectParameters) -> str | None:
        """The worker's refusal of these very inputs at the last inspection, else None."""
        if self.inspected is not None and self.inspected[0] == parameters:
            return self.inspected[1]
        return None

    def set_worker_python(self, python: str) -> None:
        self.worker_label.setText(f"Worker Python: {python}")
        self.worker_label.setToolTip(python)

    def set_picked(self, selection: PatchSelection) -> None:
        self.picked = selection
        self.chat.set_patch(selection.bounds, selection.crs)

    # -- detection ------------------------------------------------------------------------------

    def detect_inputs(self) -> None:
        """Fill the bands, cloud mask and PALSAR-2 from the project's layers."""
        found = self.band_table.detect()
        for layer in raster_layers():
            stem = source_stem(layer)
            if self.cloud_mask.path_layer() is None and (
                is_scl_file_name(stem) or is_scl_file_name(layer.name())
            ):
                self.cloud_mask.layer.setLayer(layer)
                self.cloud_mask.set_kind("scl")
            polarisation = polarisation_of_layer(layer)
            box = {"HH": self.hh_layer, "HV": self.hv_layer}.get(polarisation or "")
            if box is not None and box.currentLayer() is None:
                box.setLayer(layer)
        self.set_status(f"{found} Sentinel-2 band(s) recognised.")
        self.request_inspection(force=True)

    # -- inspection -----------------------------------------------------------------------------

    def request_inspection(self, force: bool = False) -> None:
        """Ask how the worker would read the current inputs (not twice for the same ones, unless
        ``force``); a dock that is hidden asks when it is shown, so no worker starts for it."""
        self._inspect_timer.stop()
        if not self.isVisible():
            self._inspection_due = True
            return
        self._inspection_due = False
        try:
            parameters = self.read_inspect_parameters()
        except ReoError as error:
            self._asked = None
            if self.s2_layers():
                self.reading_panel.show_error(error.message)
            else:
                self.reading_panel.clear()  # nothing chosen yet: nothing to say
            return
        if parameters == self._asked and not force:
            return
        self._asked = parameters
        self.reading_panel.show_checking()
        self.inspectRequested.emit(parameters)

    def _bring_reading_into_view(self) -> None:
        """Scroll the sections so that a warning or an error about the inputs is seen."""
        self.reading_panel.setCollapsed(False)
        self.scroll.ensureWidgetVisible(self.reading_panel)

    def _inputs_changed(self, *_args: object) -> None:
        if not self._loading:
            self._inspect_timer.start()

    def _connect_inspection(self) -> None:
        for signal in (
            self.multiband_radio.toggled,
            self.s2_layer.layerChanged,
            self.band_table.mappingChanged,
            self.cloud_mask.changed,
            self.band_order.changed,
            self.boa_offset.currentIndexChanged,
            self.allow_l1c.toggled,
            self.model_path.fileChanged,
            self.modality.currentTextChanged,
            self.hh_layer.layerChanged,
            self.hv_layer.layerChanged,
            self.extent.extentChanged,
            self.stride.valueChanged,
        ):
            signal.connect(self._inputs_changed)

    def _visibility_changed(self, visible: bool) -> None:
        if visible and self._inspection_due:
            self._inspect_timer.start()

    # -- slots -------------------------------------------------------------------------------------

    def _on_estimate(self) -> None:
        try:
            parameters = self.read_estimate_parameters()
        except ReoError as error:
            self.set_status(error.message, error=True)
            return
        refused = self.inspection_failed(InspectParameters.of_estimate(parameters))
        if refused is not None:  # the worker said so already: no model is loaded for nothing
            self.set_status(refused, error=True)
            return
        self.set_status("")
        self.estimateRequested.emit(parameters)

    def _on_question(self, question: str) -> None:
        try:
            parameters = self.read_ask_parameters(question)
        except ReoError as error:
            self.chat.add_error(error.message)
            return
        self.chat.add_question(question)
        self.askRequested.emit(parameters)

    def _mode_changed(self) -> None:
        multiband = self.mode() == MULTIBAND
        self.s2_layer.setEnabled(multiband)
        if self.s2_layer.currentLayer() is not self.band_table.multiband_layer:
            self._order_asked = False
        self._show_band_order()
        self.band_table.set_multiband(self.s2_layer.currentLayer() if multiband else None)
        if not multiband and not self.band_table.mapping():
            self.band_table.detect()
        layer = self.s2_layer.currentLayer() if multiband else next(iter(self.s2_layers()), None)
        if layer is not None:
            chosen = self.extent.isValid()
            self.extent.setOriginalExtent(layer.extent(), layer.crs())
            self.extent.setOutputCrs(layer.crs())
            if not chosen:
                self.extent.clear()  # stay "all of the imagery" until the user picks an extent
        self._save()

    def _model_changed(self) -> None:
        try:
            config = read_model_config(self.model_path.filePath())
        except ReoError as error:
            self.card, self._model_bands = ModelCard(), ()
            self.model_info.setText(error.message)
            self.model_info.setStyleSheet(f"color: {ERROR_COLOUR};")
        else:
            self.card = ModelCard.from_config(config)
            self._model_bands = tuple(config.get("bands") or ())
            self.model_info.setStyleSheet("")
            modality = config.get("modality", "ms")
            bands = config.get("bands") or bands_needed(modality)
            uncertainty = (
                " with uncertainty" if config.get("uncertainty") not in (None, "none") else ""
            )
            self.model_info.setText(f"Reads '{modality}': {', '.join(bands)}{uncertainty}.")
            if modality in MODALITIES:
                self.modality.setCurrentText(modality)
        self.model_card.setText(self.card.html())
        self.model_card.setVisible(bool(self.card.line()))
        self.chat.set_model_card(self.card)
        self.band_table.set_required(self.required_bands())
        self._save()

    def _modality_changed(self) -> None:
        self.sar_row.setVisible(reads_sar(self.modality.currentText()))
        self.band_table.set_required(self.required_bands())
        self._save()

    def _band_order_changed(self) -> None:
        self.band_table.set_band_order(self.band_order.order())
        self._show_band_order()

    def _show_band_order(self) -> None:
        """Multi-band mode: the band order row, for a stack whose bands have no names, once the
        worker asked for an order, or once one is chosen; hidden otherwise, to keep the section
        within a laptop screen's height."""
        layer = self.s2_layer.currentLayer()
        wanted = (
            (layer is not None and not bands_of_multiband(layer))
            or self._order_asked
            or self.band_order.order() is not None
        )
        self.band_order.setVisible(self.mode() == MULTIBAND and wanted)

    # -- settings -------------------------------------------------------------------------------

    def _restore(self, values: DockSettings) -> None:
        (self.multiband_radio if values.s2_mode == MULTIBAND else self.per_band_radio).setChecked(
            True
        )
        self.model_path.setFilePath(values.model)
        self.modality.setCurrentText(values.modality)
        self.device.setCurrentText(values.device)
        self.stride.setValue(int(values.stride))
        self.batch_size.setValue(int(values.batch_size))
        self.out_dir.setFilePath(values.out_dir)

    def _save(self) -> None:
        if self._loading:
            return
        DockSettings(
            s2_mode=self.mode(),
            modality=self.modality.currentText(),
            model=self.model_path.filePath(),
            device=self.device.currentText(),
            stride=self.stride.value(),
            batch_size=self.batch_size.value(),
            out_dir=self.out_dir.filePath(),
        ).save()


__all__ = ["ReoDock"]
