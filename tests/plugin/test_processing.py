"""The Processing algorithm reo:estimate_agb: registered by the plugin, run by processing.run in
every call shape docs/plugin.md documents, and producing the same rasters as the dock."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from plugin_helpers import SCENE_CRS, SMALL_EXTENT, add_raster, s2_file, set_extent
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsSingleBandPseudoColorRenderer,
)

from reo_plugin import workers
from reo_plugin.processing_provider import ReoProvider
from reo_plugin.qt import QtCore


@pytest.fixture(scope="module")
def processing(qgis_app):
    """QGIS's Processing framework with REO's provider, as the plugin's initProcessing sets it up."""
    from processing.core.Processing import Processing

    Processing.initialize()
    provider = ReoProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    import processing as module

    yield module
    QgsApplication.processingRegistry().removeProvider(provider)


@pytest.fixture
def shared_real_pool(real_pool, monkeypatch):
    monkeypatch.setattr(workers, "_shared", real_pool)
    return real_pool


def read(path) -> tuple[np.ndarray, tuple, str]:
    dataset = gdal.Open(str(path))
    return dataset.ReadAsArray(), dataset.GetGeoTransform(), dataset.GetProjection()


def test_the_algorithm_is_registered(processing):
    algorithm = QgsApplication.processingRegistry().algorithmById("reo:estimate_agb")
    assert algorithm is not None
    assert algorithm.displayName() == "Estimate AGB and land cover"
    names = [p.name() for p in algorithm.parameterDefinitions()]
    assert names[:3] == ["SENTINEL2", "PALSAR2", "MODEL"]
    assert {"OUTPUT_AGB", "OUTPUT_LAND_COVER", "EXTENT", "STRIDE", "DEVICE"} <= set(names)


def test_processing_run_gives_the_same_rasters_as_the_dock(
    processing,
    shared_real_pool,
    project,
    scene,
    s2_layer,
    dock,
    controller,
    qtbot,
    tmp_path,
    model_dir,
):
    dock.s2_layer.setLayer(s2_layer)
    set_extent(dock)
    with qtbot.waitSignal(controller.estimateFinished, timeout=120_000) as finished:
        qtbot.mouseClick(dock.estimate_button, QtCore.Qt.MouseButton.LeftButton)
    assert finished.args == ["succeeded"], controller.last_error
    from_dock = controller.last_outcome.files

    extent = (
        f"{SMALL_EXTENT[0]},{SMALL_EXTENT[2]},{SMALL_EXTENT[1]},{SMALL_EXTENT[3]} [{SCENE_CRS}]"
    )
    result = processing.run("reo:estimate_agb", {
        "SENTINEL2": [str(s2_file(scene))], "MODEL": str(model_dir), "EXTENT": extent, "STRIDE": 25,
        "DEVICE": "cpu", "OUTPUT_AGB": str(tmp_path / "agb.tif"), "OUTPUT_LAND_COVER": str(tmp_path / "lc.tif"),
    })  # fmt: skip
    assert result["OUTPUT_AGB"] == str(tmp_path / "agb.tif")
    assert result["TOTAL_AGB_MG"] == pytest.approx(controller.last_outcome.total_agb_mg, rel=1e-6)
    for key, produced in (
        ("agb", result["OUTPUT_AGB"]),
        ("land_cover", result["OUTPUT_LAND_COVER"]),
    ):
        dock_values, dock_transform, dock_crs = read(from_dock[key])
        values, transform, crs = read(produced)
        assert transform == dock_transform and crs == dock_crs
        np.testing.assert_array_equal(values, dock_values)


def test_a_bad_model_folder_is_a_processing_error(processing, shared_real_pool, scene, tmp_path):
    with pytest.raises(QgsProcessingException, match="not a REO model folder"):
        processing.run("reo:estimate_agb", {
            "SENTINEL2": [str(s2_file(scene))], "MODEL": str(tmp_path), "OUTPUT_AGB": "TEMPORARY_OUTPUT",
            "OUTPUT_LAND_COVER": "TEMPORARY_OUTPUT",
        })  # fmt: skip


# -- every call shape of docs/plugin.md ------------------------------------------------------------

EXTENT_TEXT = (
    f"{SMALL_EXTENT[0]},{SMALL_EXTENT[2]},{SMALL_EXTENT[1]},{SMALL_EXTENT[3]} [{SCENE_CRS}]"
)
RESULT_KEYS = {"OUTPUT_AGB", "OUTPUT_LAND_COVER", "TOTAL_AGB_MG", "TOTAL_CARBON_MG", "MEAN_AGB",
               "SUMMARY", "FOLDER"}  # fmt: skip


def check_result(result: dict) -> dict:
    """The documented outputs are there and agree with each other; the summary as a dict."""
    assert set(result) >= RESULT_KEYS
    summary = json.loads(result["SUMMARY"])
    assert summary["patches"]["total"] == 4  # SMALL_EXTENT: 2 x 2 patches
    assert summary["patches"]["done"] >= 1
    assert result["TOTAL_AGB_MG"] == pytest.approx(summary["agb"]["total_mg"])
    assert result["TOTAL_CARBON_MG"] == pytest.approx(0.47 * result["TOTAL_AGB_MG"])
    assert 0 <= result["MEAN_AGB"] <= 500
    assert Path(result["FOLDER"]).is_dir()
    for key in ("OUTPUT_AGB", "OUTPUT_LAND_COVER"):
        dataset = gdal.Open(result[key])
        assert (dataset.RasterXSize, dataset.RasterYSize) == (2, 2)
    return summary


