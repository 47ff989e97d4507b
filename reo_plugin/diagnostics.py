"""Diagnostics: what the worker runs with (Python, PyTorch, CUDA, GPU) and what to fix.

Three sources, each allowed to fail without hiding the others: facts of the QGIS side, a probe of
the worker's interpreter (``runtime.probe``: a subprocess that imports nothing of REO's heavy
stack but torch), and the worker's own ``info`` reply. Every missing piece comes with the command
or the menu entry that fixes it; "Copy report" gives the whole as text for an issue.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass

from qgis.core import Qgis, QgsApplication, QgsTask

from reo_core import __version__
from reo_plugin import settings
from reo_plugin.qt import QtCore, QtWidgets, Signal
from reo_plugin.runtime import (
    PYTHON_VARIABLES,
    Probe,
    cuda_fix_command,
    install_command,
    nvidia_gpus,
    probe,
)
from reo_plugin.tasks import InfoTask
from reo_plugin.workers import WorkerPool

OK, WARN, MISSING, INFO = "ok", "warning", "missing", "info"
MIN_PYTHON = (3, 10)
REQUIRED_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "numpy",
    "rasterio",
    "pyproj",
    "shapely",
    "safetensors",
)
SYMBOLS = {OK: "✔", WARN: "⚠", MISSING: "✘", INFO: "•"}
COLOURS = {OK: "#1b7f3b", WARN: "#a66a00", MISSING: "#b00020", INFO: "#444444"}


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    value: str
    status: str = INFO
    fix: str | None = None


def qgis_checks() -> list[Check]:
    leaked = [name for name in PYTHON_VARIABLES if os.environ.get(name)]
    checks = [
        Check("REO plugin", __version__),
        Check("QGIS", f"{Qgis.QGIS_VERSION} (Qt {QtCore.qVersion()})"),
        Check("QGIS's Python", sys.version.split()[0]),
    ]
    if leaked:
        checks.append(
            Check("QGIS's Python variables", ", ".join(leaked) + " (removed for the worker)")
        )
    return checks


def probe_checks(python: str, result: Probe | None, gpus: list[str]) -> list[Check]:
    """Checks of the worker's interpreter from a probe."""
    if result is None:
        return [Check("Worker Python", f"{python} (checking…)")]
    if not result.ok:
        return [
            Check(
                "Worker Python",
                python,
                MISSING,
                f"{result.error} Create a runtime in REO ▸ Runtime set-up, "
                "or choose an existing Python there.",
            )
        ]
    facts = result.facts
    version = facts.get("python", "?")
    checks = [
        Check(
            "Worker Python",
            f"{python} ({version}{', virtual environment' if facts.get('in_venv') else ''})",
            OK,
        )
    ]
    if _version_tuple(version) < MIN_PYTHON:
        checks.append(
            Check(
                "Python version",
                version,
                MISSING,
                f"REO needs Python {'.'.join(map(str, MIN_PYTHON))} or newer: "
                "create a runtime with a newer base Python.",
            )
        )
    missing = [name for name in REQUIRED_PACKAGES if not result.package(name)]
    for name in REQUIRED_PACKAGES:
        version_found = result.package(name)
        checks.append(
            Check(name, version_found or "not installed", OK if version_found else MISSING)
        )
    if missing:
        checks.append(
            Check("Missing packages", ", ".join(missing), MISSING, install_command(python))
        )
    if "reo_core" in facts:
        same = facts["reo_core"] == __version__
        checks.append(
            Check(
                "reo_core seen by the worker",
                facts["reo_core"],
                OK if same else WARN,
                None
                if same
                else "The worker imports another reo_core than the plugin's: reinstall the plugin.",
            )
        )
    elif facts.get("reo_core_error"):
        checks.append(
            Check(
                "reo_core seen by the worker",
                facts["reo_core_error"],
                MISSING,
                "Reinstall the plugin.",
            )
        )
    if result.package("torch"):
        checks += _gpu_checks(python, facts, gpus)
    return checks


def info_checks(info: dict | None, error: str | None) -> list[Check]:
    """Checks from the worker's own ``info`` reply."""
    if error:
        return [
            Check(
                "Worker process",
                error,
                MISSING,
                "See the fix above; the worker's log is in the message log, tab 'REO worker'.",
            )
        ]
    if info is None:
        return [Check("Worker process", "starting… (the first start imports PyTorch)")]
    model = info.get("model") or {}
    checks = [
        Check(
            "Worker process", f"running, pid {info.get('pid')}, protocol {info.get('protocol')}", OK
        ),
        Check("Worker's PyTorch", f"{info.get('torch')} (CUDA {info.get('cuda') or 'none'})"),
        Check("Device used by 'auto'", str(info.get("device"))),
        Check("GPU", str(info.get("gpu") or "none")),
    ]
    if model:
        checks.append(
            Check(
                "Loaded model",
                f"{model.get('folder')} ({model.get('modality')}, {model.get('device')})",
            )
        )
    return checks


