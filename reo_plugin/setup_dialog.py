"""Runtime set-up: choose the worker's Python, or create a runtime environment for it.

Creating one runs, one after the other, with their output streamed into the dialog (QProcess, so
QGIS stays responsive): ``python -m venv``, a pip update, PyTorch from the chosen wheel index, the
plugin's requirements.txt, and a check that torch imports. The same commands are shown before they
run, so they can also be pasted into a terminal (behind a proxy, without admin rights...).
"""

from __future__ import annotations

from qgis.gui import QgsFileWidget

from reo_plugin import log, settings
from reo_plugin.locations import REQUIREMENTS_PATH, venv_python
from reo_plugin.qt import QtCore, QtGui, QtWidgets, Signal
from reo_plugin.runtime import (
    TORCH_BUILD_LABELS,
    Step,
    base_python,
    default_runtime_dir,
    default_torch_build,
    nvidia_gpus,
    setup_steps,
    subprocess_environment,
)


class RuntimeSetupDialog(QtWidgets.QDialog):
    """Pick the worker's interpreter or build one; ``runtimeReady(python)`` when set."""

    runtimeReady = Signal(str)  # noqa: N815
    stepsFinished = Signal(bool)  # noqa: N815

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reoRuntimeSetup")
        self.setWindowTitle("REO — runtime set-up")
        self.resize(720, 620)
        self.process: QtCore.QProcess | None = None
        self.steps: list[Step] = []
        self.step_index = -1
        self.output_tail: list[str] = []

        self.current = QgsFileWidget()
        self.current.setStorageMode(QgsFileWidget.StorageMode.GetFile)
        self.current.setFilePath(settings.worker_python())
        use = QtWidgets.QPushButton("Use this Python")
        use.clicked.connect(self.use_current)
        existing = QtWidgets.QGroupBox(
            "The worker's Python (any Python with PyTorch and REO's requirements)"
        )
        row = QtWidgets.QHBoxLayout(existing)
        row.addWidget(self.current, 1)
        row.addWidget(use)

        self.base = QgsFileWidget()
        self.base.setStorageMode(QgsFileWidget.StorageMode.GetFile)
        self.base.setFilePath(base_python() or "")
        self.folder = QgsFileWidget()
        self.folder.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.folder.setFilePath(settings.runtime_dir() or str(default_runtime_dir()))
        self.torch_build = QtWidgets.QComboBox()
        for key, label in TORCH_BUILD_LABELS.items():
            self.torch_build.addItem(label, key)
        self.torch_build.setCurrentIndex(max(self.torch_build.findData(default_torch_build()), 0))
        gpus = nvidia_gpus()
        gpu_note = QtWidgets.QLabel(
            f"NVIDIA GPU found: {'; '.join(gpus)}"
            if gpus
            else "No NVIDIA GPU found (nvidia-smi): CPU wheels suffice."
        )
        self.pip_options = QtWidgets.QLineEdit()
        self.pip_options.setPlaceholderText(
            "e.g. --proxy http://proxy:3128  or  --index-url https://mirror/simple"
        )
        self.commands = QtWidgets.QPlainTextEdit()
        self.commands.setReadOnly(True)
        self.commands.setMaximumHeight(110)
        for widget in (self.base, self.folder):
            widget.fileChanged.connect(self.preview)
        self.torch_build.currentIndexChanged.connect(self.preview)
        self.pip_options.textChanged.connect(self.preview)
        create = QtWidgets.QGroupBox("Create a runtime for REO (a Python virtual environment)")
        form = QtWidgets.QFormLayout(create)
        form.addRow("Base Python", self.base)
        form.addRow("Folder", self.folder)
        form.addRow("PyTorch", self.torch_build)
        form.addRow(gpu_note)
        form.addRow("Extra pip options", self.pip_options)
        form.addRow("Commands", self.commands)

        self.start_button = QtWidgets.QPushButton("Create runtime")
        self.start_button.setObjectName("reoCreateRuntime")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        self.progress = QtWidgets.QProgressBar()
        self.status = QtWidgets.QLabel("")
        self.status.setObjectName("reoSetupStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.output = QtWidgets.QPlainTextEdit()
        self.output.setObjectName("reoSetupOutput")
        self.output.setReadOnly(True)
        self.output.setFont(
            QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        )

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(existing)
        layout.addWidget(create)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.output, 1)
        self.preview()

    # -- the plan -------------------------------------------------------------------------------

    def planned_steps(self) -> list[Step]:
        options = tuple(self.pip_options.text().split())
        return setup_steps(
            self.folder.filePath(),
            self.base.filePath(),
            self.torch_build.currentData(),
            options,
            REQUIREMENTS_PATH,
        )

    def preview(self) -> None:
        try:
            self.commands.setPlainText(
                "\n".join(step.command_line for step in self.planned_steps())
            )
        except ValueError as error:
            self.commands.setPlainText(str(error))

    def use_current(self) -> None:
        python = self.current.filePath().strip()
        settings.set_worker_python(python)
        self.status.setText(
            f"The worker will run with {python or 'the default Python'} "
            "(REO ▸ Diagnostics checks it)."
        )
        self.runtimeReady.emit(settings.worker_python())

    # -- running --------------------------------------------------------------------------------

    def start(self, steps: list[Step] | None = None) -> None:
        """Run ``steps`` (default: the planned ones) one after the other."""
        if not self.base.filePath().strip() and steps is None:
            self.status.setText(
                "Choose a base Python first (python3 / python.exe of version 3.10 or newer)."
            )
            return
        self.steps = list(steps) if steps is not None else self.planned_steps()
        self.step_index = -1
        self.output.clear()
        self.progress.setRange(0, len(self.steps))
        self.progress.setValue(0)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._next()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.status.setText(
                "Stopped. Run 'Create runtime' again to resume (finished steps are quick)."
            )

    def _next(self) -> None:
        self.step_index += 1
        if self.step_index >= len(self.steps):
            self._done(True)
            return
        step = self.steps[self.step_index]
        self.progress.setValue(self.step_index)
        self.status.setText(f"Step {self.step_index + 1} of {len(self.steps)}: {step.title}…")
        self._append(f"$ {step.command_line}\n")
        self.output_tail = []
        process = QtCore.QProcess(self)
        environment = QtCore.QProcessEnvironment()
        for key, value in subprocess_environment().items():
            environment.insert(key, value)
        process.setProcessEnvironment(environment)
        process.setProcessChannelMode(QtCore.QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self.process = process
        process.start(step.program, list(step.arguments))

    def _read(self) -> None:
        if self.process is None:
            return
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        self.output_tail = (self.output_tail + text.splitlines())[-8:]
        self._append(text)

    def _finished(self, exit_code: int, _status: QtCore.QProcess.ExitStatus | None = None) -> None:
        if self.process is None:
            return
        self._read()
        self.process = None
        if exit_code == 0:
            self._next()
            return
        step = self.steps[self.step_index]
        self.status.setText(
            f"Step '{step.title}' failed (exit code {exit_code}); the output below says why. "
            "Fix it (network, proxy: 'Extra pip options') and run again, "
            f"or run this in a terminal:\n{step.command_line}"
        )
        self._done(False)

    def _error(self, error: QtCore.QProcess.ProcessError) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart and self.process is not None:
            step = self.steps[self.step_index]
            self.process = None
            self.status.setText(
                f"Step '{step.title}' could not start: '{step.program}' is not a program. "
                "Choose an existing base Python."
            )
            self._done(False)

    def _done(self, ok: bool) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if ok:
            self.progress.setValue(len(self.steps))
            python = str(venv_python(self.folder.filePath()))
            settings.set_worker_python(python)
            settings.set_runtime_dir(self.folder.filePath())
            self.current.setFilePath(python)
            self.status.setText(f"Runtime ready: the worker now runs with {python}.")
            log.info(f"Runtime created: {python}")
            self.runtimeReady.emit(python)
        self.stepsFinished.emit(ok)

    def _append(self, text: str) -> None:
        cursor = self.output.textCursor()
        cursor.movePosition(QtGui.QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.output.setTextCursor(cursor)
        self.output.ensureCursorVisible()
