"""How ``python -m reo_core.train.demo`` trains: one data-parallel process per CPU core."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reo_core.errors import ReoError
from reo_core.train import demo
from reo_core.train.config import load_train_config
from reo_core.train.run import SUMMARY


def _config(output):
    return load_train_config(demo.DEMO_PRESET, [f"output={output}", f"data={output.parent}"])


def _fake_run(calls: list, returncode: int):
    def run(command, env, cwd, check):
        calls.append((command, env))
        return subprocess.CompletedProcess(command, returncode)

    return run


def test_two_processes_of_one_thread_each_train_the_configured_run(tmp_path, monkeypatch):
    output = tmp_path / "run"
    output.mkdir()
    (output / SUMMARY).write_text(json.dumps({"stage1": {"model": "s1"}, "stage2": {"model": "m"}}))
    calls: list = []
    monkeypatch.setattr(demo.subprocess, "run", _fake_run(calls, 0))
    settings = [f"output={output}", "steps=3"]

    final = demo.train_demo(_config(output), settings, force=True, processes=2)

    assert str(final) == "m"  # the last stage's model, as the run's summary names it
    ((command, env),) = calls
    assert command[:5] == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
    ]
    assert command[5:] == [
        "-m",
        "reo_core.train",
        "--config",
        str(demo.DEMO_PRESET),
        "--force",
        *settings,
    ]
    assert env["OMP_NUM_THREADS"] == "1"


def test_a_failed_training_is_one_message_saying_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(demo.subprocess, "run", _fake_run([], 1))
    with pytest.raises(ReoError, match=r"exit status 1.*--processes 1"):
        demo.train_demo(_config(tmp_path / "run"), [], force=False, processes=2)


def test_zero_processes_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--processes", "0"])
    assert exit_.value.code == 2
    assert "--processes must be >= 1" in capsys.readouterr().err
