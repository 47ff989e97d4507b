"""The plugin inside a real QGIS: found, parsed, loaded, started and unloaded like QGIS does it;
unload returns at once and the worker is reaped in the background."""

from __future__ import annotations

import gc
import os
import sys
import time
import warnings
from pathlib import Path

import pytest
import qgis.utils
from qgis.core import QgsApplication

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_NAME = "reo"


@pytest.fixture
def plugin_folder(tmp_path, monkeypatch):
    """A QGIS plugins folder holding the repository under the plugin's install name."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / PLUGIN_NAME).symlink_to(REPO_ROOT, target_is_directory=True)
    monkeypatch.syspath_prepend(str(plugins))
    monkeypatch.setattr(qgis.utils, "plugin_paths", [str(plugins)])
    monkeypatch.setattr(qgis.utils, "available_plugins", [])
    qgis.utils.updateAvailablePlugins()  # what QGIS does at start-up: reads every metadata.txt
    assert PLUGIN_NAME in qgis.utils.available_plugins
    return plugins


def test_metadata_parses_with_qgis_own_parser(plugin_folder):
    found = dict(qgis.utils.findPlugins(str(plugin_folder)))
    metadata = found[PLUGIN_NAME]
    assert metadata is not None
    general = metadata["general"]
    for key in (
        "name",
        "description",
        "about",
        "version",
        "author",
        "email",
        "repository",
        "tracker",
        "tags",
        "changelog",
        "category",
    ):
        assert general.get(key), f"metadata.txt needs '{key}'"
    assert general["qgisMinimumVersion"] == "3.22"
    assert general.getboolean("supportsQt6")
    assert general.getboolean("hasProcessingProvider")  # QGIS reads "yes" as true
    assert general["repository"].startswith("https://") and general["tracker"].startswith(
        "https://"
    )
    assert (REPO_ROOT / general["icon"]).is_file()
    from reo_core import __version__

    assert general["version"] == __version__
    assert qgis.utils.pluginMetadata(PLUGIN_NAME, "hasProcessingProvider") == "yes"


def test_plugin_loads_starts_and_unloads(plugin_folder, qgis_iface):
    registry = QgsApplication.processingRegistry()
    assert qgis.utils.loadPlugin(PLUGIN_NAME)
    assert qgis.utils.startPlugin(PLUGIN_NAME)
    try:
        assert PLUGIN_NAME in qgis.utils.active_plugins
        plugin = qgis.utils.plugins[PLUGIN_NAME]
        assert [a.text() for a in plugin.actions] == [
            "Estimate AGB…",
            "Ask about a patch",
            "Runtime set-up…",
            "Diagnostics…",
            "About REO",
        ]
        assert registry.providerById("reo") is not None
        assert registry.algorithmById("reo:estimate_agb") is not None
        assert plugin.dock is not None and plugin.dock.objectName() == "ReoDock"
        plugin.actions[0].trigger()  # "Estimate AGB…" shows the dock
        assert not plugin.dock.isHidden()  # shown (the stub main window itself is never shown)
        plugin.actions[1].trigger()  # "Ask about a patch" arms the map tool
        assert qgis_iface.mapCanvas().mapTool() is plugin.controller.map_tool
        assert "REO 0.1.0" in __import__("reo_plugin.plugin").plugin.about_text()
    finally:
        assert qgis.utils.unloadPlugin(PLUGIN_NAME)
    assert PLUGIN_NAME not in qgis.utils.active_plugins
    assert plugin.actions == [] and plugin.dock is None
    assert registry.providerById("reo") is None
    assert qgis_iface.mapCanvas().mapTool() is None


# -- unload never waits for the worker -------------------------------------------------------------

UNLOAD_LIMIT_S = 0.5


def fake_worker_pool(*options: str):
    from plugin_helpers import FAKE_WORKER

    from reo_plugin.worker_client import WorkerCommand
    from reo_plugin.workers import WorkerPool

    command = WorkerCommand(sys.executable, (str(FAKE_WORKER), *options), str(REPO_ROOT))
    return WorkerPool(lambda: command)


def running_plugin_with(pool, monkeypatch):
    """The plugin loaded and started, its shared worker ``pool`` started."""
    from reo_plugin import workers

    monkeypatch.setattr(workers, "_shared", pool)
    assert qgis.utils.loadPlugin(PLUGIN_NAME) and qgis.utils.startPlugin(PLUGIN_NAME)
    pool.info()  # starts the worker
    return pool.client


def timed_unload() -> float:
    started = time.monotonic()
    assert qgis.utils.unloadPlugin(PLUGIN_NAME)
    return time.monotonic() - started


def reaped(client, timeout: float) -> bool:
    from reo_plugin import workers

    deadline = time.monotonic() + timeout
    while client in workers._reaping and time.monotonic() < deadline:
        time.sleep(0.05)
    return client not in workers._reaping and not pid_alive(client.pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_unload_does_not_wait_for_a_slow_worker_and_reaps_it(
    plugin_folder, qgis_iface, monkeypatch
):
    """The worker takes 3 s to exit after "shutdown" (a real one unloading torch and CUDA)."""
    client = running_plugin_with(fake_worker_pool("--exit-delay", "3"), monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        seconds = timed_unload()
        assert seconds < UNLOAD_LIMIT_S, f"unload took {seconds:.2f} s"
        assert pid_alive(client.pid), "the worker is still exiting: unload did not wait for it"
        assert reaped(client, timeout=10), "the reaper waits for the exit"
        del client
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == [], "the worker's pipes and process must be closed and reaped"


def test_a_worker_that_never_exits_is_ended_by_the_reaper(plugin_folder, qgis_iface, monkeypatch):
    from reo_plugin import workers

    monkeypatch.setattr(workers, "REAP_GRACE_S", 0.5)
    client = running_plugin_with(fake_worker_pool("--exit-delay", "600"), monkeypatch)
    assert timed_unload() < UNLOAD_LIMIT_S
    assert reaped(client, timeout=10), "ended once the grace time is over"


# starts a second real worker and loads the model: ~5 s (the fake one above is fast)
@pytest.mark.slow
def test_unload_with_the_real_worker_and_model_loaded(
    plugin_folder, qgis_iface, monkeypatch, model_dir
):
    from plugin_helpers import WORKER_ENV, WORKER_PYTHON

    from reo_plugin.worker_client import WorkerCommand
    from reo_plugin.workers import WorkerPool

    pool = WorkerPool(lambda: WorkerCommand(WORKER_PYTHON, environment=WORKER_ENV))
    client = running_plugin_with(pool, monkeypatch)
    client.call("load_model", {"model": str(model_dir), "device": "cpu"})
    seconds = timed_unload()
    assert seconds < UNLOAD_LIMIT_S, f"unload took {seconds:.2f} s"
    assert reaped(client, timeout=30)
