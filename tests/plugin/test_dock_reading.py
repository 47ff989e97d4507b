"""The dock's "How REO reads this": the worker's decision on the dock's inputs, shown before
the run, in a real QGIS with the real worker (``inspect``), on products laid out as users download
them: a per-band product folder, a stack with band names, an unnamed stack in EuroSAT's order (a
Level-1C product), and the dock's overrides of how an input is read."""

from __future__ import annotations

import json

import numpy as np
import pytest
from plugin_helpers import add_raster, s2_file
from s2_products import product_name, reflectance, to_dn, write_band_folder, write_stack

from reo_core import serve_protocol as protocol
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER, EUROSAT_BAND_ORDER
from reo_plugin.parameters import InspectParameters
from reo_plugin.qt import QtCore

INSPECT_TIMEOUT_MS = 90_000  # the first inspection starts the worker


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, QtCore.Qt.MouseButton.LeftButton)


def wait_for_reading(qtbot, dock, expected: str) -> str:
    """Wait until the reading panel shows ``expected``; everything it shows."""
    qtbot.waitUntil(lambda: expected in dock.reading_panel.text(), timeout=INSPECT_TIMEOUT_MS)
    return dock.reading_panel.text()


def read_band_files(qtbot, project, dock, paths) -> str:
    """Add one layer per band file, detect in 'Layer per band' mode; the reading shown for L2A."""
    for path in sorted(paths):
        add_raster(project, path, path.stem)
    dock.per_band_radio.setChecked(True)
    click(qtbot, dock.detect_button)
    return wait_for_reading(qtbot, dock, "How REO reads this: L2A")


def choose(combo, value) -> None:
    combo.setCurrentIndex(combo.findData(value))


@pytest.fixture(scope="module")
def band_folder(tmp_path_factory):
    """A Major-TOM / STAC-style L2A product folder of B01.tif ... B12.tif (baseline 05.09)."""
    root = tmp_path_factory.mktemp("band-folder")
    return write_band_folder(root / product_name("L2A", "N0509"), reflectance(), offset=1000)


@pytest.fixture(scope="module")
def eurosat_stack(tmp_path_factory):
    """An unnamed 13-band stack in EuroSAT-MS's order (B8A last): a Level-1C product."""
    bands = reflectance()
    path = tmp_path_factory.mktemp("eurosat") / "Forest_1.tif"
    return write_stack(path, [to_dn(bands[b], 0) for b in EUROSAT_BAND_ORDER])


@pytest.fixture
def shown(dock, controller, qtbot):
    """The dock, shown (a hidden dock asks the worker nothing), wired to the real worker."""
    dock.resize(420, 560)
    dock.show()
    return dock


def test_a_per_band_product_folder_is_read_as_the_worker_decides_before_the_run(
    qtbot, project, band_folder, shown
):
    text = read_band_files(qtbot, project, shown, band_folder.glob("B*.tif"))
    assert "L2A (product name)" in text
    assert "BOA offset 1000 DN (product name)" in text  # the folder's name: baseline 05.09
    assert "bands by file name" in text and "16 patches" in text
    assert "⚠" not in text and shown.reading_panel.issues.isHidden()
    details = shown.reading.toolTip()
    assert "data check on B02, B04, B11, B12" in details and ": offset" in details
    assert "B8A: B8A.tif band 1 (file name)" in details
    assert not shown.reading_panel.details_button.isHidden()


def test_a_named_stack_fills_the_band_grid_from_the_decision(qtbot, project, scene, shown):
    layer = add_raster(project, s2_file(scene), "Sentinel-2")
    shown.s2_layer.setLayer(layer)
    text = wait_for_reading(qtbot, shown, "How REO reads this:")
    text = wait_for_reading(qtbot, shown, "bands by band description")
    assert "BOA offset 1000 DN (GDAL metadata)" in text
    assert "100 patches" in text  # 10 x 10 lattice cells over 2.5 km
    mapping = shown.band_table.mapping()
    assert mapping["B8A"][1] == 9 and mapping["B12"][1] == 12  # as the worker found them
    assert shown.band_order.isHidden()  # the bands have names: no order to choose
    assert shown.read_inputs().request_fields()["s2"] == [str(s2_file(scene).resolve())]


