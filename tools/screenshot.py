"""Take docs/screenshot.png: QGIS's canvas, layer tree and the REO dock after an estimate.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python tools/screenshot.py [--out docs/screenshot.png]

It simulates a scene (``python -m reo_core.synth``), shows its Sentinel-2 layer in true colour,
clicks "Estimate AGB" in the dock with the built-in demo model and the real worker, waits for the
styled layers and the summary, then grabs the window. With ``--ask`` it also picks a patch and asks
a question, and grabs a second picture of the chat (``<out stem>-chat.png``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest.mock import MagicMock

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    parser.add_argument("--size-km", type=float, default=5.0)
    parser.add_argument("--ask", action="store_true", help="also take a picture of the chat")
    args = parser.parse_args(argv)

    from qgis.core import QgsApplication

    app = QgsApplication([], True)
    app.initQgis()
    try:
        with tempfile.TemporaryDirectory() as folder:
            take(Path(folder), args)
    finally:
        app.exitQgis()
    return 0


def take(folder: Path, args) -> None:
    from qgis.core import (
        QgsContrastEnhancement,
        QgsCoordinateReferenceSystem,
        QgsLayerTreeModel,
        QgsMultiBandColorRenderer,
        QgsProject,
        QgsRasterLayer,
    )
    from qgis.gui import QgsLayerTreeMapCanvasBridge, QgsLayerTreeView, QgsMapCanvas, QgsMessageBar

    from reo_plugin.controller import ReoController
    from reo_plugin.dock import ReoDock
    from reo_plugin.qt import QtCore, QtWidgets
    from reo_plugin.worker_client import WorkerCommand
    from reo_plugin.workers import WorkerPool

    scene = folder / "scene"
    subprocess.run([sys.executable, "-m", "reo_core.synth", "--out", str(scene), "--size-km", str(args.size_km),
                    "--seed", "7"], cwd=REPO_ROOT, check=True, capture_output=True)  # fmt: skip
    s2_path = next(p for p in sorted((scene / "s2").glob("*.tif")) if not p.stem.endswith("_SCL"))
    project = QgsProject.instance()
    s2 = QgsRasterLayer(str(s2_path), "Sentinel-2 L2A (true colour)", "gdal")
    renderer = QgsMultiBandColorRenderer(s2.dataProvider(), 4, 3, 2)
    for band, setter in ((4, renderer.setRedContrastEnhancement), (3, renderer.setGreenContrastEnhancement),
                         (2, renderer.setBlueContrastEnhancement)):  # fmt: skip
        enhancement = QgsContrastEnhancement(s2.dataProvider().dataType(band))
        enhancement.setContrastEnhancementAlgorithm(
            QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum
        )
        enhancement.setMinimumValue(1000)
        enhancement.setMaximumValue(2400)
        setter(enhancement)
    s2.setRenderer(renderer)
    project.addMapLayer(s2)

    window = QtWidgets.QMainWindow()
    window.setWindowTitle("QGIS — REO")
    window.resize(1400, 860)
    canvas = QgsMapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem(s2.crs().authid()))
    bridge = QgsLayerTreeMapCanvasBridge(project.layerTreeRoot(), canvas)
    bar = QgsMessageBar()
    centre = QtWidgets.QWidget()
    column = QtWidgets.QVBoxLayout(centre)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(bar)
    column.addWidget(canvas, 1)
    window.setCentralWidget(centre)
    tree = QgsLayerTreeView()
    model = QgsLayerTreeModel(project.layerTreeRoot(), tree)
    tree.setModel(model)
    layers_dock = QtWidgets.QDockWidget("Layers")
    layers_dock.setWidget(tree)
    window.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, layers_dock)

    iface = MagicMock()
    iface.mapCanvas.return_value, iface.messageBar.return_value, iface.mainWindow.return_value = (
        canvas,
        bar,
        window,
    )
    dock = ReoDock(canvas, window)
    window.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.resizeDocks([layers_dock, dock], [270, 440], QtCore.Qt.Orientation.Horizontal)
    pool = WorkerPool(lambda: WorkerCommand(sys.executable))
    controller = ReoController(iface, dock, pool)
    dock.multiband_radio.setChecked(True)
    dock.s2_layer.setLayer(s2)
    dock.out_dir.setFilePath(str(folder / "out"))
    dock.extent.clear()
    dock.device.setCurrentText("auto")
    window.show()
    canvas.setExtent(s2.extent())
    canvas.refresh()
    finished = []
    controller.estimateFinished.connect(finished.append)
    dock.estimate_button.click()
    wait(lambda: finished, 900)
    if finished != ["succeeded"]:
        raise SystemExit(f"the estimate did not succeed: {finished} {controller.last_error}")
    for layer in project.mapLayers().values():
        if layer.name().startswith("AGB"):
            layer.renderer().setOpacity(0.8)
        if layer.name().startswith("Land cover"):
            project.layerTreeRoot().findLayer(layer.id()).setItemVisibilityChecked(False)
    tree.expandAll()
    dock.estimate_button.setFocus()
    for line in dock.extent.findChildren(QtWidgets.QLineEdit):
        line.deselect()
    canvas.refreshAllLayers()
    wait(lambda: False, 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(f"wrote {args.out}: {dock.status.text()}")
    if args.ask:
        answers = []
        controller.answerReceived.connect(answers.append)
        controller.set_picking(True)
        extent = s2.extent()
        controller.map_tool.select_at(extent.center())
        dock.chat.question.setCurrentText("What is the above-ground biomass of this patch?")
        dock.chat.send_button.click()
        wait(lambda: answers, 300)
        wait(lambda: False, 2)
        chat = args.out.with_name(args.out.stem + "-chat.png")
        window.grab().save(str(chat))
        print(f"wrote {chat}")
    controller.unload()
    pool.shutdown()
    window.close()
    del bridge, s2
    project.clear()
    window.deleteLater()
    wait(lambda: False, 0.5)


def wait(condition, seconds: float) -> None:
    from reo_plugin.qt import QtWidgets

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        QtWidgets.QApplication.processEvents()
        time.sleep(0.02)


if __name__ == "__main__":
    raise SystemExit(main())
