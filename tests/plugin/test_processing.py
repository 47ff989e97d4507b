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
    QgsProcessingParameterDefinition,
    QgsProcessingUtils,
    QgsSingleBandPseudoColorRenderer,
)

from reo_plugin import workers
from reo_plugin.processing_provider import ReoProvider
from reo_plugin.qt import QtCore


@pytest.fixture(scope="module")
def processing(qgis_app):
    """QGIS's Processing framework with REO's provider, as the plugin's initProcessing sets it
    up."""
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
    reading = {
        "CLOUD_MASK",
        "CLOUD_MASK_KIND",
        "CLOUD_THRESHOLD",
        "BAND_ORDER",
        "BANDS",
        "BOA_OFFSET",
        "ALLOW_L1C",
    }
    assert reading <= set(names)
    optional = QgsProcessingParameterDefinition.Flag.FlagOptional
    for name in reading:  # all optional: the shortest call stays valid
        assert algorithm.parameterDefinition(name).flags() & optional, name


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
    result = processing.run(
        "reo:estimate_agb",
        {
            "SENTINEL2": [str(s2_file(scene))],
            "MODEL": str(model_dir),
            "EXTENT": extent,
            "STRIDE": 25,
            "DEVICE": "cpu",
            "OUTPUT_AGB": str(tmp_path / "agb.tif"),
            "OUTPUT_LAND_COVER": str(tmp_path / "lc.tif"),
        },
    )
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
        processing.run(
            "reo:estimate_agb",
            {
                "SENTINEL2": [str(s2_file(scene))],
                "MODEL": str(tmp_path),
                "OUTPUT_AGB": "TEMPORARY_OUTPUT",
                "OUTPUT_LAND_COVER": "TEMPORARY_OUTPUT",
            },
        )


# -- every call shape of docs/plugin.md ------------------------------------------------------------

EXTENT_TEXT = (
    f"{SMALL_EXTENT[0]},{SMALL_EXTENT[2]},{SMALL_EXTENT[1]},{SMALL_EXTENT[3]} [{SCENE_CRS}]"
)
RESULT_KEYS = {
    "OUTPUT_AGB",
    "OUTPUT_LAND_COVER",
    "TOTAL_AGB_MG",
    "TOTAL_CARBON_MG",
    "MEAN_AGB",
    "SUMMARY",
    "FOLDER",
}


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


def test_the_documented_example_runs_as_written(
    processing, shared_real_pool, scene, tmp_path, model_dir
):
    """docs/plugin.md's example: S2 and its SCL, no PALSAR-2, every parameter given."""
    scl = next((scene / "s2").glob("*_SCL.tif"))
    result = processing.run(
        "reo:estimate_agb",
        {
            "SENTINEL2": [str(s2_file(scene)), str(scl)],
            "PALSAR2": [],
            "MODEL": str(model_dir),
            "EXTENT": EXTENT_TEXT,
            "STRIDE": 25,
            "DEVICE": "auto",
            "BATCH_SIZE": 32,
            "OUTPUT_AGB": str(tmp_path / "results" / "agb.tif"),
            "OUTPUT_LAND_COVER": str(tmp_path / "results" / "land_cover.tif"),
        },
    )
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


def test_one_file_per_band_and_layers_as_inputs(
    processing, shared_real_pool, project, scene_per_band, tmp_path
):
    """Per-band files, given as layers of the project (as the toolbox passes them)."""
    layers = [add_raster(project, path) for path in sorted((scene_per_band / "s2").glob("*.tif"))]
    result = processing.run(
        "reo:estimate_agb",
        {
            "SENTINEL2": layers,
            "EXTENT": EXTENT_TEXT,
            "DEVICE": "cpu",
            "OUTPUT_AGB": str(tmp_path / "agb.tif"),
            "OUTPUT_LAND_COVER": "TEMPORARY_OUTPUT",
        },
    )
    check_result(result)
    assert result["OUTPUT_AGB"] == str(tmp_path / "agb.tif")


