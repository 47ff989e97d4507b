"""python -m reo_core.serve: the JSON-lines worker keeps serving through bad requests and
cancels."""

from __future__ import annotations

import io
import json
import random
import shutil
import time

import psutil
import pytest
from infer_helpers import ServeClient, scene_s2
from rasters import s2_reflectance, write_s2_stack

from reo_core import serve
from reo_core import serve_protocol as protocol


@pytest.fixture(scope="module")
def server():
    client = ServeClient()
    _, ready = client.replies.get(timeout=60)
    client.ready = ready
    yield client
    assert client.close() == 0
    assert client.non_json == []  # nothing but protocol on stdout


def test_ready_then_info_and_no_network_port(server):
    assert server.ready["type"] == "ready" and server.ready["pid"] == server.process.pid
    assert server.ready["version"]
    server.send({"id": "i1", "op": "info"})
    info = server.final("i1")["result"]
    assert {"python", "torch", "cuda", "gpu", "device", "model_loaded"} <= set(info)
    assert info["device"] == "cpu" and info["model_loaded"] is False
    assert psutil.Process(server.process.pid).net_connections(kind="inet") == []


def test_bad_requests_get_error_replies_and_the_worker_keeps_serving(
    server, models, scene, tmp_path
):
    server.send("{not json")
    reply = server.final(None)
    assert (
        reply["error"]["kind"] == "ProtocolError" and "not valid JSON" in reply["error"]["message"]
    )
    server.send({"id": 2, "op": "fly"})
    assert "Unknown op 'fly'" in server.final(2)["error"]["message"]
    server.send({"id": 3, "op": "load_model", "model": str(tmp_path / "nowhere")})
    assert "does not exist" in server.final(3)["error"]["message"]
    server.send(
        {
            "id": 4,
            "op": "load_model",
            "model": str(models["ms"]),
            "device": "cpu",
            "max_new_tokens": 3,
        }
    )
    assert server.final(4)["result"]["modality"] == "ms"
    server.send(
        {
            "id": 5,
            "op": "estimate",
            "s2": [str(tmp_path / "missing_B04.tif")],
            "out": str(tmp_path / "o5"),
        }
    )
    missing = server.final(5)["error"]
    assert missing["kind"] == "InputError" and "does not exist" in missing["message"]
    rgb_only = write_s2_stack(
        tmp_path / "rgb.tif",
        s2_reflectance(50, 50, bands=("B02", "B03", "B04")),
        descriptions=("B02", "B03", "B04"),
    )
    server.send({"id": 6, "op": "estimate", "s2": [str(rgb_only)], "out": str(tmp_path / "o6")})
    bands = server.final(6)["error"]
    assert (
        bands["kind"] == "InputError"
        and "B05" in bands["message"]
        and "'rgb' model" in bands["message"]
    )
    server.send(
        {
            "id": 7,
            "op": "ask",
            "s2": [str(p) for p in scene_s2(scene)],
            "point": [0, 45],
            "crs": "EPSG:4326",
            "question": "What is here?",
        }
    )
    assert server.final(7)["error"]["kind"] == "ExtentError"
    assert not (tmp_path / "o5").exists() or not any((tmp_path / "o5").iterdir())
    assert not any((tmp_path / "o6").glob("*.tif"))
    server.send({"id": 8, "op": "info"})
    assert server.final(8)["result"]["model_loaded"] is True
    assert server.process.poll() is None


def scene_estimate(request_id: str, scene, out, **fields) -> dict:
    """An ``estimate`` request over the whole synthetic scene into ``out``, with ``fields``."""
    s2 = [str(p) for p in scene_s2(scene)]
    return {"id": request_id, "op": "estimate", "s2": s2, "out": str(out), **fields}


def test_estimate_reports_progress_then_the_outputs(server, models, scene, tmp_path):
    out = tmp_path / "estimate"
    on_cpu = {"model": str(models["ms"]), "device": "cpu"}
    server.send(scene_estimate("e1", scene, out, **on_cpu, batch_size=8))
    replies = [reply for _, reply in server.until("e1")]
    progress = [r for r in replies if r["type"] == "progress" and r["id"] == "e1"]
    assert len(progress) >= 5
    fractions = [p["fraction"] for p in progress]
    assert fractions == sorted(fractions) and 0 < fractions[0] < 1 and fractions[-1] == 1.0
    result = replies[-1]["result"]
    assert result["summary"]["patches"]["total"] == 100  # 10 x 10 lattice cells over 2.5 km
    for path in result["paths"].values():
        assert (out / path.rsplit("/", 1)[-1]).is_file()
    assert json.loads((out / "summary.json").read_text())["patches"] == result["summary"]["patches"]
    again = scene_estimate("e2", scene, out)
    server.send(again)
    refused = server.final("e2")["error"]
    assert (
        refused["kind"] == "OutputError"
        and "holds the results of an earlier run" in refused["message"]
    )
    server.send({**again, "id": "e3", "overwrite": True})
    assert server.final("e3")["result"]["paths"] == result["paths"]


