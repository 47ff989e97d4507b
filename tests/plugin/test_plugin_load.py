"""The plugin inside a real QGIS: found, parsed, loaded, started and unloaded like QGIS does it."""

from __future__ import annotations

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
    for key in ("name", "description", "about", "version", "author", "email", "repository", "tracker", "tags",
                "changelog", "category"):  # fmt: skip
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
            "Estimate AGB…", "Ask about a patch", "Runtime set-up…", "Diagnostics…", "About REO",
        ]  # fmt: skip
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
