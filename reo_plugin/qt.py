"""Qt classes for the plugin, through qtpy (PyQt5 in QGIS 3, PyQt6 in QGIS 4).

QGIS installs on Windows and macOS ship no qtpy; there QGIS's own ``qgis.PyQt`` shim, which maps to
the same Qt binding, provides the classes. ``Signal`` is qtpy's name for PyQt's ``pyqtSignal``.
"""

try:
    from qtpy import QtCore, QtGui, QtWidgets
except ImportError:
    from qgis.PyQt import QtCore, QtGui, QtWidgets

# QAction moved from QtWidgets (Qt5) to QtGui (Qt6).
QAction = getattr(QtWidgets, "QAction", None) or QtGui.QAction
Signal = getattr(QtCore, "Signal", None) or QtCore.pyqtSignal

__all__ = ["QAction", "QtCore", "QtGui", "QtWidgets", "Signal"]
