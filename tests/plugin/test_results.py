"""The plugin reads the worker's results with the protocol's own types, and only those shapes."""

from __future__ import annotations

import pytest

from reo_core import serve_protocol as protocol
from reo_core.typed_json import to_json
from reo_plugin.results import AskAnswer, EstimateOutcome


def estimate_result(out) -> dict:
    summary = {
        "patches": {"total": 4, "done": 3, "skipped": 1},
        "valid_area_ha": 18.75,
        "agb": {"unit": "Mg/ha", "mean": 100.0, "min": 50.0, "max": 150.0, "total_mg": 1875.0},
        "carbon": {"fraction": 0.47, "total_mg": 881.25},
        "land_cover_area_ha": {
            "112": {"name": "Closed forest, evergreen broad leaf", "patches": 2, "area_ha": 12.5},
            "40": {"name": "Cultivated and managed vegetation", "patches": 1, "area_ha": 6.25},
        },
        "files": {"agb": "agb.tif", "land_cover": "land_cover.tif"},
    }
    result = protocol.EstimateResult(
        out=str(out),
        paths={
            "agb": str(out / "agb.tif"),
            "land_cover": str(out / "land_cover.tif"),
            "summary": str(out / "summary.json"),
        },
        summary=summary,
    )
    return to_json(result)


def test_an_estimate_result_gives_its_layers_and_a_summary_line(tmp_path):
    outcome = EstimateOutcome.from_result(estimate_result(tmp_path), tmp_path)
    assert outcome.out == tmp_path
    assert outcome.files == {"agb": tmp_path / "agb.tif", "land_cover": tmp_path / "land_cover.tif"}
    assert outcome.summary_text() == (
        "Total AGB 1,875 Mg (carbon 881 Mg C) over 19 ha; mean 100.0 Mg/ha; "
        "land cover: Closed forest, evergreen broad leaf 67 %, "
        "Cultivated and managed vegetation 33 %."
    )


@pytest.mark.parametrize(
    "shape",
    [
        lambda out: {"agb": str(out / "agb.tif"), "land_cover": str(out / "land_cover.tif")},
        lambda out: {"out": str(out), "files": {"agb": "agb.tif"}, "summary": {}},
        lambda out: {**estimate_result(out), "outputs": {"agb": "agb.tif"}},
    ],
    ids=["flat keys", "files", "outputs"],
)
def test_results_of_other_shapes_are_refused(tmp_path, shape):
    with pytest.raises(protocol.ProtocolError):
        EstimateOutcome.from_result(shape(tmp_path), tmp_path)


def test_results_written_elsewhere_than_asked_are_refused(tmp_path):
    (tmp_path / "asked").mkdir()
    (tmp_path / "other").mkdir()
    with pytest.raises(protocol.ProtocolError, match=r"not into .*asked as asked"):
        EstimateOutcome.from_result(estimate_result(tmp_path / "other"), tmp_path / "asked")


def test_an_ask_result_becomes_an_answer():
    patch = {
        "row": 1,
        "col": 2,
        "bounds": [0, 0, 250, 250],
        "crs": "EPSG:32632",
        "valid_fraction": 1.0,
    }
    agb = {
        "question": "How much biomass?",
        "kind": "agb",
        "answer": "Above-ground biomass: 120.0 ± 5.0 Mg/ha.",
        "generated": "",
        "patch": patch,
        "agb": 120.0,
        "agb_std": 5.0,
        "unit": "Mg/ha",
        "land_cover": {"code": 112, "name": "Closed forest, evergreen broad leaf"},
    }
    answer = AskAnswer.from_result(agb)
    assert answer.agb_text == "120.0 ± 5.0 Mg/ha"
    assert answer.patch_bounds == (0.0, 0.0, 250.0, 250.0)
    assert answer.land_cover == "Closed forest, evergreen broad leaf"
    text_result = {"question": "What is here?", "kind": "text", "answer": " Forest. "}
    text = AskAnswer.from_result({**text_result, "generated": " Forest. ", "patch": patch})
    assert text.text == "Forest." and text.agb_text is None and text.land_cover is None
    with pytest.raises(protocol.ProtocolError, match='"patch" is required'):
        AskAnswer.from_result({"question": "q", "kind": "text", "answer": "a", "generated": "a"})
