"""The dock on a 1366 x 768 laptop screen: every section fits beside the results, all twelve bands
show at once, and the results of a run stay in view and can be copied.

The dock's share of such a screen with QGIS maximised: 768 px less the taskbar (40), the window's
title (30), the menu bar (22), two rows of toolbars (70), the status bar (24) and the dock's own
title bar (22) leaves 560 px of height; 420 px of width leaves 946 px for the layers panel and the
map. The sizes come from the widgets' own size hints in the test's real QGIS (offscreen, default
fonts).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_helpers import add_raster, set_extent

from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_plugin.model_card import ModelCard, model_card
from reo_plugin.qt import QtCore, QtGui
from reo_plugin.reading import Reading
from reo_plugin.results import EstimateOutcome

DOCK_SIZE = QtCore.QSize(420, 560)


def settle(qtbot) -> None:
    qtbot.wait(30)  # let the layouts run


def place(dock, qtbot) -> None:
    dock.resize(DOCK_SIZE)
    dock.show()
    settle(qtbot)


def section_height(section, width: int) -> int:
    """The height the section wants at ``width`` (wrapped labels are shorter when wider)."""
    height = section.heightForWidth(width) if section.hasHeightForWidth() else -1
    return height if height > 0 else section.sizeHint().height()


def a_finished_run(dock, card: ModelCard) -> None:
    """Results as after a run over several land-cover classes (a long summary)."""
    summary = {
        "agb": {"mean": 81.2, "total_mg": 123456.0},
        "carbon": {"total_mg": 58024.3},
        "valid_area_ha": 1520.0,
        "land_cover_area_ha": {
            code: {"name": name, "area_ha": area}
            for code, name, area in (
                ("111", "Closed forest, evergreen needle leaf", 600.0),
                ("30", "Herbaceous vegetation", 400.0),
                ("40", "Cultivated and managed vegetation/agriculture (cropland)", 300.0),
                ("50", "Urban / built up", 120.0),
                ("80", "Permanent water bodies", 100.0),
            )
        },
    }
    out = Path("/results/agb-20260101-120000")
    dock.show_outcome(EstimateOutcome(out, {"agb": out / "agb.tif"}, summary), card)


def a_long_reading() -> Reading:
    """A decision with the longest line and two warnings of the kind the worker gives."""
    product = "S2B_MSIL2A_20230615T101559_N0509_R065_T32TNN_20230615T130000"
    decision = {
        "product": product,
        "level": {"value": "L2A", "source": "product name", "detail": f"'{product}' in ..."},
        "boa_offset": {"value": 1000, "source": "product name", "detail": "baseline 05.09"},
        "units": {"/data/B02.tif": {"kind": "reflectance", "reason": "float data"}},
        "clouds": {"kind": "mask", "mask_kind": "probability", "detail": "probability mask"},
        "bands": {
            b: {"file": f"/data/{b}.tif", "band": 1, "identified_by": "band mapping", "read": True}
            for b in AGBD_BAND_ORDER
        },
        "warnings": [
            "product name gives BOA offset 1000 (baseline 05.09 in the product name), but the "
            "dark bands lie below 1000 DN in 93.0% of the sampled pixels: the data carry no "
            "offset; read with offset 0. Pass --boa-offset to insist.",
            "B02.tif is float32 but holds values up to 4500: read as digital numbers, not "
            "reflectance. Check how the file was exported.",
        ],
    }
    return Reading(decision, patches=1024)


@pytest.fixture
def per_band_dock(dock, project, scene_per_band, qtbot):
    """The dock in per-band mode with the per-band layers of a scene (the widest layout)."""
    for path in sorted((scene_per_band / "s2").glob("*.tif")):
        add_raster(project, path, path.stem)
    dock.per_band_radio.setChecked(True)
    dock.detect_inputs()
    place(dock, qtbot)
    return dock


@pytest.mark.parametrize("mode", ["per_band", "multiband"])
def test_every_section_fits_beside_the_results_on_a_1366x768_screen(
    per_band_dock, project, scene, qtbot, model_dir, mode
):
    """The fullest state of each mode: a cloud probability mask (its threshold row), the band
    order row (multi-band), a long reading with two warnings, the results of a run."""
    dock = per_band_dock
    mask = add_raster(project, next((scene / "s2").glob("*_SCL.tif")), "mask")
    dock.cloud_mask.layer.setLayer(mask)
    dock.cloud_mask.set_kind("probability")
    if mode == "multiband":
        stack = next(p for p in (scene / "s2").glob("*.tif") if not p.stem.endswith("_SCL"))
        dock.multiband_radio.setChecked(True)
        dock.s2_layer.setLayer(add_raster(project, stack, "Sentinel-2"))
        dock.band_order.set_order("agbd")
    dock.reading_panel.show_reading(a_long_reading())
    a_finished_run(dock, model_card(model_dir))
    for section in dock.sections.values():
        section.setCollapsed(False)
    settle(qtbot)
    assert not dock.results.isHidden() and not dock.reading.isHidden()
    assert not dock.cloud_mask.threshold.isHidden()
    assert dock.band_order.isHidden() == (mode == "per_band")
    assert len(dock.reading_panel.issue_texts) == 2
    body = dock.widget().minimumSizeHint()
    assert body.width() <= DOCK_SIZE.width() and body.height() <= DOCK_SIZE.height(), body
    viewport = dock.scroll.viewport().size()
    assert viewport.height() >= 300, f"only {viewport.height()} px left for the sections"
    for name, section in dock.sections.items():
        height = section_height(section, viewport.width())
        assert height <= viewport.height(), f"{name} needs {height} px, {viewport.height()} shown"
        width = section.minimumSizeHint().width()
        assert width <= viewport.width(), f"{name} needs {width} px, {viewport.width()} shown"


def test_all_twelve_bands_show_at_once_in_two_columns(per_band_dock):
    table = per_band_dock.band_table
    assert set(per_band_dock.band_table.mapping()) == set(AGBD_BAND_ORDER)  # detected
    columns = {table.labels[band].x() for band in AGBD_BAND_ORDER}
    rows = {table.labels[band].y() for band in AGBD_BAND_ORDER}
    assert (len(columns), len(rows)) == (2, 6)
    for band in AGBD_BAND_ORDER:
        box = table.layer_boxes[band]
        assert box.isVisible() and table.rect().contains(box.geometry()), band
        assert box.width() >= 100, f"{band}: the layer box is {box.width()} px wide"
        assert box.currentLayer().name().endswith(band)
    assert not any(table.index_boxes[b].isVisible() for b in AGBD_BAND_ORDER)  # single-band files


def test_the_sar_row_shows_only_for_models_that_read_sar(dock, qtbot):
    place(dock, qtbot)
    assert dock.sar_row.isHidden()
    dock.modality.setCurrentText("ms+sar")
    assert not dock.sar_row.isHidden()
    dock.modality.setCurrentText("ms")


def test_an_error_of_the_worker_fits_in_the_reading_section(dock, qtbot):
    """The longest message the worker gives about an input (Level-1C refused), with the hint."""
    place(dock, qtbot)
    dock.reading_panel.show_error(
        "The input is a Level-1C product (band B10 in Forest_1.tif (L2A products have no B10)): "
        "top-of-atmosphere reflectance. REO's models read surface reflectance (Level-2A, "
        "atmospherically corrected), and top-of-atmosphere values give biased biomass. Use the L2A "
        "product of the same acquisition, or run anyway with --allow-l1c (the result is marked as "
        "L1C).\nIn the dock: Advanced ▸ Allow Level-1C (--allow-l1c)."
    )
    a_finished_run(dock, ModelCard())
    settle(qtbot)
    viewport = dock.scroll.viewport().size()
    height = section_height(dock.reading_panel, viewport.width())
    assert not dock.reading_panel.isHidden() and dock.reading.isHidden()
    assert height <= viewport.height(), f"the error needs {height} px, {viewport.height()} shown"


def test_the_reading_has_its_place_right_under_inputs(dock, qtbot):
    place(dock, qtbot)
    assert dock.reading_panel.isHidden()
    dock.reading_panel.set_text("L2A, BOA offset 1000 DN (N0400)")
    assert dock.reading.isVisible() and dock.reading_panel.text().startswith("How REO reads this:")
    assert list(dock.sections)[:2] == ["inputs", "reading"]
    assert dock.reading_panel.title() == "How REO reads this"
    below = dock.reading_panel.geometry().top() - dock.sections["inputs"].geometry().bottom()
    assert 0 < below <= 10, "the reading follows the band grid"
    dock.reading_panel.set_text("")
    assert dock.reading.isHidden() and dock.reading_panel.isHidden()


def test_after_a_run_the_results_stay_in_view_and_copy(qtbot, project, s2_layer, dock, controller):
    place(dock, qtbot)
    dock.s2_layer.setLayer(s2_layer)
    set_extent(dock)
    with qtbot.waitSignal(controller.estimateFinished, timeout=120_000) as finished:
        qtbot.mouseClick(dock.estimate_button, QtCore.Qt.MouseButton.LeftButton)
    assert finished.args == ["succeeded"], controller.last_error
    settle(qtbot)
    results = dock.results
    assert results.isVisible() and not results.isCollapsed()
    bottom = results.mapTo(dock.widget(), QtCore.QPoint(0, results.height())).y()
    assert bottom <= dock.widget().height(), "the results are below the fold"
    assert results.text.height() >= 3 * results.text.fontMetrics().lineSpacing()
    assert dock.sections["inputs"].isVisible()  # the settings are still there, above
    qtbot.mouseClick(results.copy_button, QtCore.Qt.MouseButton.LeftButton)
    copied = QtGui.QGuiApplication.clipboard().text()
    assert copied == results.plain_text()
    assert "Total AGB" in copied and str(controller.last_outcome.out) in copied
