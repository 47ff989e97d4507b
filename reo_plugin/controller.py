"""Runs what the dock asks for: estimates, questions and inspections of the inputs as background
tasks, results onto the map and into the dock.

The plugin creates one controller; it owns the running tasks (QGIS needs a Python reference to a
task until it ends), the patch map tool and the link between the chat and the worker. One
inspection runs at a time, never beside an estimate (the worker runs one job at a time): a newer
request waits, and only the newest is asked once the worker is free.
"""

from __future__ import annotations

from qgis.core import Qgis, QgsApplication, QgsCoordinateReferenceSystem
from qgis.gui import QgisInterface

from reo_core.errors import ReoError
from reo_core.patch_lattice import PatchLayout
from reo_plugin import log, messages
from reo_plugin.dock import ReoDock
from reo_plugin.map_tool import PatchMapTool, PatchSelection, s2_patch_grid
from reo_plugin.parameters import AskParameters, EstimateParameters, InspectParameters
from reo_plugin.qt import QtCore, Signal
from reo_plugin.reading import Reading
from reo_plugin.results import AskAnswer, EstimateOutcome
from reo_plugin.settings import worker_python
from reo_plugin.tasks import AskTask, EstimateTask, InspectTask
from reo_plugin.workers import WorkerPool


class ReoController(QtCore.QObject):
    """Wires the dock, the map tool and the worker pool together."""

    estimateFinished = Signal(str)  # "succeeded" | "failed" | "canceled"  # noqa: N815
    answerReceived = Signal(object)  # AskAnswer  # noqa: N815

    def __init__(self, iface: QgisInterface, dock: ReoDock, pool: WorkerPool) -> None:
        super().__init__(dock)
        self.iface, self.dock, self.pool = iface, dock, pool
        self.canvas = iface.mapCanvas()
        self.estimate_task: EstimateTask | None = None
        self.ask_task: AskTask | None = None
        self.inspect_task: InspectTask | None = None
        self._waiting_inspection: InspectParameters | None = None  # the newest one asked for
        self.last_outcome: EstimateOutcome | None = None
        self.last_error: ReoError | None = None
        self.map_tool = PatchMapTool(self.canvas, self.patch_grid)
        self.map_tool.patchSelected.connect(self._patch_picked)
        self.map_tool.pickFailed.connect(self.dock.chat.add_error)
        self.map_tool.deactivated.connect(lambda: self.dock.chat.pick_button.setChecked(False))
        dock.estimateRequested.connect(self.start_estimate)
        dock.cancelRequested.connect(self.cancel_estimate)
        dock.askRequested.connect(self.ask)
        dock.inspectRequested.connect(self.inspect)
        dock.chat.pickToggled.connect(self.set_picking)
        dock.set_worker_python(worker_python())

    # -- estimate ---------------------------------------------------------------------------------

    def start_estimate(self, parameters: EstimateParameters) -> EstimateTask | None:
        if self.estimate_task is not None:
            self.dock.set_status(
                "An estimate is already running; cancel it or wait for it.", error=True
            )
            return None
        task = EstimateTask(parameters, self.pool)
        task.progressChanged.connect(self.dock.set_progress)
        task.messageChanged.connect(self.dock.set_status)
        task.succeeded.connect(self._estimated)
        task.failed.connect(self._estimate_failed)
        task.canceled.connect(self._estimate_canceled)
        self.estimate_task = task
        self.dock.set_running(True)
        self.dock.set_status("Starting the worker…")
        self.dock.set_worker_python(worker_python())
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel_estimate(self) -> None:
        if self.estimate_task is not None:
            self.dock.set_status("Canceling…")
            self.estimate_task.cancel()

    def _estimated(self, outcome: EstimateOutcome) -> None:
        card = self.estimate_task.card
        self.last_outcome, self.estimate_task = outcome, None
        self.dock.set_running(False)
        self.dock.set_progress(100)
        self.dock.show_outcome(outcome, card)
        text = " ".join(part for part in (outcome.summary_text(), card.caveat_text()) if part)
        level = Qgis.MessageLevel.Warning if outcome.warnings() else Qgis.MessageLevel.Success
        messages.push(self.iface.messageBar(), text, level, details=self.dock.results.plain_text())
        self.estimateFinished.emit("succeeded")
        self._inspect_waiting()

    def _estimate_failed(self, error: ReoError) -> None:
        self.last_error, self.estimate_task = error, None
        self.dock.set_running(False)
        self.dock.set_status(error.message, error=True)
        messages.push(
            self.iface.messageBar(),
            f"The estimate failed: {error.message}",
            Qgis.MessageLevel.Critical,
            details=error.details,
        )
        self.estimateFinished.emit("failed")
        self._inspect_waiting()

    def _estimate_canceled(self) -> None:
        self.estimate_task = None
        self.dock.set_running(False)
        self.dock.set_progress(0)
        self.dock.set_status("Canceled; nothing was added to the map.")
        self.estimateFinished.emit("canceled")
        self._inspect_waiting()

    # -- how the inputs are read ------------------------------------------------------------------

    def inspect(self, parameters: InspectParameters) -> InspectTask | None:
        """Ask the worker how it would read ``parameters``; later if it is busy (only the
        newest)."""
        if self.inspect_task is not None or self.estimate_task is not None:
            self._waiting_inspection = parameters
            return None
        self._waiting_inspection = None
        task = InspectTask(parameters, self.pool)
        task.succeeded.connect(self._inspected)
        task.failed.connect(self._inspect_failed)
        task.canceled.connect(self._inspect_ended)
        self.inspect_task = task
        QgsApplication.taskManager().addTask(task)
        return task

    def _inspected(self, reading: Reading) -> None:
        if self.inspect_task is not None:  # the dock ignores answers about other inputs
            self.dock.show_inspection(self.inspect_task.parameters, reading)
        self._inspect_ended()

    def _inspect_failed(self, error: ReoError) -> None:
        if self.inspect_task is not None:
            self.dock.show_inspection_error(self.inspect_task.parameters, error)
        self._inspect_ended()

    def _inspect_ended(self) -> None:
        self.inspect_task = None
        self._inspect_waiting()

    def _inspect_waiting(self) -> None:
        if self._waiting_inspection is not None:
            self.inspect(self._waiting_inspection)

    # -- ask about a patch ------------------------------------------------------------------------

    def set_picking(self, on: bool) -> None:
        if on:
            self.canvas.setMapTool(self.map_tool)
        elif self.canvas.mapTool() is self.map_tool:
            self.canvas.unsetMapTool(self.map_tool)

    def patch_grid(self) -> tuple[PatchLayout, QgsCoordinateReferenceSystem]:
        """The patch grid the worker will use for the dock's current inputs, extent and stride."""
        extent = self.dock.read_extent()
        rect = crs = None
        if extent is not None:
            from qgis.core import QgsRectangle

            rect = QgsRectangle(*extent.bounds)
            crs = QgsCoordinateReferenceSystem(extent.crs)
        return s2_patch_grid(self.dock.s2_layers(), rect, crs, self.dock.stride.value())

    def ask(self, parameters: AskParameters) -> AskTask | None:
        if self.ask_task is not None:
            self.dock.chat.add_error("Still answering the previous question; wait for it.")
            return None
        task = AskTask(parameters, self.pool)
        task.messageChanged.connect(lambda text: self.dock.chat.set_busy(True, text))
        task.succeeded.connect(self._answered)
        task.failed.connect(self._ask_failed)
        task.canceled.connect(self._ask_failed)
        self.ask_task = task
        self.dock.chat.set_busy(True, "Thinking…")
        QgsApplication.taskManager().addTask(task)
        return task

    def _patch_picked(self, selection: PatchSelection) -> None:
        self.dock.set_picked(selection)
        self.dock.tabs.setCurrentWidget(self.dock.chat)

    def _answered(self, answer: AskAnswer) -> None:
        self.ask_task = None
        self.dock.chat.set_busy(False)
        self.dock.chat.add_answer(answer)
        if answer.patch_bounds is not None and answer.patch_crs:
            self.map_tool.show_bounds(
                answer.patch_bounds, QgsCoordinateReferenceSystem(answer.patch_crs)
            )
        self.answerReceived.emit(answer)

    def _ask_failed(self, error: ReoError | None = None) -> None:
        self.ask_task = None
        self.dock.chat.set_busy(False)
        self.dock.chat.add_error(error.message if error is not None else "Canceled.")
        if error is not None:
            log.warning(f"Ask failed: {error}")

    # -- teardown ----------------------------------------------------------------------------------

    def unload(self) -> None:
        self._waiting_inspection = None
        for task in (self.estimate_task, self.ask_task, self.inspect_task):
            if task is not None:
                task.cancel()
        self.set_picking(False)
        self.map_tool.remove()