def render_html(checks: list[Check]) -> str:
    rows = []
    for check in checks:
        fix = (
            f"<br><span style='color:#444'>Fix: <code>{html.escape(check.fix)}</code></span>"
            if check.fix
            else ""
        )
        rows.append(
            f"<tr><td style='color:{COLOURS[check.status]}'>{SYMBOLS[check.status]}</td>"
            f"<td><b>{html.escape(check.name)}</b></td>"
            f"<td>{html.escape(check.value)}{fix}</td></tr>"
        )
    return "<table cellspacing='4'>" + "".join(rows) + "</table>"


def render_text(checks: list[Check]) -> str:
    lines = ["# REO diagnostics", ""]
    for check in checks:
        lines.append(f"- [{check.status}] {check.name}: {check.value}")
        if check.fix:
            lines.append(f"  fix: {check.fix}")
    return "\n".join(lines)


class DiagnosticsDialog(QtWidgets.QDialog):
    """Shows the checks as they arrive; "Check again" restarts them."""

    updated = Signal()

    def __init__(self, pool: WorkerPool, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reoDiagnostics")
        self.setWindowTitle("REO — diagnostics")
        self.resize(720, 560)
        self.pool = pool
        self.python = settings.worker_python()
        self.probe_result: Probe | None = None
        self.info: dict | None = None
        self.info_error: str | None = None
        self.gpus: list[str] = []
        self.tasks: list[QgsTask] = []
        self.view = QtWidgets.QTextBrowser()
        self.view.setObjectName("reoDiagnosticsView")
        again = QtWidgets.QPushButton("Check again")
        again.clicked.connect(self.refresh)
        copy = QtWidgets.QPushButton("Copy report")
        copy.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(self.report_text()))
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(again)
        buttons.addWidget(copy)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.refresh()

    def checks(self) -> list[Check]:
        return (
            qgis_checks()
            + probe_checks(self.python, self.probe_result, self.gpus)
            + info_checks(self.info, self.info_error)
        )

    def report_text(self) -> str:
        return render_text(self.checks())

    def refresh(self) -> None:
        self.python = settings.worker_python()
        self.probe_result, self.info, self.info_error = None, None, None
        probe_task = QgsTask.fromFunction(
            "REO: check the worker's Python", self._probe, on_finished=self._probed
        )
        info_task = InfoTask(self.pool)
        info_task.succeeded.connect(self._info)
        info_task.failed.connect(lambda error: self._info(None, error.message))
        self.tasks = [probe_task, info_task]
        for task in self.tasks:
            QgsApplication.taskManager().addTask(task)
        self._show()

    def _probe(self, task: QgsTask) -> tuple[Probe, list[str]]:  # worker thread
        return probe(self.python), nvidia_gpus()

    def _probed(
        self, exception: BaseException | None, value: tuple[Probe, list[str]] | None = None
    ) -> None:
        if value is not None:
            self.probe_result, self.gpus = value
        else:
            self.probe_result = Probe(self.python, False, error=f"The check failed: {exception}")
        self._show()

    def _info(self, info: dict | None, error: str | None = None) -> None:
        self.info, self.info_error = info, error
        self._show()

    def _show(self) -> None:
        self.view.setHtml(render_html(self.checks()))
        self.updated.emit()


def _gpu_checks(python: str, facts: dict, gpus: list[str]) -> list[Check]:
    if facts.get("torch_error"):
        return [Check("PyTorch import", facts["torch_error"], MISSING, install_command(python))]
    if facts.get("cuda_available"):
        return [
            Check("CUDA", f"{facts.get('cuda_version')}: {', '.join(facts.get('gpus') or [])}", OK)
        ]
    if gpus:
        return [
            Check(
                "CUDA",
                f"not available to PyTorch, but an NVIDIA GPU is present ({'; '.join(gpus)})",
                WARN,
                cuda_fix_command(python),
            )
        ]
    if facts.get("mps_available"):
        return [Check("Apple GPU (MPS)", "available", OK)]
    return [Check("GPU", "none found: the model runs on the CPU (slower, but works)")]


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(".")[:2])
    except ValueError:
        return (0,)
