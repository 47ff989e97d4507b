"""The worker client against the fake worker (failure modes) and the real one (wrong Python, no
torch)."""

from __future__ import annotations

import os
import stat
import sys
import time

import pytest
from plugin_helpers import FAKE_WORKER, REPO_ROOT, SCENE_CRS, SMALL_EXTENT, s2_file

from reo_core import serve_protocol as protocol
from reo_plugin import worker_client
from reo_plugin.worker_client import WorkerCanceled, WorkerClient, WorkerCommand, WorkerError
from reo_plugin.workers import WorkerPool


def fake(*options: str) -> WorkerClient:
    client = WorkerClient(
        WorkerCommand(sys.executable, (str(FAKE_WORKER), *options), str(REPO_ROOT))
    )
    client.start(timeout=60)
    return client


def estimate_fields(scene, out) -> dict:
    return {
        "s2": [str(s2_file(scene))],
        "out": str(out),
        "stride": 25,
        "extent": {"bounds": list(SMALL_EXTENT), "crs": SCENE_CRS},
    }


def test_estimate_reports_progress_and_returns_the_files(scene, tmp_path):
    client = fake()
    try:
        seen = []
        result = client.call(
            "estimate",
            estimate_fields(scene, tmp_path / "run"),
            progress=lambda f, m: seen.append((f, m)),
        )
        assert [f for f, _ in seen] == [0.0, 0.25, 0.5, 0.75]
        assert (tmp_path / "run" / "agb.tif").is_file()
        assert result["paths"]["land_cover"] == str(tmp_path / "run" / "land_cover.tif")
    finally:
        client.close()


def test_a_bad_request_gets_an_error_and_the_worker_keeps_serving(tmp_path):
    client = fake()
    try:
        with pytest.raises(WorkerError, match="not a REO model folder") as caught:
            client.call("load_model", {"model": str(tmp_path)})
        assert caught.value.kind == "ReoError"
        assert client.call("info")["protocol"] == protocol.PROTOCOL_VERSION
        assert client.running
    finally:
        client.close()


def test_cancel_is_forwarded_and_ends_the_request(scene, tmp_path):
    client = fake("--delay", "0.3", "--steps", "20")
    try:
        progress = []
        started = time.monotonic()
        with pytest.raises(WorkerCanceled):
            client.call(
                "estimate",
                estimate_fields(scene, tmp_path / "run"),
                progress=lambda f, m: progress.append(f),
                is_canceled=lambda: len(progress) >= 2,
            )
        assert time.monotonic() - started < 3.0
        assert not (tmp_path / "run" / "agb.tif").exists()
        assert client.running  # the worker survives a cancel
    finally:
        client.close()


def test_a_worker_that_ignores_cancel_is_ended(scene, tmp_path, monkeypatch):
    monkeypatch.setattr(worker_client, "CANCEL_GRACE_S", 0.5)
    client = fake("--delay", "0.3", "--steps", "50", "--ignore-cancel")
    with pytest.raises(WorkerCanceled, match="was ended"):
        client.call("estimate", estimate_fields(scene, tmp_path / "run"), is_canceled=lambda: True)
    assert not client.running


def test_a_crash_mid_request_is_an_error_with_the_workers_last_words(scene, tmp_path):
    client = fake("--crash")
    with pytest.raises(WorkerError, match="stopped unexpectedly") as caught:
        client.call("estimate", estimate_fields(scene, tmp_path / "run"))
    assert caught.value.kind == "worker_exited"
    assert "simulated crash" in caught.value.details


def test_a_worker_of_another_protocol_is_refused_at_start():
    client = WorkerClient(
        WorkerCommand(sys.executable, (str(FAKE_WORKER), "--protocol", "1"), str(REPO_ROOT))
    )
    started = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        client.start(timeout=60)
    assert time.monotonic() - started < 10  # refused at once, not after the start timeout
    error = caught.value
    assert error.kind == "protocol_mismatch" and not client.running
    assert (
        f"The worker speaks REO protocol 1 (reo_core 0.0.1), this plugin protocol "
        f"{protocol.PROTOCOL_VERSION}" in error.message
    )
    assert "Runtime set-up" in error.message


def test_a_result_of_another_shape_is_an_error_not_a_guess(scene, tmp_path):
    client = fake("--old-result")
    try:
        with pytest.raises(WorkerError, match='Unknown field "files"') as caught:
            client.call("estimate", estimate_fields(scene, tmp_path / "run"))
        assert caught.value.kind == "protocol_mismatch"
    finally:
        client.close()


def test_a_request_field_that_does_not_fit_is_refused_before_it_is_sent(tmp_path):
    client = fake()
    try:
        with pytest.raises(protocol.ProtocolError, match='"s2" must be a list of strings'):
            client.call("estimate", {"s2": "x.tif", "out": str(tmp_path)})
        with pytest.raises(protocol.ProtocolError, match='Unknown field "strde"'):
            client.call("estimate", {"s2": ["x.tif"], "out": str(tmp_path), "strde": 5})
        assert client.call("info")["model_loaded"] is False  # nothing was sent; still serving
    finally:
        client.close()


def test_a_worker_that_never_gets_ready_times_out():
    client = WorkerClient(
        WorkerCommand(sys.executable, (str(FAKE_WORKER), "--no-ready"), str(REPO_ROOT))
    )
    with pytest.raises(WorkerError, match="did not start within 1 s") as caught:
        client.start(timeout=1.0)
    assert caught.value.kind == "start_timeout"
    assert client.pid is not None and not client.running


def test_a_missing_python_says_where_to_fix_it():
    client = WorkerClient(WorkerCommand("/nonexistent/bin/python3"))
    with pytest.raises(WorkerError, match=r"does not exist.*Runtime set-up") as caught:
        client.start()
    assert caught.value.kind == "python_missing"


def test_a_python_without_reo_core_is_told_to_reinstall(tmp_path):
    client = WorkerClient(WorkerCommand(sys.executable, cwd=str(tmp_path)))
    with pytest.raises(WorkerError, match="cannot import reo_core") as caught:
        client.start(timeout=60)
    assert caught.value.kind == "missing_reo_core"


@pytest.fixture
def python_without_torch(tmp_path):
    """The test interpreter with torch hidden: a launcher script that shadows the package."""
    blocker = tmp_path / "blocker" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
    )
    launcher = tmp_path / "python-without-torch"
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH="{blocker.parent}" exec "{sys.executable}" "$@"\n')
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    return str(launcher)


@pytest.mark.skipif(os.name == "nt", reason="POSIX launcher script")
def test_a_python_without_torch_gets_the_install_command(python_without_torch, model_dir):
    pool = WorkerPool(lambda: WorkerCommand(python_without_torch))
    try:
        with pytest.raises(WorkerError) as caught:
            pool.run("estimate", {"s2": ["x.tif"], "out": "/tmp/x"}, str(model_dir), "cpu")
    finally:
        pool.shutdown()
    error = caught.value
    assert error.kind == "missing_dependency"
    assert "lacks the package 'torch'" in error.message
    assert f"{python_without_torch} -m pip install -r" in error.message
    assert "requirements.txt" in error.message
