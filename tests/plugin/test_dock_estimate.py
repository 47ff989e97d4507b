"""Estimate AGB from the dock, in a real QGIS with the real worker and model: layers, styles,
cancel, band mapping, and a worker that cannot start."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from plugin_helpers import SCENE_CRS, SMALL_EXTENT, add_raster, set_extent
from qgis.core import QgsPalettedRasterRenderer, QgsProject, QgsSingleBandPseudoColorRenderer

from reo_core.landcover import CLASSES
from reo_plugin.messages import bar_texts
from reo_plugin.qt import QtCore, QtWidgets
from reo_plugin.worker_client import WorkerCommand
from reo_plugin.workers import WorkerPool

ESTIMATE_TIMEOUT_MS = 120_000


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def run_estimate(qtbot, controller, dock) -> str:
    """Click "Estimate AGB" and wait for the end; the outcome ('succeeded', 'failed',
    'canceled')."""
    with qtbot.waitSignal(controller.estimateFinished, timeout=ESTIMATE_TIMEOUT_MS) as finished:
        click(qtbot, dock.estimate_button)
    return finished.args[0]


def reo_layers(project: QgsProject) -> dict:
    return {
        layer.name(): layer
        for layer in project.mapLayers().values()
        if layer.name().startswith(("AGB", "Land cover"))
    }


class GapMeter:
    """Measures the longest pause of the GUI event loop while work runs (a frozen UI has long
    ones)."""

    def __init__(self) -> None:
        self.last, self.longest = time.monotonic(), 0.0
        self.timer = QtCore.QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.longest, self.last = max(self.longest, now - self.last), now


def test_estimate_adds_two_styled_layers_matching_the_request(
    qtbot, project, s2_layer, dock, controller, qgis_iface
):
    dock.s2_layer.setLayer(s2_layer)
    set_extent(dock)
    meter = GapMeter()
    assert run_estimate(qtbot, controller, dock) == "succeeded", controller.last_error
    meter.timer.stop()

    layers = reo_layers(project)
    assert set(layers) == {"AGB (Mg/ha)", "Land cover (CGLS-LC100)"}
    for layer in layers.values():
        assert layer.crs().authid() == SCENE_CRS
        extent = layer.extent()
        assert (
            extent.xMinimum(),
            extent.yMinimum(),
            extent.xMaximum(),
            extent.yMaximum(),
        ) == pytest.approx(SMALL_EXTENT)
        assert (layer.width(), layer.height()) == (2, 2)  # 250 m patches
    agb = layers["AGB (Mg/ha)"]
    assert isinstance(agb.renderer(), QgsSingleBandPseudoColorRenderer)
    legend = [label for label, _ in agb.renderer().legendSymbologyItems()]
    assert "0 Mg/ha" in legend and "500 Mg/ha" in legend
    land_cover = layers["Land cover (CGLS-LC100)"]
    assert isinstance(land_cover.renderer(), QgsPalettedRasterRenderer)
    assert {c.value: c.label for c in land_cover.renderer().classes()} == {
        k: c.name for k, c in CLASSES.items()
    }
    group = project.layerTreeRoot().children()[0]
    assert group.name().startswith("REO — agb-")
    assert [child.layer().name() for child in group.children()] == [
        "AGB (Mg/ha)",
        "Land cover (CGLS-LC100)",
    ]

    messages = " | ".join(bar_texts(qgis_iface.messageBar()))
    assert "Total AGB" in messages and "carbon" in messages and "land cover" in messages
    assert controller.last_outcome.total_agb_mg > 0
    assert "Total AGB" in dock.results.plain_text() and not dock.results.isHidden()
    assert dock.results.title() == f"Results — {controller.last_outcome.out.name}"
    assert dock.estimate_button.isEnabled() and not dock.cancel_button.isEnabled()
    assert meter.longest < 0.5, f"the GUI froze for {meter.longest:.2f} s"


def test_an_unaligned_extent_is_covered_by_whole_patches(
    qtbot, project, s2_layer, dock, controller
):
    dock.s2_layer.setLayer(s2_layer)
    wanted = (552600.0, 4787990.0, 553010.0, 4788400.0)
    set_extent(dock, wanted)
    assert run_estimate(qtbot, controller, dock) == "succeeded", controller.last_error
    extent = reo_layers(project)["AGB (Mg/ha)"].extent()
    got = (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum())
    assert got[0] <= wanted[0] and got[3] >= wanted[3]  # starts at the request, snapped outward
    assert got[2] >= wanted[2] - 1e-6 and got[2] - wanted[2] < 250 and wanted[1] - got[1] < 250


def test_cancel_mid_run_stops_the_worker_and_adds_nothing(
    qtbot, project, s2_layer, dock, controller
):
    dock.s2_layer.setLayer(s2_layer)
    dock.batch_size.setValue(2)  # all 100 patches, two at a time: many chances to stop
    with qtbot.waitSignal(controller.estimateFinished, timeout=ESTIMATE_TIMEOUT_MS) as finished:
        click(qtbot, dock.estimate_button)
        qtbot.waitUntil(lambda: dock.progress.value() > 0, timeout=ESTIMATE_TIMEOUT_MS)
        assert dock.cancel_button.isEnabled()
        click(qtbot, dock.cancel_button)
    assert finished.args == ["canceled"]
    assert reo_layers(project) == {}
    runs = list(Path(dock.out_folder()).glob("agb-*"))
    assert runs == [], "a canceled run must leave no agb-<date>-<time> folder"
    assert Path(dock.out_folder()).is_dir(), "the output folder itself stays"
    assert "Canceled" in dock.status.text()
    assert dock.estimate_button.isEnabled()


def test_a_failed_run_leaves_no_folder_but_keeps_an_existing_one(tmp_path):
    from reo_plugin.run_folders import RunFolder, new_run_folder

    fresh = RunFolder(new_run_folder(tmp_path))
    fresh.path.mkdir()
    (fresh.path / ".agb.tif.partial.tif").write_bytes(b"half")
    assert fresh.discard() and not fresh.path.exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    assert not RunFolder(existing).discard() and existing.is_dir()


def test_per_band_layers_with_a_hand_made_mapping(
    qtbot, project, scene_per_band, dock, controller, tmp_path
):
    """B04 comes from a file whose name says nothing: the user maps it, the worker reads that
    file."""
    bands = {p.stem.rsplit("_", 1)[1]: p for p in (scene_per_band / "s2").glob("*_B*.tif")}
    red = tmp_path / "mystery.tif"  # not 'red.tif': STAC's common name 'red' says B04
    shutil.copy(bands.pop("B04"), red)
    for band, path in sorted(bands.items()):
        add_raster(project, path, f"S2 {band}")
    red_layer = add_raster(project, red, "mystery")
    dock.per_band_radio.setChecked(True)
    click(qtbot, dock.detect_button)
    assert "B04" not in dock.band_table.mapping()
    with pytest.raises(Exception, match="B04"):
        dock.read_inputs()
    dock.band_table.set_band("B04", red_layer, 1)
    inputs = dock.read_inputs()
    assert inputs.band_mapping["B04"] == (str(red.resolve()), 1)
    set_extent(dock)
    assert run_estimate(qtbot, controller, dock) == "succeeded", controller.last_error
    assert set(reo_layers(project)) == {"AGB (Mg/ha)", "Land cover (CGLS-LC100)"}


def test_a_worker_that_cannot_start_leaves_qgis_usable(
    qtbot, project, s2_layer, dock, qgis_iface, real_pool
):
    from reo_plugin.controller import ReoController

    broken = ReoController(
        qgis_iface, dock, WorkerPool(lambda: WorkerCommand("/opt/no-such-python/bin/python3"))
    )
    dock.s2_layer.setLayer(s2_layer)
    set_extent(dock)
    try:
        assert run_estimate(qtbot, broken, dock) == "failed"
        assert "does not exist" in dock.status.text() and "Runtime set-up" in dock.status.text()
        assert any("The estimate failed" in text for text in bar_texts(qgis_iface.messageBar()))
        assert dock.estimate_button.isEnabled() and not dock.cancel_button.isEnabled()
        assert reo_layers(project) == {}
        # QGIS stays usable: the same dock runs an estimate once the worker is right.
    finally:
        broken.unload()
        dock.estimateRequested.disconnect(broken.start_estimate)
    from reo_plugin.controller import ReoController as Controller

    working = Controller(qgis_iface, dock, real_pool)
    try:
        assert run_estimate(qtbot, working, dock) == "succeeded", working.last_error
    finally:
        working.unload()


def test_the_dock_refuses_incomplete_inputs_with_a_message(qtbot, project, dock, controller):
    click(qtbot, dock.estimate_button)
    assert "Choose the Sentinel-2 layer" in dock.status.text()
    assert controller.estimate_task is None
    assert isinstance(dock.status, QtWidgets.QLabel)


def test_the_extent_comes_from_the_canvas_or_a_layer(project, s2_layer, dock, qgis_iface):
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle

    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem(SCENE_CRS))
    canvas.setExtent(QgsRectangle(*SMALL_EXTENT))
    dock.s2_layer.setLayer(s2_layer)
    assert dock.read_extent() is None  # not set: all of the imagery
    dock.extent.setOutputExtentFromCurrent()
    visible = canvas.extent()
    assert dock.read_extent().bounds == pytest.approx(
        (visible.xMinimum(), visible.yMinimum(), visible.xMaximum(), visible.yMaximum())
    )
    dock.extent.setOutputExtentFromLayer(s2_layer)
    layer_extent = s2_layer.extent()
    assert dock.read_extent().bounds == pytest.approx(
        (
            layer_extent.xMinimum(),
            layer_extent.yMinimum(),
            layer_extent.xMaximum(),
            layer_extent.yMaximum(),
        )
    )
    assert dock.read_extent().crs == SCENE_CRS


def test_dock_settings_persist_between_sessions(qgis_iface, model_dir, tmp_path):
    from reo_plugin.dock import ReoDock

    first = ReoDock(qgis_iface.mapCanvas())
    first.per_band_radio.setChecked(True)
    first.stride.setValue(12)
    first.batch_size.setValue(7)
    first.device.setCurrentText("cuda:1")
    first.out_dir.setFilePath(str(tmp_path / "results"))
    first.deleteLater()
    second = ReoDock(qgis_iface.mapCanvas())
    try:
        assert second.mode() == "per_band"
        assert (second.stride.value(), second.batch_size.value()) == (12, 7)
        assert second.device.currentText() == "cuda:1"
        assert second.out_folder() == str(tmp_path / "results")
        assert second.model_path.filePath() == first.model_path.filePath()
    finally:
        second.multiband_radio.setChecked(True)
        second.stride.setValue(25)
        second.batch_size.setValue(32)
        second.device.setCurrentText("auto")
        second.deleteLater()
