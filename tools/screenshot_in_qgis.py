"""Runs inside the real QGIS application (``qgis --code``), started by ``tools/screenshot.py``.

It drives QGIS as a user would: a project with a real Sentinel-2 L2A product (one file per band),
the REO plugin installed from the zip, "Estimate AGB" in the dock with the built-in demo model,
then "Ask about a patch" on the map; it grabs QGIS's main window after each, writes a report and
quits QGIS. Settings come from environment variables (REO_SHOT_*) set by the launcher.
"""

import json
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsContrastEnhancement,
    QgsMultiBandColorRenderer,
    QgsProject,
    QgsRasterLayer,
)
from qgis.PyQt import QtCore, QtWidgets
from qgis.utils import iface, plugins

PRODUCT = Path(os.environ["REO_SHOT_PRODUCT"])  # a folder of per-band GeoTIFFs
WORK = Path(os.environ["REO_SHOT_WORK"])
OUT = Path(os.environ["REO_SHOT_OUT"])  # the chat picture; the estimate one gets "-estimate"
REPORT = Path(os.environ["REO_SHOT_REPORT"])
SCREEN = (1366, 768)
DOCK_WIDTH = 420
LAYERS_WIDTH = 330  # wide enough for the REO group's name with its caveat tag
QUESTIONS = ("What is the above-ground biomass of this patch?", "What is the main land cover here?")


def wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        QtWidgets.QApplication.processEvents()
        time.sleep(0.02)
    return bool(condition())


def true_colour(files: dict) -> QgsRasterLayer:
    """B04, B03, B02 as one VRT, stretched as a user would to see the landscape."""
    vrt = str(WORK / f"{PRODUCT.name}_true_colour.vrt")
    gdal.BuildVRT(vrt, [str(files[b]) for b in ("B04", "B03", "B02")], separate=True)
    layer = QgsRasterLayer(vrt, f"{PRODUCT.name} (true colour)", "gdal")
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), 1, 2, 3)
    for band, setter in (
        (1, renderer.setRedContrastEnhancement),
        (2, renderer.setGreenContrastEnhancement),
        (3, renderer.setBlueContrastEnhancement),
    ):
        enhancement = QgsContrastEnhancement(layer.dataProvider().dataType(band))
        enhancement.setContrastEnhancementAlgorithm(
            QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum
        )
        enhancement.setMinimumValue(0)
        enhancement.setMaximumValue(1200)
        setter(enhancement)
    layer.setRenderer(renderer)
    return layer


def build_project() -> QgsRasterLayer:
    project = QgsProject.instance()
    files = {p.stem.rsplit("_", 1)[1]: p for p in sorted(PRODUCT.glob("*_B*.tif"))}
    root = project.layerTreeRoot()
    bands = root.addGroup(f"Sentinel-2 L2A bands ({len(files)} files)")
    for path in files.values():
        layer = QgsRasterLayer(str(path), path.stem, "gdal")
        project.addMapLayer(layer, False)
        bands.addLayer(layer).setItemVisibilityChecked(False)
    bands.setExpanded(False)
    colour = true_colour(files)
    project.addMapLayer(colour)
    root.findLayer(colour.id()).setExpanded(False)
    project.setCrs(colour.crs())
    return colour


def show_outcome_layers() -> None:
    """As a user looks at a result: the AGB legend open, land cover off, QGIS's own "task
    complete" notice closed so that REO's summary in the message bar shows."""
    root = QgsProject.instance().layerTreeRoot()
    group = root.children()[0]
    group.setExpanded(True)
    wait(lambda: False, 0.5)  # the view expands the new layers first; then collapse
    view = iface.layerTreeView()
    for node in group.children():
        is_agb = node.layer().name().startswith("AGB")
        node.setItemVisibilityChecked(is_agb)
        node.setExpanded(is_agb)
        view.setExpanded(view.node2index(node), is_agb)
    bar = iface.messageBar()
    for item in list(bar.items()):
        if item.title().startswith("Task complete"):
            bar.popWidget(item)


def grab(path: Path) -> None:
    QtWidgets.QApplication.processEvents()
    wait(lambda: False, 2.0)  # let the canvas finish rendering
    iface.mainWindow().grab().save(str(path))


def run() -> dict:
    window = iface.mainWindow()
    window.setGeometry(0, 0, *SCREEN)  # Xvfb has no window manager to maximise it
    colour = build_project()
    plugin = plugins["reo"]
    plugin.show_dock()
    dock, controller = plugin.dock, plugin.controller
    window.findChild(QtWidgets.QDockWidget, "Browser").hide()  # the layers panel gets the height
    layers = window.findChild(QtWidgets.QDockWidget, "Layers")
    window.resizeDocks([layers, dock], [LAYERS_WIDTH, DOCK_WIDTH], QtCore.Qt.Orientation.Horizontal)
    dock.per_band_radio.setChecked(True)
    dock.detect_inputs()
    dock.out_dir.setFilePath(str(WORK / "results"))
    dock.device.setCurrentText("auto")
    iface.mapCanvas().setExtent(colour.extent())
    finished = []
    controller.estimateFinished.connect(finished.append)
    dock.estimate_button.click()
    if not wait(lambda: finished, 600) or finished != ["succeeded"]:
        raise RuntimeError(f"the estimate did not succeed: {finished} {controller.last_error}")
    show_outcome_layers()
    view = colour.extent()
    view.scale(1.15)  # the whole product and the patch grid's edges in view
    iface.mapCanvas().setExtent(view)
    iface.mapCanvas().refreshAllLayers()
    estimate_picture = OUT.with_name(f"{OUT.stem}-estimate{OUT.suffix}")
    grab(estimate_picture)

    answers = []
    controller.answerReceived.connect(answers.append)
    plugin.ask_about_patch()
    controller.map_tool.select_at(colour.extent().center())
    for question in QUESTIONS:
        count = len(answers)
        dock.chat.question.setCurrentText(question)
        dock.chat.send_button.click()
        if not wait(lambda n=count: len(answers) > n, 300):
            raise RuntimeError(f"no answer to {question!r}")
    grab(OUT)
    return {
        "ok": True,
        "pictures": [str(estimate_picture), str(OUT)],
        "summary": dock.results.plain_text(),
        "answers": [answer.text for answer in answers],
        "worker_python": dock.worker_label.text(),
    }


def main() -> None:
    try:
        report = run()
    except Exception:
        report = {"ok": False, "error": traceback.format_exc()}
    REPORT.write_text(json.dumps(report, indent=2))
    QgsProject.instance().setDirty(False)
    QtCore.QTimer.singleShot(0, QgsApplication.instance().quit)


QtCore.QTimer.singleShot(2000, main)  # after QGIS has finished starting
