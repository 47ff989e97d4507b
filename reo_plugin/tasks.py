"""Background work: QgsTasks that drive the worker, so the QGIS window never freezes.

``run()`` executes on a QGIS worker thread: it only talks to the worker process, reports progress
and forwards cancel; it never raises and never touches a layer. ``finished()`` runs on the GUI
thread: that is where layers are added and signals tell the UI what happened.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from qgis.core import QgsTask

from reo_core.errors import ReoError
from reo_plugin import log
from reo_plugin.model_card import model_card
from reo_plugin.parameters import AskParameters, EstimateParameters, InspectParameters
from reo_plugin.qt import Signal
from reo_plugin.reading import Reading
from reo_plugin.results import AskAnswer, EstimateOutcome
from reo_plugin.run_folders import RunFolder
from reo_plugin.styling import add_outcome_layers
from reo_plugin.worker_client import IsCanceled, Progress, WorkerCanceled, WorkerError
from reo_plugin.workers import WorkerPool

Job = Callable[[Progress, IsCanceled], dict]


def model_job(pool: WorkerPool, op: str, parameters: EstimateParameters | AskParameters) -> Job:
    """The job of an op that runs the parameters' model: ``op`` with the request's fields."""

    def job(progress: Progress, is_canceled: IsCanceled) -> dict:
        model = parameters.model
        fields = parameters.request_fields()
        return pool.run(op, fields, model.model, model.device, progress, is_canceled)

    return job


class WorkerTask(QgsTask):
    """Runs one worker job; emits ``succeeded(value)``, ``failed(error)`` or ``canceled()``."""

    succeeded = Signal(object)
    failed = Signal(object)
    canceled = Signal()
    messageChanged = Signal(str)  # the worker's progress message  # noqa: N815

    def __init__(self, description: str, job: Job) -> None:
        super().__init__(description, QgsTask.Flag.CanCancel)
        self.job = job
        self.result: dict | None = None
        self.error: ReoError | None = None
        self.was_canceled = False

    def run(self) -> bool:  # worker thread
        try:
            self.result = self.job(self._progress, self.isCanceled)
            if not self.isCanceled():
                return True
            self.was_canceled = True  # finished just as the user canceled: honour the cancel
        except WorkerCanceled:
            self.was_canceled = True
        except ReoError as error:
            self.error = error
        except Exception as error:
            self.error = WorkerError(
                f"REO failed unexpectedly: {error}", traceback.format_exc(), kind="internal"
            )
        self.on_no_result()
        return False

    def finished(self, ok: bool) -> None:  # GUI thread
        if ok and self.result is not None:
            try:
                value = self.on_success(self.result)
            except ReoError as error:
                self._fail(error)
                return
            self.succeeded.emit(value)
        elif self.was_canceled or self.isCanceled():
            log.info(f"{self.description()}: canceled.")
            self.canceled.emit()
        else:
            self._fail(self.error or WorkerError("The task ended without a result or an error."))

    def on_success(self, result: dict) -> object:
        """Turn the worker's result into what ``succeeded`` carries (GUI thread)."""
        return result

    def on_no_result(self) -> None:
        """Clean up after a cancel or an error, once the worker has let go (worker thread)."""

    def _progress(self, fraction: float, message: str) -> None:  # worker thread
        self.setProgress(100.0 * fraction)
        if message:
            self.messageChanged.emit(message)

    def _fail(self, error: ReoError) -> None:
        self.log_failure(f"{self.description()}: {error}")
        self.failed.emit(error)

    def log_failure(self, text: str) -> None:
        log.critical(text)


class EstimateTask(WorkerTask):
    """Estimate AGB over an extent; on success the styled rasters are added to the project."""

    def __init__(self, parameters: EstimateParameters, pool: WorkerPool) -> None:
        self.parameters = parameters
        self.folder = RunFolder(parameters.out)
        self.card = model_card(parameters.model.model)  # the card of the model of this run
        self.layers: list = []
        super().__init__("REO: estimate AGB", model_job(pool, "estimate", parameters))

    def on_success(self, result: dict) -> EstimateOutcome:
        outcome = EstimateOutcome.from_result(result, self.parameters.out)
        self.layers = add_outcome_layers(outcome, card=self.card)
        log.info(f"Estimate done: {outcome.summary_text()} ({outcome.out})")
        return outcome

    def on_no_result(self) -> None:
        self.folder.discard()  # a canceled or failed run leaves no folder behind


class AskTask(WorkerTask):
    """Ask the model about the patch under a point."""

    def __init__(self, parameters: AskParameters, pool: WorkerPool) -> None:
        self.parameters = parameters
        super().__init__("REO: ask about a patch", model_job(pool, "ask", parameters))

    def on_success(self, result: dict) -> AskAnswer:
        return AskAnswer.from_result(result, self.parameters.question)


class InspectTask(WorkerTask):
    """How the worker would read the inputs (``inspect``): no model is loaded or run."""

    def __init__(self, parameters: InspectParameters, pool: WorkerPool) -> None:
        self.parameters = parameters

        def job(progress: Progress, is_canceled: IsCanceled) -> dict:
            return pool.run(
                "inspect", parameters.request_fields(), None, "auto", progress, is_canceled
            )

        super().__init__("REO: how the inputs are read", job)

    def on_success(self, result: dict) -> Reading:
        return Reading.from_inspect(result)

    def log_failure(self, text: str) -> None:
        log.info(text)  # inputs that cannot be read yet: the dock shows why; no failure of REO


class InfoTask(WorkerTask):
    """The worker's own report (Python, torch, CUDA, GPU), started if needed."""

    def __init__(self, pool: WorkerPool) -> None:
        super().__init__(
            "REO: worker diagnostics", lambda _progress, is_canceled: pool.info(is_canceled)
        )
