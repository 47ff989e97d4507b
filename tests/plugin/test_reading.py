"""The plugin's words for the worker's input decision, and where a message's options are in the
dock and in Processing; the parameters the dock and Processing send. No QGIS window, no worker."""

from __future__ import annotations

import pytest

from reo_core.errors import InputError
from reo_plugin.option_hints import DOCK, PROCESSING, where_to_change, with_hint
from reo_plugin.parameters import InputParameters
from reo_plugin.reading import Reading, skipped_text

DECISION = {
    "product": "S2B_MSIL2A_20230615T101559_N0509_R065_T32TNN_20230615T130000",
    "layouts": ["product folder"],
    "level": {"value": "L2A", "source": "MTD", "detail": ".../MTD_MSIL2A.xml"},
    "boa_offset": {
        "value": 1000,
        "source": "MTD",
        "detail": "offset list of MTD_MSIL2A.xml",
        "data_check": {"bands": ["B02", "B04"], "pixels": 100, "verdict": "offset"},
    },
    "quantification": 10000.0,
    "units": {"/p/B02.tif": {"kind": "dn", "reason": "integer data (uint16): digital numbers"}},
    "clouds": {
        "kind": "scl",
        "detail": "scene classification SCL.tif",
        "path": "/p/SCL.tif",
        "mask_kind": "scl",
        "threshold": None,
    },
    "bands": {
        "B02": {"file": "/p/B02.tif", "band": 1, "identified_by": "file name", "read": True},
        "B01": {"file": "/p/B01.tif", "band": 1, "identified_by": "file name", "read": False},
    },
    "files_not_used": ["AOT.tif"],
    "warnings": ["Something to check (--boa-offset)."],
}


def test_the_decision_in_one_line_and_in_full():
    reading = Reading(DECISION, patches=16)
    assert reading.line() == (
        "L2A (MTD) · BOA offset 1000 DN (MTD) · clouds from the SCL · bands by file name · "
        "16 patches"
    )
    details = reading.details()
    for expected in (
        "Level: L2A — MTD: .../MTD_MSIL2A.xml",
        "BOA offset: 1000 DN — MTD: offset list of MTD_MSIL2A.xml",
        "data check on B02, B04 (100 pixels): offset",
        "B02: B02.tif band 1 (file name)",
        "Bands found, not read by this model: B01",
        "Files not used: AOT.tif",
        "  - Something to check (--boa-offset).",
    ):
        assert expected in details
    assert reading.marked_warnings() == ["⚠ Something to check (--boa-offset)."]


def test_float_values_and_an_unknown_level_are_said():
    decision = {
        **DECISION,
        "level": {"value": "unknown", "source": "nothing says; read as L2A"},
        "units": {"/p/x.tif": {"kind": "reflectance", "reason": "float data"}},
        "clouds": {"kind": "mask", "mask_kind": "probability", "detail": "..."},
    }
    line = Reading(decision).line()
    assert line.startswith("level unknown (read as L2A) · BOA offset 1000 DN (MTD) · ")
    assert "values: reflectance" in line and "clouds from the probability mask" in line


def test_skipped_patches_by_reason():
    reasons = {"no_data": 4, "cloud": 8, "shadow": 1, "outside_area": 0}
    assert skipped_text(reasons) == "4 no data, 8 cloud, 1 shadow"
    assert skipped_text({}) == "" and skipped_text(None) == ""


def test_the_options_a_message_names_are_found_in_the_dock_and_in_processing():
    message = "Say which order it is in (--band-order agbd|l1c|eurosat) or map them (--band B02=F)."
    assert where_to_change(message, DOCK) == (
        "In the dock: Inputs ▸ Band order (--band-order); the band grid under Inputs (any layer "
        "and band for each band) (--band)."
    )
    assert where_to_change("run anyway with --allow-l1c", PROCESSING) == (
        "In Processing: ALLOW_L1C (--allow-l1c)."
    )
    assert with_hint("Nothing to change.", DOCK) == "Nothing to change."
    assert where_to_change("use --unknown-flag", DOCK) == ""


def test_the_input_parameters_become_the_protocol_fields():
    inputs = InputParameters(
        s2=("/p/B02.tif",),
        band_mapping={"B04": ("/p/red.tif", 1)},
        band_order="eurosat",
        boa_offset="1000",
        allow_l1c=True,
        cloud_mask="/p/prob.tif",
        cloud_mask_kind="probability",
        cloud_threshold=30,
    )
    assert inputs.request_fields() == {
        "s2": ["/p/B02.tif"],
        "band_mapping": {"B04": ["/p/red.tif", 1]},
        "band_order": "eurosat",
        "boa_offset": 1000,
        "allow_l1c": True,
        "cloud_mask": "/p/prob.tif",
        "cloud_mask_kind": "probability",
        "cloud_threshold": 30.0,
    }
    plain = InputParameters(s2=("/p/s2.tif",)).request_fields()
    assert plain == {"s2": ["/p/s2.tif"], "boa_offset": "auto", "allow_l1c": False}


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("boa_offset", "500", "auto, 0, 1000"),
        ("cloud_mask_kind", "s2cloudless", "scl, fmask"),
        ("band_order", "rgb", "agbd, l1c, eurosat"),
    ],
)
def test_a_bad_choice_names_the_allowed_values(field, value, allowed):
    with pytest.raises(InputError, match=f"must be one of {allowed}.*; got '{value}'"):
        InputParameters(s2=("/p/s2.tif",), **{field: value})