def test_an_unnamed_l1c_stack_shows_what_to_change_then_the_warning(
    qtbot, project, eurosat_stack, shown, controller
):
    shown.s2_layer.setLayer(add_raster(project, eurosat_stack, "EuroSAT"))
    assert shown.band_table.mapping() == {}  # no names, no order: REO does not guess
    assert not shown.band_order.isHidden()
    text = wait_for_reading(qtbot, shown, "13 bands without band names")
    assert "In the dock: Inputs ▸ Band order (--band-order)" in text
    assert "How REO reads this" not in text

    choose(shown.band_order.combo, "eurosat")
    assert shown.band_table.mapping()["B8A"][1] == 13  # the order's own place for B8A
    text = wait_for_reading(qtbot, shown, "Level-1C")
    assert "top-of-atmosphere" in text
    assert "In the dock: Advanced ▸ Allow Level-1C (--allow-l1c)" in text
    # The estimate is refused at once, with the same words: no model is loaded for nothing.
    click(qtbot, shown.estimate_button)
    assert "Level-1C" in shown.status.text() and controller.estimate_task is None

    shown.allow_l1c.setChecked(True)
    text = wait_for_reading(qtbot, shown, "How REO reads this: L1C")
    assert "bands by band order 'eurosat'" in text
    assert "⚠ Level-1C input read as if it were Level-2A" in text
    assert not shown.reading_panel.issues.isHidden()
    request = shown.read_inputs().request_fields()
    assert request["band_order"] == "eurosat" and request["allow_l1c"] is True


def test_the_overrides_reach_the_request_and_the_worker(qtbot, project, scene, shown, tmp_path):
    stack = add_raster(project, s2_file(scene), "Sentinel-2")
    probability = tmp_path / "cloud_probability.tif"
    write_stack(probability, [np.full((250, 250), 10, np.uint8)], dtype="uint8")
    mask = add_raster(project, probability, "s2cloudless")
    shown.s2_layer.setLayer(stack)
    shown.cloud_mask.layer.setLayer(mask)
    shown.cloud_mask.set_kind("probability")
    assert not shown.cloud_mask.threshold.isHidden()
    shown.cloud_mask.threshold.setValue(30)
    choose(shown.boa_offset, "0")

    parameters = shown.read_estimate_parameters()
    fields = parameters.request_fields()
    assert fields["boa_offset"] == 0 and fields["allow_l1c"] is False
    assert fields["cloud_mask"] == str(probability.resolve())
    assert (fields["cloud_mask_kind"], fields["cloud_threshold"]) == ("probability", 30.0)
    # The same inputs go into the inspection, and both lines are valid protocol requests.
    inspect_fields = InspectParameters.of_estimate(parameters).request_fields()
    assert {k: v for k, v in inspect_fields.items() if k in fields} == {
        k: v for k, v in fields.items() if k not in ("out", "batch_size")
    }
    for op, values in (("estimate", fields), ("inspect", inspect_fields)):
        assert json.loads(protocol.request_line(1, op, values))["boa_offset"] == 0

    text = wait_for_reading(qtbot, shown, "BOA offset 0 DN (user)")
    assert "clouds from the probability mask" in text
    assert "probability mask cloud_probability.tif, cloudy at >= 30" in shown.reading.toolTip()
    # The data carry the offset: the worker keeps the user's 0 and warns, visibly in the dock.
    warning = next(line for line in text.splitlines() if line.startswith("⚠"))
    assert "Kept as you asked" in warning
    assert not shown.reading_panel.issues.isHidden()


def test_a_hidden_dock_asks_nothing_until_it_is_shown(qtbot, project, scene, dock, controller):
    asked = []
    dock.inspectRequested.connect(asked.append)
    dock.s2_layer.setLayer(add_raster(project, s2_file(scene), "Sentinel-2"))
    qtbot.wait(600)  # longer than the inspection's delay
    assert asked == [] and controller.inspect_task is None
    with qtbot.waitSignal(dock.inspectRequested, timeout=5_000):
        dock.show()
    assert asked[-1].inputs.s2 == (str(s2_file(scene).resolve()),)


def test_band_order_follows_the_core_rule_for_unnamed_stacks(project, eurosat_stack, tmp_path):
    from reo_plugin.layers import bands_of_multiband

    twelve = write_stack(tmp_path / "gee.tif", [np.ones((10, 10))] * 12)
    for path, order, expected in (
        (eurosat_stack, None, {}),
        (twelve, None, {}),
        (twelve, "agbd", {b: i for i, b in enumerate(AGBD_BAND_ORDER, 1)}),
        (twelve, "eurosat", {}),  # 13 bands in that order, not 12
    ):
        assert bands_of_multiband(add_raster(project, path), order) == expected
    found = bands_of_multiband(add_raster(project, eurosat_stack), "eurosat")
    assert found["B8A"] == 13 and found["B11"] == 11 and "B10" not in found