def test_inspect_says_how_the_inputs_are_read_without_running_the_model(server, scene, tmp_path):
    s2 = [str(p) for p in scene_s2(scene)]
    server.send({"id": "n1", "op": "inspect", "s2": s2, "boa_offset": 0, "cloud_screening": False})
    result = server.final("n1")["result"]
    decision = result["decision"]
    assert decision["boa_offset"]["value"] == 0 and decision["boa_offset"]["source"] == "user"
    assert "Kept as you asked" in decision["warnings"][0]  # the data carry the offset
    assert decision["clouds"]["kind"] == "scl" and decision["level"]["value"] == "L2A"
    assert result["grid"]["width"] == 10 and result["patches"] == 100
    server.send({"id": "n2", "op": "inspect", "s2": s2, "band_order": "random"})
    assert "Unknown band order 'random'" in server.final("n2")["error"]["message"]
    server.send({"id": "n3", "op": "inspect", "s2": s2, "boa_offset": "yes"})
    assert server.final("n3")["error"]["kind"] == "ProtocolError"


def test_cancel_stops_an_estimate_within_a_second_and_leaves_no_finished_output(
    server, models, scene, tmp_path
):
    out = tmp_path / "canceled"
    on_cpu = {"model": str(models["ms"]), "device": "cpu"}
    # 46 x 46 patches: minutes of work
    server.send(scene_estimate("long", scene, out, **on_cpu, stride=5, batch_size=4))
    while True:  # wait until it is predicting
        _, reply = server.replies.get(timeout=60)
        if (
            reply.get("id") == "long"
            and reply["type"] == "progress"
            and "predicted" in reply["message"]
        ):
            break
        assert reply.get("type") != "error", reply
    sent = server.send({"id": "c1", "op": "cancel", "target": "long"})
    replies = server.until("long", timeout=10)
    answered = [r for _, r in replies if r.get("id") == "c1"]
    assert answered and answered[0]["result"] == {"target": "long", "canceled": True}
    stopped_at, final = replies[-1]
    assert final["type"] == "error" and final["error"]["kind"] == "Canceled"
    assert stopped_at - sent < 1.0
    assert not list(out.glob("*.tif")) and not (out / "summary.json").exists()
    assert not (out / "quicklook.png").exists()
    server.send({"id": "after", "op": "info"})
    assert server.final("after")["type"] == "result"
    server.send({"id": "c2", "op": "cancel", "target": "long"})
    assert server.final("c2")["result"]["canceled"] is False  # nothing left to cancel


def test_shutdown_ends_the_worker():
    client = ServeClient()
    client.replies.get(timeout=60)
    started = time.monotonic()
    client.send({"id": "s", "op": "shutdown"})
    assert client.final("s")["result"] == {"shutdown": True}
    assert client.process.wait(timeout=10) == 0 and time.monotonic() - started < 10


def test_hostile_lines_get_error_replies_and_the_worker_keeps_serving(server):
    server.send(b'{"id": "u", "op": "info", "note": "\xff\xfe"}')
    assert "not UTF-8 text" in server.final(None)["error"]["message"]
    server.send("[" * 100_000)
    assert "nested too deeply" in server.final(None)["error"]["message"]
    server.send({"id": "c1", "op": "cancel", "target": [1, 2]})
    reply = server.final("c1")["error"]
    assert reply["kind"] == "ProtocolError" and '"target" must be a string' in reply["message"]
    server.send('{"id": NaN, "op": "info"}')  # never echoed: the reply's id is null, strict JSON
    reply = server.final(None)
    assert reply["id"] is None and "NaN is not a JSON number" in reply["error"]["message"]
    server.send({"id": "x", "op": "estimate", "s2": ["a.tif"], "out": "o", "strde": 5})
    assert 'Unknown field "strde"' in server.final("x")["error"]["message"]
    server.send({"id": "alive", "op": "info"})
    assert server.final("alive")["type"] == "result" and server.process.poll() is None


