"""python -m reo_core.serve: the JSON-lines worker keeps serving through bad requests and cancels."""

from __future__ import annotations

import json
import time

import psutil
import pytest
from infer_helpers import ServeClient, scene_s2
from rasters import s2_reflectance, write_s2_stack


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
    rgb_only = write_s2_stack(tmp_path / "rgb.tif", s2_reflectance(50, 50, bands=("B02", "B03", "B04")),
                              descriptions=("B02", "B03", "B04"))  # fmt: skip
    server.send({"id": 6, "op": "estimate", "s2": [str(rgb_only)], "out": str(tmp_path / "o6")})
    bands = server.final(6)["error"]
    assert (
        bands["kind"] == "InputError"
        and "B05" in bands["message"]
        and "'rgb' model" in bands["message"]
    )
    server.send({"id": 7, "op": "ask", "s2": [str(p) for p in scene_s2(scene)], "point": [0, 45],
                 "crs": "EPSG:4326", "question": "What is here?"})  # fmt: skip
    assert server.final(7)["error"]["kind"] == "ExtentError"
    assert not (tmp_path / "o5").exists() or not any((tmp_path / "o5").iterdir())
    assert not any((tmp_path / "o6").glob("*.tif"))
    server.send({"id": 8, "op": "info"})
    assert server.final(8)["result"]["model_loaded"] is True
    assert server.process.poll() is None


def test_estimate_reports_progress_then_the_outputs(server, models, scene, tmp_path):
    out = tmp_path / "estimate"
    server.send({"id": "e1", "op": "estimate", "model": str(models["ms"]), "device": "cpu",
                 "s2": [str(p) for p in scene_s2(scene)], "out": str(out), "batch_size": 8})  # fmt: skip
    replies = [reply for _, reply in server.until("e1")]
    progress = [r for r in replies if r["type"] == "progress" and r["id"] == "e1"]
    assert len(progress) >= 5
    fractions = [p["fraction"] for p in progress]
    assert fractions == sorted(fractions) and 0 < fractions[0] < 1 and fractions[-1] == 1.0
    result = replies[-1]["result"]
    assert result["summary"]["patches"]["total"] == 121  # 11 x 11 lattice cells over 2.5 km
    for path in result["paths"].values():
        assert (out / path.rsplit("/", 1)[-1]).is_file()
    assert json.loads((out / "summary.json").read_text())["patches"] == result["summary"]["patches"]


def test_inspect_says_how_the_inputs_are_read_without_running_the_model(server, scene, tmp_path):
    s2 = [str(p) for p in scene_s2(scene)]
    server.send({"id": "n1", "op": "inspect", "s2": s2, "boa_offset": 0, "cloud_screening": False})
    result = server.final("n1")["result"]
    decision = result["decision"]
    assert decision["boa_offset"]["value"] == 0 and decision["boa_offset"]["source"] == "user"
    assert "Kept as you asked" in decision["warnings"][0]  # the data carry the offset
    assert decision["clouds"]["kind"] == "scl" and decision["level"]["value"] == "L2A"
    assert result["grid"]["width"] == 11 and result["patches"] == 121
    server.send({"id": "n2", "op": "inspect", "s2": s2, "band_order": "random"})
    assert "Unknown band order 'random'" in server.final("n2")["error"]["message"]
    server.send({"id": "n3", "op": "inspect", "s2": s2, "boa_offset": "yes"})
    assert server.final("n3")["error"]["kind"] == "ProtocolError"


def test_cancel_stops_an_estimate_within_a_second_and_leaves_no_finished_output(
    server, models, scene, tmp_path
):
    out = tmp_path / "canceled"
    server.send({"id": "long", "op": "estimate", "model": str(models["ms"]), "device": "cpu",
                 "s2": [str(p) for p in scene_s2(scene)], "out": str(out), "stride": 5,
                 "batch_size": 4})  # fmt: skip  # 46 x 46 patches: minutes of work
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
