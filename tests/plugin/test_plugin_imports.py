"""The plugin imports nothing heavy into QGIS: no torch, and no package QGIS's own Python may
lack."""

from __future__ import annotations

import subprocess
import sys

from plugin_helpers import REPO_ROOT

# QGIS ships numpy and GDAL, not these: reo_plugin must run without them (the worker has them).
NEVER_IN_QGIS = {
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "rasterio",
    "pyproj",
    "shapely",
    "h5py",
    "safetensors",
    "tokenizers",
    "matplotlib",
}


def test_no_plugin_module_imports_torch_or_the_worker_stack():
    modules = sorted(
        p.stem for p in (REPO_ROOT / "reo_plugin").glob("*.py") if p.stem != "__init__"
    )
    statement = "import reo_plugin, qgis.utils\n" + "\n".join(
        f"import reo_plugin.{m}" for m in modules
    )
    code = (
        f"{statement}\nimport sys\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert {"reo_plugin", "qgis"} <= loaded
    assert not loaded & NEVER_IN_QGIS, f"reo_plugin loads {sorted(loaded & NEVER_IN_QGIS)}"


def test_the_plugin_works_without_qtpy_through_qgis_pyqt():
    """QGIS on Windows and macOS ships no qtpy: every module must import through qgis.PyQt."""
    modules = sorted(
        p.stem for p in (REPO_ROOT / "reo_plugin").glob("*.py") if p.stem != "__init__"
    )
    code = "import sys\nsys.modules['qtpy'] = None\n" + "\n".join(
        f"import reo_plugin.{m}" for m in modules
    )
    code += (
        "\nfrom reo_plugin.qt import Signal, QtCore\n"
        "assert Signal is QtCore.pyqtSignal\nprint('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
