"""Ask about a patch: a click on the map selects the patch the worker will use; the chat round
trip."""

from __future__ import annotations

import pytest
from plugin_helpers import SCENE_CRS, SMALL_EXTENT, set_extent
from qgis.core import QgsCoordinateReferenceSystem, QgsPointXY, QgsRectangle
from qgis.gui import QgsMapMouseEvent

from reo_plugin.qt import QtCore

ANSWER_TIMEOUT_MS = 60_000


@pytest.fixture
def canvas(qgis_iface, s2_layer):
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem(SCENE_CRS))
    canvas.setLayers([s2_layer])
    canvas.resize(600, 600)
    canvas.setExtent(s2_layer.extent())
    canvas.refresh()
    return canvas


def click_map(canvas, tool, x: float, y: float) -> None:
    """A left click on the canvas at map coordinates (x, y), delivered to ``tool``."""
    pixel = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    position = QtCore.QPoint(round(pixel.x()), round(pixel.y()))
    event = QgsMapMouseEvent(
        canvas,
        QtCore.QEvent.Type.MouseButtonRelease,
        position,
        QtCore.Qt.MouseButton.LeftButton,
        QtCore.Qt.MouseButton.LeftButton,
    )
    tool.canvasReleaseEvent(event)


def bbox(geometry) -> tuple[float, float, float, float]:
    box: QgsRectangle = geometry.boundingBox()
    return box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()


def ask(qtbot, controller, dock, question: str):
    dock.chat.question.setCurrentText(question)
    with qtbot.waitSignal(controller.answerReceived, timeout=ANSWER_TIMEOUT_MS) as received:
        qtbot.mouseClick(dock.chat.send_button, QtCore.Qt.MouseButton.LeftButton)
    return received.args[0]


def test_a_click_outlines_the_patch_under_the_cursor(canvas, s2_layer, dock, controller, qtbot):
    dock.s2_layer.setLayer(s2_layer)
    qtbot.mouseClick(dock.chat.pick_button, QtCore.Qt.MouseButton.LeftButton)
    assert canvas.mapTool() is controller.map_tool
    click_map(canvas, controller.map_tool, 553100.0, 4787900.0)
    selection = controller.map_tool.selection
    # The 250 m lattice cell holding the point; the scene's lattice cells start at (552000, 4789500)
    # (its corner, (552060, 4789440), is not on the lattice).
    assert selection.bounds == (553000.0, 4787750.0, 553250.0, 4788000.0)
    assert (selection.row, selection.col) == (6, 4)
    assert bbox(controller.map_tool.outline()) == pytest.approx(selection.bounds)
    assert dock.tabs.currentWidget() is dock.chat
    assert "250 m × 250 m" in dock.chat.patch_label.text()  # noqa: RUF001


def test_a_question_gets_the_workers_answer_about_that_patch(
    canvas, s2_layer, dock, controller, qtbot
):
    dock.s2_layer.setLayer(s2_layer)
    controller.set_picking(True)
    click_map(canvas, controller.map_tool, 553000.0, 4788000.0)
    picked = controller.map_tool.selection
    answer = ask(qtbot, controller, dock, "What is the above-ground biomass of this patch?")
    assert answer.patch_bounds == pytest.approx(picked.bounds)  # the worker used the outlined patch
    assert answer.agb is not None and 0 <= answer.agb <= 500
    assert answer.agb_std is not None  # the demo model has the uncertainty head
    transcript = dock.chat.transcript.toPlainText()
    assert "You: What is the above-ground biomass of this patch?" in transcript
    assert answer.text in transcript and answer.agb_text in transcript  # the value and its spread
    text_answer = ask(qtbot, controller, dock, "What is the main land cover here?")
    assert text_answer.text and text_answer.agb is None
    assert text_answer.text in dock.chat.transcript.toPlainText()


def test_with_an_extent_the_patches_follow_the_estimate_grid(
    canvas, s2_layer, dock, controller, qtbot
):
    dock.s2_layer.setLayer(s2_layer)
    shifted = (SMALL_EXTENT[0] + 120.0, SMALL_EXTENT[1], SMALL_EXTENT[2] + 120.0, SMALL_EXTENT[3])
    set_extent(dock, shifted)
    controller.set_picking(True)
    click_map(canvas, controller.map_tool, 552700.0, 4788100.0)
    picked = controller.map_tool.selection
    assert picked.bounds == (552500.0, 4788000.0, 552750.0, 4788250.0)  # the lattice, always
    answer = ask(qtbot, controller, dock, "Is there any sign of human activity?")
    assert answer.patch_bounds == pytest.approx(picked.bounds)


def test_a_click_outside_the_imagery_is_explained(canvas, s2_layer, dock, controller):
    dock.s2_layer.setLayer(s2_layer)
    click_map(canvas, controller.map_tool, 560000.0, 4700000.0)
    assert "outside the Sentinel-2 imagery" in dock.chat.transcript.toPlainText()


def test_asking_without_a_patch_says_what_to_do(dock, qtbot):
    dock.chat.question.setCurrentText("What is here?")
    qtbot.mouseClick(dock.chat.send_button, QtCore.Qt.MouseButton.LeftButton)
    assert "Pick a patch first" in dock.chat.transcript.toPlainText()
