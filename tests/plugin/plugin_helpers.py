"""Helpers of the plugin tests (constants, scene files, layers); fixtures are in conftest.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKE_WORKER = Path(__file__).with_name("fake_worker.py")
QGIS_PLUGINS = Path("/usr/share/qgis/python/plugins")  # Debian's home of the Processing plugin
WORKER_PYTHON = sys.executable  # the test interpreter has torch and REO's requirements
# An extent of 2 x 2 patches (500 m) inside the 2.5 km scene, aligned with its 10 m grid.
SMALL_EXTENT = (552500.0, 4787750.0, 553000.0, 4788250.0)  # 2 x 2 cells of the 250 m lattice
SCENE_CRS = "EPSG:32632"
# One torch thread: tiny models gain nothing from threads, and on a busy machine threads spin-wait.
WORKER_ENV = (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"))


def synth(out: Path, *extra: str) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "reo_core.synth",
            "--out",
            str(out),
            "--size-km",
            "2.5",
            "--seed",
            "3",
            *extra,
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    return out


def s2_file(scene: Path) -> Path:
    """The multi-band Sentinel-2 GeoTIFF of a scene (not its SCL)."""
    return next(p for p in sorted((scene / "s2").glob("*.tif")) if not p.stem.endswith("_SCL"))


def add_raster(project, path: Path, name: str | None = None):
    """A raster layer owned by ``project``."""
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(str(path), name or path.stem, "gdal")
    assert layer.isValid(), path
    project.addMapLayer(layer)
    return layer


def set_extent(dock, bounds=SMALL_EXTENT, crs=SCENE_CRS) -> None:
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle

    dock.extent.setOutputExtentFromUser(QgsRectangle(*bounds), QgsCoordinateReferenceSystem(crs))