def test_the_documented_example_runs_as_written(processing, shared_real_pool, scene, tmp_path,
                                                model_dir):  # fmt: skip
    """docs/plugin.md's example: S2 and its SCL, no PALSAR-2, every parameter given."""
    scl = next((scene / "s2").glob("*_SCL.tif"))
    result = processing.run("reo:estimate_agb", {
        "SENTINEL2": [str(s2_file(scene)), str(scl)], "PALSAR2": [], "MODEL": str(model_dir),
        "EXTENT": EXTENT_TEXT, "STRIDE": 25, "DEVICE": "auto", "BATCH_SIZE": 32,
        "OUTPUT_AGB": str(tmp_path / "results" / "agb.tif"),
        "OUTPUT_LAND_COVER": str(tmp_path / "results" / "land_cover.tif"),
    })  # fmt: skip
    assert result["OUTPUT_AGB"] == str(tmp_path / "results" / "agb.tif")
    assert result["OUTPUT_LAND_COVER"] == str(tmp_path / "results" / "land_cover.tif")
    summary = check_result(result)
    skipped = summary["patches"]["skipped_by_reason"]
    assert skipped["cloud"] + skipped["shadow"] >= 1, "the SCL file in SENTINEL2 masks clouds"


def test_the_shortest_call_uses_the_demo_model_and_temporary_outputs(
    processing, shared_real_pool, scene
):
    """No MODEL (the documented default: the built-in demo model), no outputs: temporary files.
    QGIS 3.22 refused this call with "Incorrect parameter value for MODEL"."""
    result = processing.run(
        "reo:estimate_agb", {"SENTINEL2": [str(s2_file(scene))], "EXTENT": EXTENT_TEXT}
    )
    summary = check_result(result)
    assert summary["patches"]["done"] == 4  # no cloud mask given: every patch estimated
    from reo_plugin.locations import DEMO_MODEL_DIR

    assert Path(summary["model"]["folder"]).resolve() == DEMO_MODEL_DIR.resolve()
    temporary = Path(QgsProcessingUtils.tempFolder())
    assert Path(result["OUTPUT_AGB"]).is_relative_to(temporary)


def test_one_file_per_band_and_layers_as_inputs(processing, shared_real_pool, project,
                                                scene_per_band, tmp_path):  # fmt: skip
    """Per-band files, given as layers of the project (as the toolbox passes them)."""
    layers = [add_raster(project, path) for path in sorted((scene_per_band / "s2").glob("*.tif"))]
    result = processing.run("reo:estimate_agb", {
        "SENTINEL2": layers, "EXTENT": EXTENT_TEXT, "DEVICE": "cpu",
        "OUTPUT_AGB": str(tmp_path / "agb.tif"), "OUTPUT_LAND_COVER": "TEMPORARY_OUTPUT",
    })  # fmt: skip
    check_result(result)
    assert result["OUTPUT_AGB"] == str(tmp_path / "agb.tif")


def test_loaded_outputs_get_reo_styles(processing, shared_real_pool, project, scene, tmp_path):
    """runAndLoadResults: QGIS loads the outputs and REO's post-processor styles them."""
    processing.runAndLoadResults("reo:estimate_agb", {
        "SENTINEL2": [str(s2_file(scene))], "EXTENT": EXTENT_TEXT,
        "OUTPUT_AGB": str(tmp_path / "agb.tif"), "OUTPUT_LAND_COVER": str(tmp_path / "lc.tif"),
    })  # fmt: skip
    loaded = {Path(layer.source()).name: layer for layer in project.mapLayers().values()}
    assert isinstance(loaded["agb.tif"].renderer(), QgsSingleBandPseudoColorRenderer)
    assert loaded["agb.tif"].renderer().classificationMax() == 500.0


def test_palsar2_for_a_model_without_sar_says_what_to_change(processing, shared_real_pool, scene):
    sar = sorted(str(p) for p in (scene / "palsar2").glob("*.tif"))
    with pytest.raises(QgsProcessingException, match="reads no PALSAR-2"):
        processing.run("reo:estimate_agb", {"SENTINEL2": [str(s2_file(scene))], "PALSAR2": sar})


class CancelAtFirstProgress(QgsProcessingFeedback):
    """The user presses Cancel as soon as the first patches are done."""

    def setProgress(self, progress: float) -> None:
        super().setProgress(progress)
        if progress > 0:
            self.cancel()


def test_cancel_leaves_no_output_and_no_folder(processing, shared_real_pool, scene, qgis_app):
    from reo_plugin.estimate_algorithm import EstimateAgbAlgorithm

    temporary = Path(QgsProcessingUtils.tempFolder())
    before = set(temporary.glob("reo-*"))
    feedback = CancelAtFirstProgress()
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("reo:estimate_agb")
    assert isinstance(algorithm, EstimateAgbAlgorithm)
    result, ok = algorithm.run(
        {"SENTINEL2": [str(s2_file(scene))], "BATCH_SIZE": 2, "DEVICE": "cpu"},
        QgsProcessingContext(),
        feedback,
    )
    assert feedback.isCanceled()
    assert result == {} or not ok
    assert set(temporary.glob("reo-*")) == before, "a canceled run must leave no folder"