def test_a_run_shows_skipped_patches_by_reason_and_the_warnings(
    qtbot, project, scene, shown, controller, qgis_iface
):
    """The SCL as the cloud mask skips cloudy patches; an offset of 0 forced on data that carry
    one is kept, with a warning: the Results section shows both, from summary.json."""
    from plugin_helpers import set_extent

    shown.s2_layer.setLayer(add_raster(project, s2_file(scene), "Sentinel-2"))
    shown.cloud_mask.layer.setLayer(add_raster(project, next((scene / "s2").glob("*_SCL.tif"))))
    shown.cloud_mask.set_kind("scl")
    choose(shown.boa_offset, "0")
    set_extent(shown)
    wait_for_reading(qtbot, shown, "clouds from the scl mask")
    with qtbot.waitSignal(controller.estimateFinished, timeout=120_000) as finished:
        click(qtbot, shown.estimate_button)
    assert finished.args == ["succeeded"], controller.last_error

    summary = controller.last_outcome.summary
    decision = summary["inputs"]["sentinel2"]
    assert (decision["boa_offset"]["value"], decision["boa_offset"]["source"]) == (0, "user")
    assert decision["clouds"]["kind"] == "mask" and decision["warnings"]
    skipped = summary["patches"]["skipped_by_reason"]
    assert skipped["cloud"] + skipped["shadow"] >= 1
    text = shown.results.plain_text()
    assert f"of {summary['patches']['total']} patches skipped: " in text
    assert f"{skipped['cloud']} cloud" in text
    assert "Input read as: L2A" in text and "BOA offset 0 DN (user)" in text
    assert any(line.startswith("⚠") and "Kept as you asked" in line for line in text.splitlines())
    assert "Kept as you asked" in shown.results.text.toPlainText()  # shown, not only copied


def test_an_inspection_waits_for_a_running_estimate(
    qtbot, project, scene, dock, qgis_iface, fake_pool
):
    """One job at a time: an inspection asked during a run is asked once the run has ended."""
    from plugin_helpers import set_extent

    from reo_plugin.controller import ReoController

    controller = ReoController(qgis_iface, dock, fake_pool("--delay", "0.3"))
    try:
        dock.show()
        dock.s2_layer.setLayer(add_raster(project, s2_file(scene), "Sentinel-2"))
        set_extent(dock)
        wait_for_reading(qtbot, dock, "How REO reads this: L2A")
        with qtbot.waitSignal(controller.estimateFinished, timeout=60_000) as finished:
            click(qtbot, dock.estimate_button)
            choose(dock.boa_offset, "1000")
            dock.request_inspection()
            assert controller.inspect_task is None  # waits for the estimate
            assert dock.reading_panel.text().endswith("asking the worker…")
        assert finished.args == ["succeeded"], controller.last_error
        wait_for_reading(qtbot, dock, "BOA offset 1000 DN (user)")
    finally:
        controller.unload()


def test_a_real_bigearthnet_product_is_read_before_the_run(
    qtbot, project, bigearthnet_patch, shown
):
    """A real Sentinel-2 L2A product of 2017, one GeoTIFF per band (../shared/data/real)."""
    text = read_band_files(qtbot, project, shown, bigearthnet_patch.glob("*_B*.tif"))
    assert "L2A (product name) · BOA offset 0 DN (acquisition date)" in text  # before 2022
    assert "clouds by REO's screening · bands by file name" in text and "⚠" not in text
    details = shown.reading.toolTip()
    assert "data check on B02, B04, B11, B12" in details and "): no offset" in details
    assert "Values: dn (integer data (uint16): digital numbers) in all 12 files" in details
    assert "Product: S2A_MSIL2A_20170613T101031 (file)" in details


def test_a_worker_that_cannot_start_is_shown_but_does_not_refuse_the_inputs(
    qtbot, project, scene, dock, qgis_iface
):
    """The runtime may be fixed before the run (REO ▸ Runtime set-up): only the worker's refusal
    of the inputs themselves stops an estimate of the same inputs."""
    from reo_plugin.controller import ReoController
    from reo_plugin.worker_client import WorkerCommand
    from reo_plugin.workers import WorkerPool

    pool = WorkerPool(lambda: WorkerCommand("/opt/no-such-python/bin/python3"))
    controller = ReoController(qgis_iface, dock, pool)
    try:
        dock.show()
        dock.s2_layer.setLayer(add_raster(project, s2_file(scene), "Sentinel-2"))
        text = wait_for_reading(qtbot, dock, "does not exist")
        assert "Runtime set-up" in text
        assert dock.inspection_failed(dock.read_inspect_parameters()) is None
    finally:
        controller.unload()