def test_loaded_outputs_get_reo_styles(processing, shared_real_pool, project, scene, tmp_path):
    """runAndLoadResults: QGIS loads the outputs and REO's post-processor styles them."""
    processing.runAndLoadResults(
        "reo:estimate_agb",
        {
            "SENTINEL2": [str(s2_file(scene))],
            "EXTENT": EXTENT_TEXT,
            "OUTPUT_AGB": str(tmp_path / "agb.tif"),
            "OUTPUT_LAND_COVER": str(tmp_path / "lc.tif"),
        },
    )
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


# -- how the input is read: the same overrides as the dock -----------------------------------------


def unnamed_copy(stack: Path, target: Path) -> Path:
    """The stack as an export without band names or metadata (e.g. Google Earth Engine's S2_SR)."""
    import rasterio

    with rasterio.open(stack) as src:
        profile, data = src.profile, src.read()
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(data)
    return target


def half_cloudy_probability(stack: Path, target: Path) -> Path:
    """A cloud probability raster (0-100) on the stack's grid: 90 west of the small extent's
    middle, 5 east of it."""
    import rasterio

    with rasterio.open(stack) as src:
        profile = {**src.profile, "count": 1, "dtype": "uint8", "nodata": 255}
        columns = np.arange(src.width)[None, :] * src.transform.a + src.transform.c
        rows = np.ones((src.height, 1))
    middle = (SMALL_EXTENT[0] + SMALL_EXTENT[2]) / 2
    values = np.where(rows * columns < middle, 90, 5).astype(np.uint8)
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(values, 1)
    return target


def test_the_documented_reading_overrides_run_as_written(
    processing, shared_real_pool, scene, tmp_path
):
    """docs/plugin.md's second example: a cloud mask with its kind, the BOA offset, Level-1C."""
    scl = next((scene / "s2").glob("*_SCL.tif"))
    result = processing.run(
        "reo:estimate_agb",
        {
            "SENTINEL2": [str(s2_file(scene))],
            "EXTENT": EXTENT_TEXT,
            "CLOUD_MASK": str(scl),
            "CLOUD_MASK_KIND": "scl",
            "BOA_OFFSET": "1000",
            "ALLOW_L1C": False,
        },
    )
    summary = check_result(result)
    decision = summary["inputs"]["sentinel2"]
    assert (decision["boa_offset"]["value"], decision["boa_offset"]["source"]) == (1000, "user")
    assert decision["clouds"]["kind"] == "mask" and decision["clouds"]["mask_kind"] == "scl"
    skipped = summary["patches"]["skipped_by_reason"]
    assert skipped["cloud"] + skipped["shadow"] >= 1


def test_a_probability_mask_with_its_threshold(processing, shared_real_pool, scene, tmp_path):
    mask = half_cloudy_probability(s2_file(scene), tmp_path / "cloud_probability.tif")
    result = processing.run(
        "reo:estimate_agb",
        {
            "SENTINEL2": [str(s2_file(scene))],
            "EXTENT": EXTENT_TEXT,
            "CLOUD_MASK": str(mask),
            "CLOUD_MASK_KIND": "probability",
            "CLOUD_THRESHOLD": 50,
        },
    )
    summary = check_result(result)
    assert summary["inputs"]["sentinel2"]["clouds"]["threshold"] == 50
    assert summary["patches"]["skipped_by_reason"]["cloud"] == 2  # the western half
    assert summary["patches"]["done"] == 2


def test_an_unnamed_stack_needs_its_band_order(processing, shared_real_pool, scene, tmp_path):
    stack = unnamed_copy(s2_file(scene), tmp_path / "gee_export.tif")
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("reo:estimate_agb", {"SENTINEL2": [str(stack)], "EXTENT": EXTENT_TEXT})
    assert "12 bands without band names" in str(refused.value)
    assert "In Processing: BAND_ORDER (--band-order)" in str(refused.value)
    result = processing.run(
        "reo:estimate_agb",
        {"SENTINEL2": [str(stack)], "EXTENT": EXTENT_TEXT, "BAND_ORDER": "agbd"},
    )
    bands = check_result(result)["inputs"]["sentinel2"]["bands"]
    assert bands["B8A"] == {
        "file": str(stack),
        "band": 9,
        "identified_by": "band order 'agbd'",
        "read": True,
    }


