"""Write REO's layer styles (resources/styles/*.qml) with QGIS's own API.

    python tools/make_styles.py [--out resources/styles]

- ``land_cover.qml``: paletted, one entry per CGLS-LC100 class of ``reo_core.landcover.CLASSES``
  (official colours, class names as labels); no-data (255) stays transparent.
- ``agb.qml``: a fixed pseudo-colour ramp 0-500 Mg/ha (AGBD's label range), the same colour for the
  same biomass on every map, with a legend entry per stop in Mg/ha. The stops (0, 10, 25, 50, 100,
  150, 200, 300, 500 Mg/ha) are denser where most of the world's biomass values are, and their
  colours are equally spaced in perceived lightness (CIELAB L* from 95 to 22, pale cream to dark
  green, hue 100 to 155 degrees): each step of the legend is an equal step to the eye, the low range
  is not washed out, and the order survives grey-scale printing and colour-blind eyes.
  ``reo_plugin.styling`` adds "stretch to this map" (the same colours over the map's own range) as a
  second saved style of every AGB layer.

Run it again after changing the class table; tests/plugin/test_styling.py checks the shipped files
against the table.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # QGIS is imported only when the styles are made
    from qgis.core import (
        QgsPalettedRasterRenderer,
        QgsRasterDataProvider,
        QgsSingleBandPseudoColorRenderer,
    )

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

AGB_VALUES = (0, 10, 25, 50, 100, 150, 200, 300, 500)  # Mg/ha: the ramp's stops
AGB_MAX = 500.0
# The ramp in CIELAB's polar form (L*, C*, h): lightness falls in equal steps, chroma peaks in the
# middle (the extremes stay inside sRGB), hue turns from yellow to green.
LIGHTNESS = (95.0, 22.0)
CHROMA_ENDS, CHROMA_PEAK = 20.0, 54.0
HUE_DEGREES = (100.0, 155.0)
D65_WHITE = (0.95047, 1.0, 1.08883)


def lab_to_srgb(lightness: float, a: float, b: float) -> tuple[float, float, float]:
    """CIELAB (D65) -> sRGB in [0, 1] (IEC 61966-2-1 matrix and transfer curve)."""
    fy = (lightness + 16) / 116
    fx, fz = fy + a / 500, fy - b / 200

    def f_inverse(t: float) -> float:
        return t**3 if t**3 > 216 / 24389 else (116 * t - 16) / (24389 / 27)

    x, y, z = (w * f_inverse(f) for w, f in zip(D65_WHITE, (fx, fy, fz), strict=True))
    linear = (
        3.2406 * x - 1.5372 * y - 0.4986 * z,
        -0.9689 * x + 1.8758 * y + 0.0415 * z,
        0.0557 * x - 0.2040 * y + 1.0570 * z,
    )

    def encode(c: float) -> float:
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    return tuple(encode(c) for c in linear)


def agb_lab(n: int = len(AGB_VALUES)) -> list[tuple[float, float, float]]:
    """CIELAB (L*, a*, b*) of the ``n`` stops: equal lightness steps (see the module's doc)."""
    colours = []
    for i in range(n):
        t = i / (n - 1)
        lightness = LIGHTNESS[0] + t * (LIGHTNESS[1] - LIGHTNESS[0])
        chroma = CHROMA_ENDS + (CHROMA_PEAK - CHROMA_ENDS) * math.sin(math.pi * t)
        hue = math.radians(HUE_DEGREES[0] + t * (HUE_DEGREES[1] - HUE_DEGREES[0]))
        colours.append((lightness, chroma * math.cos(hue), chroma * math.sin(hue)))
    return colours


def agb_stops() -> list[tuple[int, str]]:
    """(Mg/ha, '#rrggbb') of the fixed AGB ramp; ValueError if a colour falls outside sRGB."""
    stops = []
    for value, lab in zip(AGB_VALUES, agb_lab(), strict=True):
        rgb = lab_to_srgb(*lab)
        if not all(-1e-3 <= c <= 1 + 1e-3 for c in rgb):
            raise ValueError(f"the AGB ramp leaves sRGB at {value} Mg/ha: {rgb}")
        stops.append((value, "#" + "".join(f"{round(min(max(c, 0), 1) * 255):02x}" for c in rgb)))
    return stops


def land_cover_renderer(provider: QgsRasterDataProvider) -> QgsPalettedRasterRenderer:
    from qgis.core import QgsPalettedRasterRenderer
    from qgis.PyQt.QtGui import QColor

    from reo_core.landcover import CLASSES

    classes = [
        QgsPalettedRasterRenderer.Class(code, QColor(c.color), c.name)
        for code, c in CLASSES.items()
    ]
    return QgsPalettedRasterRenderer(provider, 1, classes)


def agb_renderer(provider: QgsRasterDataProvider) -> QgsSingleBandPseudoColorRenderer:
    from qgis.core import (
        QgsColorRampLegendNodeSettings,
        QgsColorRampShader,
        QgsGradientColorRamp,
        QgsGradientStop,
        QgsRasterShader,
        QgsSingleBandPseudoColorRenderer,
    )
    from qgis.PyQt.QtGui import QColor

    stops = agb_stops()
    first, last = QColor(stops[0][1]), QColor(stops[-1][1])
    inner = [QgsGradientStop(value / AGB_MAX, QColor(color)) for value, color in stops[1:-1]]
    ramp = QgsGradientColorRamp(first, last, False, inner)
    shader = QgsColorRampShader(0.0, AGB_MAX, ramp, QgsColorRampShader.Type.Interpolated)
    items = [QgsColorRampShader.ColorRampItem(float(v), QColor(c), f"{v} Mg/ha") for v, c in stops]
    shader.setColorRampItemList(items)
    legend = QgsColorRampLegendNodeSettings()
    legend.setUseContinuousLegend(False)  # one entry per stop: the uneven stops read at a glance
    legend.setSuffix(" Mg/ha")
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
        for name, dtype, make in (
            ("land_cover", gdal.GDT_Byte, land_cover_renderer),
            ("agb", gdal.GDT_Float32, agb_renderer),
        ):
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
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no window: runs without a display
    os.environ.setdefault("QT_HASH_SEED", "0")  # the same attribute order in the .qml every time
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
