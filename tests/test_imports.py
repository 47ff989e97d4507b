"""Import boundaries: reo_core never loads QGIS or Qt; reo_plugin never loads torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
GUI_MODULES = ("qgis", "PyQt5", "PyQt6", "PySide2", "PySide6", "qtpy", "sip")


def imported_modules(statement: str, cwd: Path = REPO_ROOT) -> set[str]:
    """Top-level module names loaded by running ``statement`` in a fresh interpreter."""
    code = (
        f"{statement}\nimport sys\n"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_reo_core_imports_no_qgis_and_no_qt():
    modules = imported_modules(
        "import reo_core, reo_core.raster, reo_core.landcover, reo_core.sensors.composites, "
        "reo_core.sensors.statistics, reo_core.synth"
    )
    assert "reo_core" in modules
    assert not modules & set(GUI_MODULES)


def test_importing_reo_core_is_cheap():
    modules = imported_modules("import reo_core")
    assert not modules & {"torch", "transformers", "rasterio", "numpy"}


def test_the_patch_lattice_needs_neither_gdal_nor_numpy():
    """The plugin outlines patches with the worker's own arithmetic, without GDAL or torch."""
    modules = imported_modules("import reo_core.patch_lattice")
    assert not modules & {"torch", "rasterio", "numpy", "osgeo", "pyproj", "shapely"}


def test_plugin_code_never_imports_torch():
    modules = imported_modules("import reo_plugin.plugin")
    assert "reo_plugin" in modules
    assert not modules & {"torch", "transformers", "peft", "accelerate"}


def test_plugin_folder_imports_as_a_package_from_its_parent(tmp_path):
    """QGIS imports the folder under its install name; reo_core must resolve from inside it."""
    (tmp_path / "reo").symlink_to(REPO_ROOT, target_is_directory=True)
    modules = imported_modules(
        "import reo\nfrom reo_core.raster import PatchReader\nassert callable(reo.classFactory)",
        cwd=tmp_path,
    )
    assert {"reo", "reo_core"} <= modules