def test_band_mapping_names_every_band_of_an_unnamed_stack(
    processing, shared_real_pool, scene, tmp_path
):
    """BANDS, parsed as the command line's --band: the stack's bands named one by one (no SENTINEL2
    layer needed), with the same values as the band order that means the same thing."""
    from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER

    stack = unnamed_copy(s2_file(scene), tmp_path / "gee_export.tif")
    lines = [f"{band}={stack}:{index}" for index, band in enumerate(AGBD_BAND_ORDER, start=1)]
    text = ";".join(lines[:6]) + "\n" + "\n".join(lines[6:])
    mapped = processing.run("reo:estimate_agb", {"BANDS": text, "EXTENT": EXTENT_TEXT})
    bands = check_result(mapped)["inputs"]["sentinel2"]["bands"]
    assert bands["B8A"] == {
        "file": str(stack),
        "band": 9,
        "identified_by": "band mapping",
        "read": True,
    }
    ordered = processing.run(
        "reo:estimate_agb",
        {"SENTINEL2": [str(stack)], "EXTENT": EXTENT_TEXT, "BAND_ORDER": "agbd"},
    )
    assert read(mapped["OUTPUT_AGB"])[0].tolist() == read(ordered["OUTPUT_AGB"])[0].tolist()


def test_a_malformed_band_mapping_or_none_at_all_says_what_to_give(processing, scene):
    with pytest.raises(QgsProcessingException, match="BANDS 'B02' is not BAND=FILE"):
        processing.run("reo:estimate_agb", {"BANDS": "B02", "SENTINEL2": [str(s2_file(scene))]})
    with pytest.raises(QgsProcessingException, match="gives B02 twice"):
        processing.run("reo:estimate_agb", {"BANDS": "B02=a.tif;B02=b.tif"})
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("reo:estimate_agb", {})
    assert "Sentinel-2" in str(refused.value)


def test_a_level_1c_product_is_refused_unless_allowed(
    processing, shared_real_pool, project, tmp_path
):
    from s2_products import product_name, reflectance, write_band_folder

    from reo_core.sensors.sentinel2 import L1C_BAND_ORDER

    folder = write_band_folder(
        tmp_path / product_name("L1C", "N0509"), reflectance(), 1000, names=L1C_BAND_ORDER
    )
    files = [str(path) for path in sorted(folder.glob("B*.tif"))]
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("reo:estimate_agb", {"SENTINEL2": files})
    assert "Level-1C product" in str(refused.value)
    assert "In Processing: ALLOW_L1C (--allow-l1c)" in str(refused.value)
    feedback = Recorder()
    result = processing.run(
        "reo:estimate_agb", {"SENTINEL2": files, "ALLOW_L1C": True}, feedback=feedback
    )
    decision = json.loads(result["SUMMARY"])["inputs"]["sentinel2"]
    assert decision["level"]["value"] == "L1C"
    assert any("Level-1C input read as if it were Level-2A" in w for w in decision["warnings"])
    assert any("Level-1C input read" in text for text in feedback.warnings)  # in the log too
    assert any(text.startswith("How REO read the input: L1C") for text in feedback.infos)


def test_a_number_for_an_enum_is_refused_not_read_as_an_index(processing, scene):
    """BOA_OFFSET takes "0", "1000" or "auto": 0 could otherwise mean the first option."""
    with pytest.raises(QgsProcessingException, match="BOA_OFFSET"):
        processing.run("reo:estimate_agb", {"SENTINEL2": [str(s2_file(scene))], "BOA_OFFSET": 0})


class Recorder(QgsProcessingFeedback):
    """Keeps what the algorithm logs."""

    def __init__(self) -> None:
        super().__init__()
        self.infos: list[str] = []
        self.warnings: list[str] = []

    def pushInfo(self, text: str) -> None:
        super().pushInfo(text)
        self.infos.append(text)

    def pushWarning(self, text: str) -> None:
        super().pushWarning(text)
        self.warnings.append(text)