def test_a_failed_load_model_keeps_the_model_loaded_before(server, models, tmp_path):
    server.send({"id": "l1", "op": "load_model", "model": str(models["ms"]), "device": "cpu"})
    assert server.final("l1")["result"]["folder"] == str(models["ms"])
    broken = shutil.copytree(models["rgb"], tmp_path / "broken")
    heads = broken / "heads.safetensors"
    heads.write_bytes(heads.read_bytes()[: heads.stat().st_size // 2])  # truncated weights
    server.send({"id": "l2", "op": "load_model", "model": str(broken), "device": "cpu"})
    error = server.final("l2")["error"]
    assert f"The model loaded before ({models['ms']}) is loaded again." in error["message"]
    server.send({"id": "i", "op": "info"})
    info = server.final("i")["result"]
    assert info["model_loaded"] and info["model"]["folder"] == str(models["ms"])
    assert info["model"]["modality"] == "ms"


def fuzz_lines(count: int, seed: int) -> list[bytes]:
    """Random bytes, and valid requests mutated at the byte and the value level; no shutdown."""
    rng = random.Random(seed)
    seeds = [
        {"id": 1, "op": "info"},
        {"id": "c", "op": "cancel", "target": "e"},
        {
            "id": "e",
            "op": "estimate",
            "s2": ["/nowhere/s2.tif"],
            "out": "/nowhere/out",
            "extent": {"bounds": [0, 0, 1, 1], "crs": "EPSG:4326"},
            "stride": 25,
        },
        {
            "id": "a",
            "op": "ask",
            "s2": ["/nowhere/s2.tif"],
            "point": [1, 2],
            "crs": "EPSG:4326",
            "question": "What is here?",
        },
        {"id": "m", "op": "load_model", "model": "/nowhere/model", "device": "cpu"},
    ]
    values = [
        None,
        True,
        -1,
        0,
        2**70,
        1e308,
        "",
        "x" * 300,
        [],
        {},
        [[["deep"]]],
        {"id": 1},
        "NaN",
        [1.5, "two"],
        "\u0000",
        "é✓",
    ]
    lines = []
    while len(lines) < count:
        choice = rng.random()
        if choice < 0.2:
            line = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120)))
        elif choice < 0.55:
            line = bytearray(json.dumps(rng.choice(seeds)).encode())
            for _ in range(rng.randrange(1, 6)):
                at = rng.randrange(len(line))
                action = rng.randrange(3)
                if action == 0:
                    line[at] = rng.randrange(256)
                elif action == 1:
                    del line[at]
                else:
                    line.insert(at, rng.choice(b'{}[]",:0123456789.eE-+ntfua\\'))
            line = bytes(line)
        elif choice < 0.95:
            request = json.loads(json.dumps(rng.choice(seeds)))
            key = rng.choice([*request, "extra", "id", "op"])
            request[key] = rng.choice([*values, "info", "cancel", "estimate", "ask"])
            line = json.dumps(request).encode()
        else:
            depth = rng.randrange(500, 50_000)
            line = b"[" * depth + b"]" * rng.randrange(depth + 1)
        line = line.replace(b"\n", b" ")
        if not line.strip() or _is_shutdown(line):
            continue
        lines.append(line)
    return lines


def _is_shutdown(line: bytes) -> bool:
    try:
        return protocol.parse_request(line).op == "shutdown"
    except protocol.ProtocolError:
        return False


def run_fuzz(count: int, seed: int, timeout: float) -> None:
    client = ServeClient()
    try:
        client.replies.get(timeout=60)  # ready
        lines = fuzz_lines(count, seed)
        for line in lines:
            client.send(line)
        finals, deadline = 0, time.monotonic() + timeout
        while finals < len(lines) and time.monotonic() < deadline:
            _, reply = client.replies.get(timeout=max(0.1, deadline - time.monotonic()))
            finals += reply["type"] in ("result", "error")
        assert finals == len(lines), f"{finals} final replies to {len(lines)} lines"
        client.send({"id": "still-there", "op": "info"})
        assert client.final("still-there")["type"] == "result"
        assert client.non_json == []  # every reply was strict JSON
    finally:
        assert client.close() == 0


def test_fuzzed_lines_each_get_one_reply_and_the_worker_keeps_serving():
    run_fuzz(3000, seed=0, timeout=60)


@pytest.mark.slow
def test_fuzzed_lines_long_run():
    run_fuzz(50_000, seed=1, timeout=600)


def test_a_line_longer_than_the_limit_is_refused_and_read_past(monkeypatch):
    monkeypatch.setattr(serve, "MAX_LINE_BYTES", 64)
    long_line = b'{"id": 1, "op": "info", "note": "' + b"y" * 200 + b'"}\n'
    stream = io.BytesIO(long_line + b'{"id": 2, "op": "cancel", "target": 9}\n')
    out = io.StringIO()
    assert serve.Server(out).serve(serve.request_lines(stream)) == 0
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["type"] for r in replies] == ["ready", "error", "result"]
    assert (
        replies[1]["id"] is None and "The request is longer than" in replies[1]["error"]["message"]
    )
    assert replies[2] == {"id": 2, "type": "result", "result": {"target": 9, "canceled": False}}
