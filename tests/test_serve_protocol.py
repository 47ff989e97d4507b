"""The worker protocol, defined once (reo_core.serve_protocol): lines both ways, checked field by
field."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reo_core import serve_protocol as protocol
from reo_core.errors import InputError
from reo_core.typed_json import field_names

REPO_ROOT = Path(__file__).resolve().parents[1]

ESTIMATE = {
    "s2": ["/data/s2.tif"],
    "out": "/tmp/e",
    "extent": {"bounds": [1, 2, 3, 4], "crs": "EPSG:4326"},
    "stride": 25,
    "batch_size": 8,
    "model": "/models/demo",
}


def strict(line: str):
    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name} in {line!r}")

    return json.loads(line, parse_constant=refuse)


def test_a_request_line_parses_back_into_the_same_typed_request():
    line = protocol.request_line("r1", "estimate", ESTIMATE)
    request = protocol.parse_request(line)
    assert request.id == "r1" and request.op == "estimate"
    body = request.body
    assert isinstance(body, protocol.Estimate)
    assert body.s2 == ("/data/s2.tif",) and body.extent.bounds == (1.0, 2.0, 3.0, 4.0)
    assert body.batch_size == 8 and body.quicklook is True and body.carbon_fraction is None
    assert protocol.parse_request(line.encode("utf-8")) == request  # bytes as read from stdin


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({**ESTIMATE, "strde": 5}, 'Unknown field "strde"; the fields are model, device'),
        ({**ESTIMATE, "s2": "/data/s2.tif"}, '"s2" must be a list of strings, got "/data/s2.tif".'),
        ({**ESTIMATE, "stride": "25"}, '"stride" must be an integer or null, got "25".'),
        ({**ESTIMATE, "stride": 2.5}, '"stride" must be an integer or null, got 2.5.'),
        ({**ESTIMATE, "quicklook": 1}, '"quicklook" must be true or false, got 1.'),
        ({k: v for k, v in ESTIMATE.items() if k != "out"}, '"out" is required (a string).'),
        (
            {**ESTIMATE, "extent": {"bounds": [1, 2, 3], "crs": "EPSG:4326"}},
            '"extent.bounds" must be a list of 4 numbers, got [1, 2, 3].',
        ),
        ({**ESTIMATE, "extent": {"bounds": [1, 2, 3, 4]}}, '"extent.crs" is required (a string).'),
        ({**ESTIMATE, "s2": []}, '"s2" is required (a list of strings) unless "band_mapping"'),
        (
            {**ESTIMATE, "band_mapping": {"B8A": 5}},
            '"band_mapping.B8A" must be a string or a list of 2 values, got 5.',
        ),
        ({**ESTIMATE, "boa_offset": "yes"}, '"boa_offset" must be "auto", 0 or 1000, got "yes".'),
    ],
)
def test_a_field_that_does_not_fit_is_refused_naming_it(fields, message):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.request_line(7, "estimate", fields)
    assert message in caught.value.message
    line = json.dumps({"id": 7, "op": "estimate", **fields})
    with pytest.raises(protocol.ProtocolError) as caught:  # the worker says the same
        protocol.parse_request(line)
    assert message in caught.value.message and caught.value.request_id == 7


def test_band_mapping_names_a_file_or_a_file_and_band():
    fields = {"s2": [], "out": "/o", "band_mapping": {"B8A": "b8a.tif", "B02": ["stack.tif", 2]}}
    body = protocol.parse_request(protocol.request_line(1, "estimate", fields)).body
    assert body.band_mapping == {"B8A": "b8a.tif", "B02": ("stack.tif", 2)}


@pytest.mark.parametrize(
    ("line", "message", "request_id"),
    [
        (
            b'{"id": 1, "op": "info", "x": "\xff"}',
            "not UTF-8 text (byte 0xff at position 30)",
            None,
        ),
        ("[" * 100_000, "nested too deeply", None),
        ('{"id": NaN, "op": "info"}', "not valid JSON (NaN is not a JSON number)", None),
        ('{"id": 1e999, "op": "info"}', 'needs an "id"', None),
        ('{"id": true, "op": "info"}', 'needs an "id"', None),
        ('{"id": 3, "op": ["info"]}', "Unknown op ['info']", 3),
        (
            '{"id": 4, "op": "cancel", "target": [1]}',
            '"target" must be a string or an integer or a number',
            4,
        ),
        ('{"id": 5, "op": "cancel", "target": {"id": 1}}', '"target" must be', 5),
        ("[1, 2]", "must be a JSON object, got list", None),
        ('{"id": 6, "op": "estimate"' + ', "s2": ["a"]' * 2 + "}", '"out" is required', 6),
    ],
)
def test_hostile_lines_are_protocol_errors_that_keep_a_readable_id(line, message, request_id):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_request(line)
    assert message in caught.value.message
    assert caught.value.request_id == request_id
    reply = strict(protocol.reply_line(protocol.error_reply(caught.value.request_id, caught.value)))
    assert reply["type"] == "error" and reply["error"]["kind"] == "ProtocolError"


def test_replies_are_strict_json_and_read_back_into_their_types():
    progress = protocol.reply_line(protocol.Progress("r1", math.nan, "starting"))
    assert strict(progress) == {
        "id": "r1",
        "type": "progress",
        "fraction": None,
        "message": "starting",
    }
    info = protocol.ModelInfo(
        folder="/m",
        modality="ms",
        bands=("B02", "B03"),
        uncertainty="none",
        visual_token_pool=1,
        device="cpu",
        dtype="float32",
    )
    line = protocol.reply_line(protocol.result_of("r2", protocol.LoadModel(model="/m"), info))
    reply = protocol.parse_reply(line)
    assert isinstance(reply, protocol.Result)
    assert protocol.decode_result("load_model", reply.result) == info
    error = protocol.parse_reply(
        protocol.reply_line(protocol.error_reply(9, InputError("fix it", "why")))
    )
    assert error == protocol.ErrorReply(9, protocol.ErrorInfo("InputError", "fix it", "why"))
    ready = protocol.parse_reply(
        protocol.reply_line(protocol.Ready("1.0", protocol.PROTOCOL_VERSION, 42))
    )
    assert ready == protocol.Ready("1.0", protocol.PROTOCOL_VERSION, 42)


def test_a_result_of_another_shape_is_refused():
    shapes = [
        {"out": "/o", "paths": {"agb": "/o/agb.tif"}, "summary": {}, "files": {"agb": "agb.tif"}},
        {"out": "/o", "agb": "/o/agb.tif"},
        {"out": "/o", "paths": {"agb": 3}, "summary": {}},
    ]
    for shape in shapes:
        with pytest.raises(protocol.ProtocolError):
            protocol.decode_result("estimate", shape)
    with pytest.raises(ValueError, match='"shutdown" must be true or false'):  # a worker bug
        protocol.result_of(1, protocol.Shutdown(), {"shutdown": "yes"})


def test_every_op_and_field_is_documented_in_serve_md():
    text = (REPO_ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^### |^## |\Z)", text, re.M | re.S))
    assert set(sections) == set(protocol.OPS)
    for op, cls in protocol.REQUEST_TYPES.items():
        for name in field_names(cls):
            documented = (
                f"`{name}`" in sections[op]
                or (issubclass(cls, protocol.Imagery) and f"`{name}`" in sections["estimate"])
                or (
                    issubclass(cls, protocol.ModelOptions) and f"`{name}`" in sections["load_model"]
                )
            )
            assert documented, f"docs/serve.md does not describe {op}'s field {name!r}"
        for result in dataclasses.fields(cls.result):
            assert f"`{result.name}`" in text, (
                f"docs/serve.md lacks {cls.result.__name__}.{result.name}"
            )
    assert f"`protocol` ({protocol.PROTOCOL_VERSION})" in text


def test_the_protocol_loads_neither_torch_nor_gdal():
    code = "import json, sys, reo_core.serve_protocol; print(json.dumps(list(sys.modules)))"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    loaded = {name.split(".")[0] for name in json.loads(run.stdout)}
    assert not {"torch", "rasterio", "numpy", "osgeo"} & loaded


def python_39() -> str | None:
    """A Python 3.9 that runs (pyenv's shims exist even when the version is not selected)."""
    candidates = [
        *map(str, Path.home().glob(".pyenv/versions/3.9*/bin/python3.9")),
        shutil.which("python3.9"),
    ]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    return None


PYTHON_39 = python_39()


@pytest.mark.skipif(PYTHON_39 is None, reason="no Python 3.9 here")
def test_the_plugin_side_of_the_protocol_runs_on_python_3_9():
    """QGIS 3.22 to 3.28 on Windows and macOS bring Python 3.9, and the plugin imports this."""
    code = (
        "from reo_core import serve_protocol as p\n"
        "line = p.request_line('r1', 'estimate', {'s2': ['a.tif'], 'out': '/o', 'stride': 5})\n"
        "assert p.parse_request(line).body.stride == 5\n"
        'try:\n    p.parse_request(\'{"id": 1, "op": "estimate", "s2": ["a"]}\')\n'
        "except p.ProtocolError as error:\n    print(error.message)\n"
    )
    run = subprocess.run([PYTHON_39, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == '"out" is required (a string).\n'
