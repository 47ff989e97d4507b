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


def test_the_shipped_training_log_keeps_every_validation_row_and_a_sample_of_the_steps(tmp_path):
    source = tmp_path / "metrics.csv"
    lines = ["stage,step,kind,name,value"]
    lines += [f"1,{step},train,loss,{1 / step}" for step in range(1, 101)]
    lines += ["1,50,val,agb/rmse,40.0"]
    lines += [f"2,{step},train,loss,{1 / step}" for step in range(1, 31)]
    source.write_text("\n".join(lines) + "\n")
    demo.copy_thinned_metrics(source, tmp_path / "thin.csv", every=20)
    kept = (tmp_path / "thin.csv").read_text().splitlines()
    assert kept[0] == lines[0]
    steps = [(row.split(",")[0], int(row.split(",")[1]), row.split(",")[2]) for row in kept[1:]]
    assert [s for s in steps if s[0] == "1" and s[2] == "train"] == [
        ("1", step, "train") for step in (1, 20, 40, 60, 80, 100)
    ]
    assert ("1", 50, "val") in steps
    assert [s[1] for s in steps if s[0] == "2"] == [1, 20, 30]
