"""Fixtures of the plugin tests, which run inside a real QGIS (pytest-qgis, offscreen).

- ``scene`` / ``scene_per_band``: seeded synthetic scenes (``python -m reo_core.synth``), once per
  session; tests copy nothing and keep QGIS's side files out of them by loading layers from them
  read-only (QGIS writes no .aux.xml unless asked for statistics).
- ``model_dir``: the built-in demo model, or a tiny model built in a subprocess when it is absent.
- ``real_pool``: one real worker (``python -m reo_core.serve`` in the repository's .venv) for the
  session; ``fake_pool(...)``: workers from ``fake_worker.py`` for failure modes.
- ``s2_layer`` & co.: layers owned by the project, removed with it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from plugin_helpers import (
    FAKE_WORKER,
    QGIS_PLUGINS,
    REPO_ROOT,
    WORKER_ENV,
    WORKER_PYTHON,
    add_raster,
    s2_file,
    synth,
)

if QGIS_PLUGINS.is_dir() and str(QGIS_PLUGINS) not in sys.path:
    sys.path.append(str(QGIS_PLUGINS))


@pytest.fixture(scope="session")
def scene(tmp_path_factory) -> Path:
    """A 2.5 km scene: one 12-band Sentinel-2 GeoTIFF (+ SCL) and PALSAR-2 HH/HV."""
    return synth(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="session")
def scene_per_band(tmp_path_factory) -> Path:
    """The same scene with one Sentinel-2 file per band at native resolution."""
    return synth(tmp_path_factory.mktemp("scene-per-band"), "--per-band-files")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    demo = REPO_ROOT / "resources" / "demo-model" / "model"
    if (demo / "reo_config.json").is_file():
        return demo
    folder = tmp_path_factory.mktemp("tiny-model") / "model"
    script = textwrap.dedent(f"""
        import torch
        from reo_core.model.base import TINY_BASE, build_base
        from reo_core.model.checkpoint import create_model, save_checkpoint
        from reo_core.model.config import ReoConfig
        torch.manual_seed(0)
        base = build_base({str(folder.parent / "base")!r}, TINY_BASE, seed=0)
        config = ReoConfig(base_model=str(base), modality="ms", head_token_hidden=16,
                           head_channel_hidden=32, lora_r=4, lora_alpha=8, lora_dropout=0.0)
        save_checkpoint(create_model(config), {str(folder)!r})
    """)
    subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=True, capture_output=True)
    return folder


@pytest.fixture(scope="session")
def real_pool():
    """The real worker, started at first use and shut down after the session."""
    from reo_plugin.worker_client import WorkerCommand
    from reo_plugin.workers import WorkerPool

    pool = WorkerPool(lambda: WorkerCommand(WORKER_PYTHON, environment=WORKER_ENV))
    yield pool
    pool.shutdown()


@pytest.fixture
def fake_pool() -> Callable:
    """``fake_pool("--delay", "0.2")``: a pool whose worker is fake_worker.py with those options."""
    from reo_plugin.worker_client import WorkerCommand
    from reo_plugin.workers import WorkerPool

    pools = []

    def make(*options: str):
        command = WorkerCommand(sys.executable, (str(FAKE_WORKER), *options), str(REPO_ROOT))
        pool = WorkerPool(lambda: command)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown()


@pytest.fixture
def project(qgis_new_project):
    """A fresh project that owns every layer a test adds (and clears them afterwards)."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    yield project
    project.clear()


@pytest.fixture
def s2_layer(project, scene):
    return add_raster(project, s2_file(scene), "Sentinel-2")


@pytest.fixture
def dock(qgis_iface, tmp_path, model_dir, qtbot):
    """The dock on the stub interface's canvas, writing into tmp_path, reading ``model_dir``."""
    from reo_plugin.dock import ReoDock

    widget = ReoDock(qgis_iface.mapCanvas())
    widget.multiband_radio.setChecked(
        True
    )  # settings persist between tests: start from known state
    widget.batch_size.setValue(32)
    widget.model_path.setFilePath(str(model_dir))
    widget.out_dir.setFilePath(str(tmp_path / "out"))
    widget.device.setCurrentText("cpu")
    widget.stride.setValue(25)
    widget.extent.clear()
    for name, section in widget.sections.items():  # known state, not what an earlier test left
        section.setSaveCollapsedState(False)
        section.setCollapsed(name == "advanced")
    yield widget
    widget.close()
    widget.deleteLater()


@pytest.fixture
def controller(qgis_iface, dock, real_pool):
    from reo_plugin.controller import ReoController

    ctrl = ReoController(qgis_iface, dock, real_pool)
    qgis_iface.messageBar().clear_messages()
    for item in list(qgis_iface.messageBar().items()):
        qgis_iface.messageBar().popWidget(item)
    yield ctrl
    ctrl.unload()
