"""The shipped layer styles: they load, carry the class table and the Mg/ha ramp, and are up to date."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest
from plugin_helpers import REPO_ROOT, add_raster
from qgis.core import QgsPalettedRasterRenderer, QgsSingleBandPseudoColorRenderer

from reo_core.landcover import CLASSES
from reo_plugin.styling import STYLE_FILES, apply_style

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


def test_agb_style_is_a_ramp_in_mg_per_ha(truth_layers):
    layer = truth_layers["agb"]
    apply_style(layer, "agb")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 500.0)
    shader = renderer.shader().rasterShaderFunction()
    assert shader.legendSettings().suffix() == " Mg/ha"
    assert shader.colorRampItemList()[0].label == "0 Mg/ha"


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
