"""`make package`: an installable zip with the plugin and nothing of the development environment,
passing the QGIS plugin repository's upload checks; QGIS loads the plugin from the unpacked zip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest
from plugin_helpers import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
from check_package import MAX_UPLOAD_BYTES, check_package

FORBIDDEN = (
    "tests/",
    "docs/",
    "bench/",
    "configs/",
    ".venv/",
    "out/",
    "dist/",
    "tools/",
    ".git/",
    "__pycache__",
    ".pyc",
    ".qgis-settings",
    ".pytest_cache",
    ".ruff_cache",
    "Makefile",
    "pyproject.toml",
    ".aux.xml",
)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "reo.zip"
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    subprocess.run(
        [make, "-s", "package", f"PACKAGE_OUT={out}"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    return out


def test_the_zip_holds_the_plugin_under_one_top_folder(package):
    names = zipfile.ZipFile(package).namelist()
    assert all(name.startswith("reo/") for name in names)
    for required in (
        "reo/metadata.txt",
        "reo/__init__.py",
        "reo/LICENSE",
        "reo/requirements.txt",
        "reo/reo_plugin/plugin.py",
        "reo/reo_core/serve.py",
        "reo/resources/icon.svg",
        "reo/resources/styles/agb.qml",
        "reo/resources/styles/land_cover.qml",
    ):
        assert required in names
    leaked = [name for name in names if any(bad in name.removeprefix("reo/") for bad in FORBIDDEN)]
    assert leaked == []


def test_the_zip_holds_the_gpl_licence_stated_in_metadata(package):
    archive = zipfile.ZipFile(package)
    licence = archive.read("reo/LICENSE").decode()
    assert "either version 2 of the\nLicense, or (at your option) any later version" in licence
    assert "GNU GENERAL PUBLIC LICENSE\n                       Version 2, June 1991" in licence
    assert "GPL-2.0-or-later" in archive.read("reo/metadata.txt").decode()


def test_the_zip_passes_the_plugin_repository_checks(package):
    assert check_package(package) == []
    assert package.stat().st_size < MAX_UPLOAD_BYTES


def rebuilt(package, target, drop=(), add=None, metadata=None):
    """A copy of ``package`` without the entries in ``drop``, with ``add`` and another
    metadata.txt."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            if info.filename in drop:
                continue
            data = source.read(info)
            if info.filename == "reo/metadata.txt" and metadata is not None:
                data = metadata(data.decode()).encode()
            copy.writestr(info, data)
        for name, (data, mode) in (add or {}).items():
            entry = zipfile.ZipInfo(name)
            entry.external_attr = mode << 16
            copy.writestr(entry, data)
    return target


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"drop": ("reo/LICENSE",)}, "reo/LICENSE is missing"),
        ({"add": {"reo/reo_core/_speedups.so": (b"\x7fELF\x02\x01", 0o755)}}, "compiled binary"),
        ({"add": {"reo/resources/tool": (b"\x7fELF\x02\x01\x01\0", 0o644)}}, "an ELF executable"),
        ({"add": {"reo/reo_plugin/__pycache__/dock.cpython-311.pyc": (b"x", 0o644)}}, ".pyc file"),
        ({"add": {"reo/run.sh": (b"#!/bin/sh\n", 0o755)}}, "marked executable"),
        ({"add": {"other/__init__.py": (b"", 0o644)}}, "exactly one top folder"),
        ({"metadata": lambda text: text.replace("\nemail=", "\n#email=")}, "lacks 'email'"),
        (
            {"metadata": lambda text: text.replace("icon=resources/icon.svg", "icon=missing.png")},
            "icon missing.png",
        ),
        ({"metadata": lambda text: text.replace("tracker=https://", "tracker=")}, "tracker"),
    ],
)
def test_the_checker_finds_what_the_repository_refuses(package, tmp_path, change, problem):
    bad = rebuilt(package, tmp_path / "bad.zip", **change)
    problems = check_package(bad)
    assert any(problem in text for text in problems), problems


def test_the_zip_is_the_same_bytes_when_built_twice(package, tmp_path):
    again = tmp_path / "again.zip"
    subprocess.run(
        ["make", "-s", "package", f"PACKAGE_OUT={again}"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    assert again.read_bytes() == package.read_bytes()


def test_qgis_loads_the_plugin_from_the_unpacked_zip(package, tmp_path):
    """In a fresh QGIS process that sees only the unpacked zip (not the repository)."""
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(package).extractall(plugins)
    script = textwrap.dedent(f"""
        import sys
        sys.path = [p for p in sys.path if p not in ("", {str(REPO_ROOT)!r})]
        from qgis.core import QgsApplication
        app = QgsApplication([], False)
        app.initQgis()
        import qgis.utils
        from unittest.mock import MagicMock
        from qgis.gui import QgsMapCanvas, QgsMessageBar
        from qgis.PyQt.QtWidgets import QMainWindow, QToolBar
        window, canvas, bar = QMainWindow(), QgsMapCanvas(), QgsMessageBar()
        iface = MagicMock()  # QGIS's interface, as far as the plugin uses it
        iface.mainWindow.return_value, iface.mapCanvas.return_value = window, canvas
        iface.messageBar.return_value = bar
        iface.addToolBar.side_effect = lambda name: QToolBar(name, window)
        qgis.utils.iface = iface
        sys.path.insert(0, {str(plugins)!r})
        qgis.utils.plugin_paths = [{str(plugins)!r}]
        qgis.utils.updateAvailablePlugins()
        assert qgis.utils.pluginMetadata("reo", "hasProcessingProvider") == "yes"
        assert qgis.utils.loadPlugin("reo") and qgis.utils.startPlugin("reo")
        import reo_plugin, reo_core
        print(reo_plugin.__file__, reo_core.__file__)
        assert QgsApplication.processingRegistry().algorithmById("reo:estimate_agb") is not None
        assert qgis.utils.unloadPlugin("reo")
        app.exitQgis()
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ""},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    plugin_file, core_file = result.stdout.split()[-2:]
    assert plugin_file.startswith(str(plugins / "reo")) and core_file.startswith(
        str(plugins / "reo")
    )
