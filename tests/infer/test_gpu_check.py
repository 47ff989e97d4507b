"""bench/gpu_check.sh works before a GPU session uses it: its CPU dry run gives one JSON
document."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from infer_helpers import REPO_ROOT

SCRIPT = REPO_ROOT / "bench" / "gpu_check.sh"


def run_check(tmp_path, *args: str, timeout: float = 600) -> tuple[int, dict]:
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--workdir", str(tmp_path / "work"), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"},
    )
    return done.returncode, json.loads(done.stdout)  # stdout is the document and nothing else


def test_the_shell_wrapper_refuses_a_wheels_folder_that_is_not_there(tmp_path):
    missing = subprocess.run(
        ["bash", str(SCRIPT), "--wheels", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert missing.returncode == 2 and "is not a folder" in missing.stderr


@pytest.mark.slow  # makes a virtual environment and pip-installs into it: ~6 s
def test_the_shell_wrapper_installs_from_local_wheels_only_and_prints_one_document(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()  # empty: every requirement is already installed, nothing may be fetched
    code, document = run_check(tmp_path, "--wheels", str(wheels), "--only", "environment")
    assert code == 0 and document["ok"] and document["dry_run"]
    environment = document["sections"]["environment"]
    assert environment["ok"] and environment["result"]["torch"]
    assert (tmp_path / "work" / "environment.log").is_file()


@pytest.mark.slow
def test_every_section_runs_on_the_cpu(tmp_path):
    """About 80 s on 2 cores: the paper-shape comparison at the tiny shape, the demo model end to
    end and its bf16 agreement, and training steps through the training command line."""
    code, document = run_check(tmp_path)
    sections = document["sections"]
    assert sections["paper_inference"]["ok"], sections["paper_inference"]
    paths = {row["path"] for row in sections["paper_inference"]["result"]["rows"]}
    assert {"hf-generate (naive)", "engine", "engine, static KV cache"} <= paths
    assert sections["demo"]["ok"], sections["demo"]
    agreement = sections["demo"]["result"]["agreement"]
    assert agreement["cpu auto vs cpu float32"]["land_cover_agree_pct"] == 100.0
    training = sections["paper_training"]
    assert training["ok"], training
    assert training["result"]["stages"]["stage1"]["steps"] == 1
    assert "gradient_checkpointing=true" in training["result"]["overrides"]
    assert code == 0 and document["ok"]
