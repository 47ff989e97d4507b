"""The plugin inside a real QGIS: found, parsed, loaded, started and unloaded like QGIS does it."""

from __future__ import annotations

from pathlib import Path

import pytest
import qgis.utils

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
    for key in ("name", "description", "about", "version", "author", "email", "repository"):
        assert general.get(key), f"metadata.txt needs '{key}'"
    assert general["qgisMinimumVersion"] == "3.22"
    assert general.getboolean("supportsQt6")
    assert (REPO_ROOT / general["icon"]).is_file()
    from reo_core import __version__

    assert general["version"] == __version__


def test_plugin_loads_starts_and_unloads(plugin_folder, qgis_iface):
    assert qgis.utils.loadPlugin(PLUGIN_NAME)
    assert qgis.utils.startPlugin(PLUGIN_NAME)
    try:
        assert PLUGIN_NAME in qgis.utils.active_plugins
        plugin = qgis.utils.plugins[PLUGIN_NAME]
        assert [a.text() for a in plugin.actions] == ["About REO"]
        assert "REO 0.1.0" in __import__("reo_plugin.plugin").plugin.about_text()
    finally:
        assert qgis.utils.unloadPlugin(PLUGIN_NAME)
    assert PLUGIN_NAME not in qgis.utils.active_plugins
    assert plugin.actions == []
