"""Runtime set-up and diagnostics: the worker's interpreter, creating one, and saying what is
missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reo_plugin import settings
from reo_plugin.diagnostics import DiagnosticsDialog, probe_checks, render_text
from reo_plugin.locations import REQUIREMENTS_PATH, venv_python
from reo_plugin.runtime import Probe, Step, base_python, probe, setup_steps, subprocess_environment


@pytest.fixture
def worker_python_setting():
    """Restore the worker-Python setting after the test (settings persist between tests)."""
    saved = settings.worker_python()
    yield
    settings.set_worker_python(saved)


def test_the_worker_environment_drops_qgis_python_variables():
    env = subprocess_environment(
        {
            "PYTHONHOME": "/qgis/apps/Python39",
            "PYTHONPATH": "/qgis/python",
            "PYTHONEXECUTABLE": "/qgis/bin/python3.exe",
            "PATH": "/usr/bin",
        }
    )
    assert env == {"PATH": "/usr/bin", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}


def test_base_python_is_a_python_not_the_qgis_binary():
    found = base_python()
    assert found is not None and Path(found).name.startswith("python") and Path(found).is_file()


def test_setup_steps_create_a_venv_and_install_the_requirements(tmp_path):
    steps = setup_steps(
        tmp_path / "rt", "/usr/bin/python3", "cpu", ("--proxy", "http://proxy:3128")
    )
    assert [s.title for s in steps] == [
        "Create the environment",
        "Update pip",
        "Install PyTorch (cpu)",
        "Install REO's requirements",
        "Check the environment",
    ]
    assert steps[0].arguments == ("-m", "venv", str(tmp_path / "rt"))
    target = str(venv_python(tmp_path / "rt"))
    assert all(step.program == target for step in steps[1:])
    torch = steps[2].command_line
    assert "torch==2.13.0" in torch and "--index-url https://download.pytorch.org/whl/cpu" in torch
    assert "--proxy http://proxy:3128" in torch
    assert steps[3].arguments[-2:] == ("-r", str(REQUIREMENTS_PATH))
    assert len(setup_steps(tmp_path, "python3", "requirements")) == 4  # no separate torch step
    with pytest.raises(ValueError, match="torch_build must be one of"):
        setup_steps(tmp_path, "python3", "rocm")


def test_probe_reports_versions_and_failures():
    found = probe(sys.executable)
    assert found.ok and found.package("torch") and found.facts["reo_core"]
    assert found.facts["cuda_available"] in (True, False)
    missing = probe("/no/such/python")
    assert not missing.ok and "does not exist" in missing.error
    checks = probe_checks("/no/such/python", missing, [])
    assert checks[0].status == "missing" and "Runtime set-up" in checks[0].fix


def test_probe_checks_name_missing_packages_and_cuda_fixes():
    facts = {
        "python": "3.11.2",
        "packages": {"torch": "2.13.0+cpu", "numpy": "1.26.4"},
        "reo_core": "0.1.0",
        "cuda_available": False,
    }
    report = render_text(
        probe_checks(
            "/rt/bin/python", Probe("/rt/bin/python", True, facts), ["NVIDIA RTX 4000, 570.1"]
        )
    )
    assert "[missing] rasterio: not installed" in report
    assert "/rt/bin/python -m pip install -r" in report
    assert "[warning] CUDA: not available to PyTorch, but an NVIDIA GPU is present" in report
    assert "--index-url https://download.pytorch.org/whl/cu126" in report


def test_the_setup_dialog_runs_the_steps_and_streams_their_output(
    qtbot, tmp_path, worker_python_setting
):
    from reo_plugin.setup_dialog import RuntimeSetupDialog

    dialog = RuntimeSetupDialog()
    qtbot.addWidget(dialog)
    folder = tmp_path / "runtime"
    dialog.folder.setFilePath(str(folder))
    assert "-m venv" in dialog.commands.toPlainText()  # the plan is shown before it runs
    python = str(venv_python(folder))
    steps = [
        Step(
            "Create the environment", sys.executable, ("-m", "venv", "--without-pip", str(folder))
        ),
        Step(
            "Install (simulated)",
            python,
            ("-c", "print('Collecting torch'); print('Successfully installed torch')"),
        ),
    ]
    with qtbot.waitSignal(dialog.runtimeReady, timeout=60_000) as ready:
        dialog.start(steps)
    assert ready.args == [python]
    assert "Successfully installed torch" in dialog.output.toPlainText()
    assert "$ " + steps[1].command_line in dialog.output.toPlainText()
    assert dialog.progress.value() == dialog.progress.maximum() == 2
    assert settings.worker_python() == python


def test_a_failing_step_says_which_and_how_to_rerun_it(qtbot, tmp_path, worker_python_setting):
    from reo_plugin.setup_dialog import RuntimeSetupDialog

    dialog = RuntimeSetupDialog()
    qtbot.addWidget(dialog)
    before = settings.worker_python()
    failing = Step(
        "Install REO's requirements",
        sys.executable,
        ("-c", "import sys; print('ERROR: no network'); sys.exit(1)"),
    )
    with qtbot.waitSignal(dialog.stepsFinished, timeout=30_000) as finished:
        dialog.start([failing])
    assert finished.args == [False]
    status = dialog.status.text()
    assert (
        "Install REO's requirements' failed (exit code 1)" in status
        and failing.command_line in status
    )
    assert "ERROR: no network" in dialog.output.toPlainText()
    assert settings.worker_python() == before and dialog.start_button.isEnabled()
    with qtbot.waitSignal(dialog.stepsFinished, timeout=30_000):
        dialog.start(
            [Step("Create the environment", "/no/such/python3", ("-m", "venv", str(tmp_path)))]
        )
    assert "could not start" in dialog.status.text()


@pytest.mark.parametrize("python_ok", [True, False])
def test_diagnostics_show_the_worker_and_what_to_fix(
    qtbot, fake_pool, worker_python_setting, python_ok
):
    settings.set_worker_python(sys.executable if python_ok else "/no/such/python3")
    dialog = DiagnosticsDialog(fake_pool())
    qtbot.addWidget(dialog)
    qtbot.waitUntil(
        lambda: dialog.probe_result is not None and bool(dialog.info or dialog.info_error),
        timeout=60_000,
    )
    report = dialog.report_text()
    if python_ok:
        assert f"[ok] Worker Python: {sys.executable}" in report
        assert "[ok] torch: 2." in report
        assert "[ok] Worker process: running" in report
    else:
        assert "[missing] Worker Python: /no/such/python3" in report
        assert (
            "fix: The Python '/no/such/python3' does not exist. "
            "Create a runtime in REO ▸ Runtime set-up" in report
        )
    assert "✔" in dialog.view.toPlainText() or "✘" in dialog.view.toPlainText()
