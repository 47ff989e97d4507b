"""The plugin object QGIS creates: it only wires actions to the interface and removes them again."""

from __future__ import annotations

from pathlib import Path

from reo_core import __version__
from reo_plugin.qt import QAction, QtGui, QtWidgets

PLUGIN_DIR = Path(__file__).resolve().parents[1]
ICON_PATH = PLUGIN_DIR / "resources" / "icon.svg"
MENU = "&REO"


class ReoPlugin:
    """Adds REO's menu and toolbar entries to QGIS."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.actions: list[QAction] = []

    def initGui(self) -> None:
        about = QAction(QtGui.QIcon(str(ICON_PATH)), "About REO", self.iface.mainWindow())
        about.triggered.connect(self.show_about)
        self.iface.addPluginToRasterMenu(MENU, about)
        self.actions.append(about)

    def unload(self) -> None:
        for action in self.actions:
            self.iface.removePluginRasterMenu(MENU, action)
            action.deleteLater()
        self.actions.clear()

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self.iface.mainWindow(), "About REO", about_text())


def about_text() -> str:
    return (
        f"<b>REO {__version__}</b><br>"
        "Above-ground biomass and land-cover maps from Sentinel-2 and PALSAR-2 with a local "
        "vision-language model (REO-VLM).<br>"
        "The model runs in a separate worker process, never inside QGIS."
    )
