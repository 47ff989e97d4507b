"""The plugin object QGIS creates: it only wires actions, the dock, Processing and the worker."""

from __future__ import annotations

from collections.abc import Callable

from qgis.core import QgsApplication
from qgis.gui import QgisInterface

from reo_core import __version__
from reo_plugin.locations import ICON_PATH, icon_path
from reo_plugin.qt import QAction, QtCore, QtGui, QtWidgets

MENU = "&REO"


class ReoPlugin:
    """Adds REO's menu, toolbar, dock and Processing provider to QGIS, and removes them again."""

    def __init__(self, iface: QgisInterface) -> None:
        self.iface = iface
        self.actions: list[QAction] = []
        self.toolbar = None
        self.dock = None
        self.controller = None
        self.provider = None
        self.dialogs: list[QtWidgets.QDialog] = []

    # -- QGIS entry points ----------------------------------------------------------------------

    def initProcessing(self) -> None:
        """Called by QGIS for plugins with hasProcessingProvider=yes (also from initGui)."""
        if self.provider is not None:
            return
        from reo_plugin.processing_provider import ReoProvider

        self.provider = ReoProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        from reo_plugin.controller import ReoController
        from reo_plugin.dock import ReoDock
        from reo_plugin.workers import shared_pool

        self.initProcessing()
        window = self.iface.mainWindow()
        self.dock = ReoDock(self.iface.mapCanvas(), window)
        self.dock.hide()
        self.iface.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.controller = ReoController(self.iface, self.dock, shared_pool())
        self.dock.setupRequested.connect(self.show_setup)
        self.dock.diagnosticsRequested.connect(self.show_diagnostics)

        self.toolbar = self.iface.addToolBar("REO")
        self.toolbar.setObjectName("ReoToolbar")
        estimate = self._action("estimate", "Estimate AGB…", self.show_dock, toolbar=True)
        estimate.setObjectName("reoShowDock")
        ask = self._action("ask", "Ask about a patch", self.ask_about_patch, toolbar=True)
        ask.setObjectName("reoAskAction")
        self._action("setup", "Runtime set-up…", self.show_setup)
        self._action("diagnostics", "Diagnostics…", self.show_diagnostics)
        self._action("about", "About REO", self.show_about)

    def unload(self) -> None:
        from reo_plugin.workers import shutdown_shared_pool

        if self.controller is not None:
            self.controller.unload()
            self.controller = None
        for action in self.actions:
            self.iface.removePluginRasterMenu(MENU, action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
            action.deleteLater()
        self.actions.clear()
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.dock is not None:
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        for dialog in self.dialogs:
            dialog.close()
        self.dialogs.clear()
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        shutdown_shared_pool()

    # -- actions --------------------------------------------------------------------------------

    def show_dock(self) -> None:
        self.dock.show()
        self.dock.raise_()
        self.dock.tabs.setCurrentIndex(0)

    def ask_about_patch(self) -> None:
        self.show_dock()
        self.dock.tabs.setCurrentWidget(self.dock.chat)
        self.dock.chat.pick_button.setChecked(True)

    def show_setup(self) -> None:
        from reo_plugin.setup_dialog import RuntimeSetupDialog

        dialog = RuntimeSetupDialog(self.iface.mainWindow())
        dialog.runtimeReady.connect(self._runtime_ready)
        self._show_dialog(dialog)

    def _runtime_ready(self, python: str) -> None:
        """A new worker Python: show it, and ask the new worker how it reads the inputs."""
        if self.dock is not None:
            self.dock.set_worker_python(python)
            self.dock.request_inspection(force=True)

    def show_diagnostics(self) -> None:
        from reo_plugin.diagnostics import DiagnosticsDialog
        from reo_plugin.workers import shared_pool

        self._show_dialog(DiagnosticsDialog(shared_pool(), self.iface.mainWindow()))

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self.iface.mainWindow(), "About REO", about_text())

    def _show_dialog(self, dialog: QtWidgets.QDialog) -> None:
        self.dialogs = [d for d in self.dialogs if d.isVisible()] + [dialog]
        dialog.show()

    def _action(
        self, icon: str, text: str, slot: Callable[[], None], toolbar: bool = False
    ) -> QAction:
        action = QAction(QtGui.QIcon(str(icon_path(icon))), text, self.iface.mainWindow())
        action.triggered.connect(slot)
        self.iface.addPluginToRasterMenu(MENU, action)
        if toolbar:
            self.toolbar.addAction(action)
        self.actions.append(action)
        return action


def about_text() -> str:
    return (
        f"<b>REO {__version__}</b><br>"
        "Above-ground biomass and land-cover maps from Sentinel-2 and PALSAR-2 with a local "
        "vision-language model (REO-VLM).<br>"
        "The model runs in a separate worker process, never inside QGIS."
    )


__all__ = ["ICON_PATH", "ReoPlugin", "about_text"]
