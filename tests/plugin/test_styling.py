"""The shipped layer styles: they load, carry the class table and the Mg/ha ramp, and are up to
date."""

from __future__ import annotations

import itertools
import math
import sys
import xml.etree.ElementTree as ET

import pytest
from osgeo import gdal
from plugin_helpers import REPO_ROOT, add_raster
from qgis.core import QgsPalettedRasterRenderer, QgsSingleBandPseudoColorRenderer

from reo_core.landcover import CLASSES
from reo_plugin.styling import AGB_FIXED_STYLE, AGB_STRETCHED_STYLE, STYLE_FILES, apply_style

sys.path.insert(0, str(REPO_ROOT / "tools"))
import make_styles


@pytest.fixture
def truth_layers(project, scene):
    return {
        "agb": add_raster(project, scene / "truth" / "patch_agb.tif"),
        "land_cover": add_raster(project, scene / "truth" / "patch_landcover.tif"),
    }


def test_land_cover_style_has_every_class_with_its_colour_and_name(truth_layers):
    layer = truth_layers["land_cover"]
    apply_style(layer, "land_cover")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    classes = {c.value: (c.color.name(), c.label) for c in renderer.classes()}
    assert classes == {code: (c.color.lower(), c.name) for code, c in CLASSES.items()}


def ramp(layer) -> list[tuple[float, str, str]]:
    """(value, colour, label) of each stop of an AGB layer's current ramp."""
    items = layer.renderer().shader().rasterShaderFunction().colorRampItemList()
    return [(item.value, item.color.name(), item.label) for item in items]


def test_agb_style_is_the_documented_fixed_ramp_in_mg_per_ha(truth_layers):
    layer = truth_layers["agb"]
    apply_style(layer, "agb")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 500.0)
    shader = renderer.shader().rasterShaderFunction()
    assert shader.legendSettings().suffix() == " Mg/ha"
    assert [(value, label) for value, _, label in ramp(layer)] == [
        (v, f"{v} Mg/ha") for v in (0, 10, 25, 50, 100, 150, 200, 300, 500)
    ]
    assert [colour for _, colour, _ in ramp(layer)] == [c for _, c in make_styles.agb_stops()]


def test_the_ramp_takes_equal_steps_to_the_eye():
    """Equal CIELAB lightness steps, and colour differences (CIE76) within 20 % of each other, so
    0-10-25-50 Mg/ha are as distinct as 200-300-500."""
    lab = make_styles.agb_lab()
    lightness_steps = [a[0] - b[0] for a, b in itertools.pairwise(lab)]
    assert max(lightness_steps) - min(lightness_steps) < 1e-9 and min(lightness_steps) > 8
    differences = [math.dist(a, b) for a, b in itertools.pairwise(lab)]
    mean = sum(differences) / len(differences)
    assert all(abs(d - mean) < 0.2 * mean for d in differences), differences


def test_agb_layers_also_get_the_saved_style_stretched_to_this_map(truth_layers):
    layer = truth_layers["agb"]
    apply_style(layer, "agb")
    manager = layer.styleManager()
    assert set(manager.styles()) == {AGB_FIXED_STYLE, AGB_STRETCHED_STYLE}
    assert manager.currentStyle() == AGB_FIXED_STYLE
    fixed = ramp(layer)
    values = gdal.Open(layer.source()).ReadAsArray()
    low, high = values[values != -9999].min(), values[values != -9999].max()
    assert manager.setCurrentStyle(AGB_STRETCHED_STYLE)
    stretched = layer.renderer()
    assert (stretched.classificationMin(), stretched.classificationMax()) == pytest.approx(
        (low, high)
    )
    assert high < 450  # the truth map does not fill the fixed range
    assert [colour for _, colour, _ in ramp(layer)] == [colour for _, colour, _ in fixed]
    assert manager.setCurrentStyle(AGB_FIXED_STYLE)
    assert ramp(layer) == fixed
    apply_style(layer, "agb")  # styled again: still the two styles, the fixed one current
    assert set(manager.styles()) == {AGB_FIXED_STYLE, AGB_STRETCHED_STYLE}
    assert ramp(layer) == fixed


def test_shipped_styles_match_what_the_tool_writes_now(tmp_path, qgis_app):
    """Regenerating the styles from reo_core.landcover gives the shipped palette and ramp."""
    make_styles.write_styles(tmp_path)
    for name, shipped in STYLE_FILES.items():
        assert _entries(tmp_path / shipped.name) == _entries(shipped), (
            f"run: python tools/make_styles.py ({name})"
        )


def _entries(path):
    root = ET.parse(path).getroot()
    return sorted(
        tuple(sorted(e.attrib.items())) for e in root.iter() if e.tag in ("paletteEntry", "item")
    )
