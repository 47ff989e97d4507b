"""Logging of the plugin into QGIS's message log (View ▸ Panels ▸ Log Messages, tab "REO")."""

from __future__ import annotations

from qgis.core import Qgis, QgsMessageLog

TAG = "REO"
WORKER_TAG = "REO worker"


def info(message: str, tag: str = TAG) -> None:
    QgsMessageLog.logMessage(message, tag, Qgis.MessageLevel.Info)


def warning(message: str, tag: str = TAG) -> None:
    QgsMessageLog.logMessage(message, tag, Qgis.MessageLevel.Warning)


def critical(message: str, tag: str = TAG) -> None:
    QgsMessageLog.logMessage(message, tag, Qgis.MessageLevel.Critical)


def worker_line(line: str) -> None:
    """One line of the worker's stderr (its logging), into the worker's own log tab."""
    level = Qgis.MessageLevel.Info
    if "ERROR" in line or "Traceback" in line or "CRITICAL" in line:
        level = Qgis.MessageLevel.Critical
    elif "WARNING" in line:
        level = Qgis.MessageLevel.Warning
    QgsMessageLog.logMessage(line, WORKER_TAG, level)
