"""The Processing algorithm reo:estimate_agb: registered by the plugin, run by processing.run, and
producing the same rasters as the dock."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal
from plugin_helpers import SCENE_CRS, SMALL_EXTENT, s2_file, set_extent
from qgis.core import QgsApplication, QgsProcessingException

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
