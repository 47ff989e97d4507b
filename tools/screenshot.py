"""Take docs/screenshot.png and docs/screenshot-estimate.png from the real QGIS application.

    .venv/bin/python tools/screenshot.py [--product <S2 product folder>] [--out docs/screenshot.png]

It builds the plugin zip (``make package``), installs it into a fresh QGIS profile in a temporary
folder (the user's own QGIS settings are never touched), and starts ``qgis`` under Xvfb on a
1366 x 768 screen with ``tools/screenshot_in_qgis.py``, which opens a real Sentinel-2 L2A product
(default: a BigEarthNet patch from ../shared/data/real, one GeoTIFF per band), estimates AGB with
the built-in demo model in the dock, asks about a patch, and grabs the main window after each.
The worker runs with this script's Python (it needs REO's requirements: the repository's .venv).

Needs Debian's ``qgis`` and ``xvfb`` packages (``apt-get install qgis xvfb``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# June cropland in Austria: the patch asked about is its centre, which is clear. (The Finnish
# September patch has a lake there; the built-in screening took it for cloud shadow and refused the
# question until shadows needed a cloud within 3 km, reo_core/raster/cloud_reach.py.)
DEFAULT_PRODUCT = (
    REPO_ROOT.parent
    / "shared"
    / "data"
    / "real"
    / "bigearthnet-s2-l2a"
    / "S2A_MSIL2A_20170613T101031_87_48"
)
SCREEN = "1366x768x24"
TIMEOUT_S = 900


def profile(root: Path, plugin_zip: Path) -> Path:
    """A fresh QGIS profile with the plugin unpacked from the zip and enabled."""
    folder = root / "profiles" / "default"
    plugins = folder / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    settings = folder / "QGIS" / "QGIS3.ini"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        "[PythonPlugins]\nreo=true\n\n"
        f"[reo]\nworker\\python={sys.executable}\n\n"  # REO's runtime: this script's Python
        "[locale]\noverrideFlag=true\nuserLocale=en_US\n\n"
        "[qgis]\ncheckVersion=false\nshowTips=false\n"
    )
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product", type=Path, default=DEFAULT_PRODUCT)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    args = parser.parse_args(argv)
    for program in ("qgis", "xvfb-run", "make"):
        if shutil.which(program) is None:
            print(f"'{program}' is missing: apt-get install qgis xvfb make", file=sys.stderr)
            return 2
    if not sorted(args.product.glob("*_B04.tif")):
        print(
            f"{args.product} holds no per-band Sentinel-2 GeoTIFFs (*_B04.tif ...)", file=sys.stderr
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="reo-screenshot-") as folder:
        work = Path(folder)
        plugin_zip = work / "reo.zip"
        subprocess.run(
            ["make", "-s", "package", f"PACKAGE_OUT={plugin_zip}"], cwd=REPO_ROOT, check=True
        )
        report = work / "report.json"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            "REO_SHOT_PRODUCT": str(args.product.resolve()),
            "REO_SHOT_WORK": str(work),
            "REO_SHOT_OUT": str(args.out.resolve()),
            "REO_SHOT_REPORT": str(report),
        }
        command = [
            "xvfb-run",
            "-a",
            "-s",
            f"-screen 0 {SCREEN}",
            "qgis",
            "--nologo",
            "--noversioncheck",
            "--profiles-path",
            str(profile(work / "qgis", plugin_zip)),
            "--code",
            str(REPO_ROOT / "tools" / "screenshot_in_qgis.py"),
        ]
        subprocess.run(command, env=environment, timeout=TIMEOUT_S, check=False)
        if not report.is_file():
            print("QGIS ended without a report (see its output above)", file=sys.stderr)
            return 1
        result = json.loads(report.read_text())
    if not result["ok"]:
        print(result["error"], file=sys.stderr)
        return 1
    for picture in result["pictures"]:
        print(f"wrote {picture}")
    print(result["summary"])
    print("answers:", *result["answers"], sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
