"""Write REO's layer styles (resources/styles/*.qml) with QGIS's own API.

    python tools/make_styles.py [--out resources/styles]

- ``land_cover.qml``: paletted, one entry per CGLS-LC100 class of ``reo_core.landcover.CLASSES``
  (official colours, class names as labels); no-data (255) stays transparent.
- ``agb.qml``: pseudo-colour ramp 0-500 Mg/ha (AGBD's label range), the same colours for the same
  biomass on every map, with a continuous legend in Mg/ha.

Run it again after changing the class table; tests/plugin/test_styling.py checks the shipped files
against the table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# (Mg/ha, colour): light yellow-green for bare ground to dark green for dense forest (ColorBrewer YlGn).
AGB_STOPS = ((0, "#ffffe5"), (25, "#f7fcb9"), (50, "#d9f0a3"), (100, "#addd8e"), (150, "#78c679"),
             (200, "#41ab5d"), (300, "#238443"), (400, "#006837"), (500, "#004529"))  # fmt: skip
AGB_MAX = 500.0


def land_cover_renderer(provider):
    from qgis.core import QgsPalettedRasterRenderer
    from qgis.PyQt.QtGui import QColor

    from reo_core.landcover import CLASSES

    classes = [
        QgsPalettedRasterRenderer.Class(code, QColor(c.color), c.name)
        for code, c in CLASSES.items()
    ]
    return QgsPalettedRasterRenderer(provider, 1, classes)


def agb_renderer(provider):
    from qgis.core import (
        QgsColorRampLegendNodeSettings,
        QgsColorRampShader,
        QgsGradientColorRamp,
        QgsGradientStop,
        QgsRasterShader,
        QgsSingleBandPseudoColorRenderer,
    )
    from qgis.PyQt.QtGui import QColor

    first, last = QColor(AGB_STOPS[0][1]), QColor(AGB_STOPS[-1][1])
    stops = [QgsGradientStop(value / AGB_MAX, QColor(color)) for value, color in AGB_STOPS[1:-1]]
    ramp = QgsGradientColorRamp(first, last, False, stops)
    shader = QgsColorRampShader(0.0, AGB_MAX, ramp, QgsColorRampShader.Type.Interpolated)
    items = [
        QgsColorRampShader.ColorRampItem(float(v), QColor(c), f"{v} Mg/ha") for v, c in AGB_STOPS
    ]
    shader.setColorRampItemList(items)
    legend = QgsColorRampLegendNodeSettings()
    legend.setUseContinuousLegend(True)
    legend.setSuffix(" Mg/ha")
    legend.setMinimumLabel("0")  # the suffix adds the unit
    legend.setMaximumLabel(f"{AGB_MAX:.0f}")
    shader.setLegendSettings(legend)
    raster_shader = QgsRasterShader(0.0, AGB_MAX)
    raster_shader.setRasterShaderFunction(shader)
    renderer = QgsSingleBandPseudoColorRenderer(provider, 1, raster_shader)
    renderer.setClassificationMin(0.0)
    renderer.setClassificationMax(AGB_MAX)
    return renderer


def write_styles(out: Path) -> list[Path]:
    from osgeo import gdal
    from qgis.core import QgsMapLayer, QgsRasterLayer

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        for name, dtype, make in (("land_cover", gdal.GDT_Byte, land_cover_renderer),
                                  ("agb", gdal.GDT_Float32, agb_renderer)):  # fmt: skip
            path = str(Path(folder) / f"{name}.tif")
            dataset = gdal.GetDriverByName("GTiff").Create(path, 2, 2, 1, dtype)
            dataset.SetGeoTransform((0, 250, 0, 0, 0, -250))
            dataset = None
            layer = QgsRasterLayer(path, name)
            layer.setRenderer(make(layer.dataProvider()))
            target = out / f"{name}.qml"
            message, ok = layer.saveNamedStyle(str(target), QgsMapLayer.StyleCategory.Symbology)
            if not ok:
                raise RuntimeError(f"could not write {target}: {message}")
            del layer
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "resources" / "styles")
    args = parser.parse_args(argv)
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        for path in write_styles(args.out):
            print(f"wrote {path}")
    finally:
        app.exitQgis()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
