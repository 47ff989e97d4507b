"""The shipped demo model on real Sentinel-2 L2A patches (issue 11's target on real imagery).

The demo model was trained on synthetic scenes only; on the real BigEarthNet patches beside the
repository it must at least not be absurd: open water gets the water class and almost no biomass,
forest gets a forest class. BigEarthNet's CORINE labels are per image (120 x 120 pixels, several
labels each), not per pixel, so the patches asked about are found as ``reo_core.synth.realism``
finds a label's pixels: each reference there names an image, the CORINE label whose pixels its
rule (an index threshold) picks, and the CGLS-LC100 classes that label means. A 25 x 25 window
stands for that label when at least :data:`RULE_SHARE` of its pixels follow the rule: every such
window (non-overlapping, best first) of every water or forest reference is asked, none left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from reo_core.infer.engine import EngineOptions, load_engine
from reo_core.landcover import FOREST_CODES
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.synth.realism import REFERENCES, read_bigearthnet, rule_mask

DEMO_MODEL = Path(__file__).resolve().parents[1] / "resources" / "demo-model" / "model"
PATCH = 25
RULE_SHARE = 0.9  # of a window's pixels that follow the reference's rule
WATER = 80  # CGLS-LC100 permanent water bodies
WATER_AGB_MAX = 10.0  # Mg/ha


def rule_windows(reflectance: np.ndarray, rule: str) -> list[tuple[int, int]]:
    """Top-left corners of non-overlapping 25 x 25 windows, best first, where at least
    RULE_SHARE of the pixels follow ``rule``."""
    mask = rule_mask(reflectance, rule).astype(np.float32)
    share = sliding_window_view(mask, (PATCH, PATCH)).mean(axis=(2, 3))
    corners = []
    while share.max() >= RULE_SHARE:
        row, col = np.unravel_index(np.argmax(share), share.shape)
        corners.append((int(row), int(col)))
        share[max(0, row - PATCH + 1) : row + PATCH, max(0, col - PATCH + 1) : col + PATCH] = -1
    return corners


def reference_patches(data: Path, kind: str) -> tuple[list[str], np.ndarray]:
    """Names and reflectance (N, 12, 25, 25) of every window of the water or forest references."""
    names, patches = [], []
    for reference in REFERENCES:
        is_water = set(reference.classes) == {WATER}
        is_forest = set(reference.classes) <= FOREST_CODES
        if (kind == "water" and not is_water) or (kind == "forest" and not is_forest):
            continue
        reflectance, labels = read_bigearthnet(data / reference.patch)
        assert reference.corine in labels
        for row, col in rule_windows(reflectance, reference.rule):
            names.append(f"{reference.name} at ({row}, {col})")
            patches.append(reflectance[:, row : row + PATCH, col : col + PATCH])
    return names, np.stack(patches)


@pytest.fixture(scope="module")
def engine():
    if not (DEMO_MODEL / "reo_config.json").is_file():
        pytest.skip(f"no demo model at {DEMO_MODEL}")
    return load_engine(DEMO_MODEL, EngineOptions(device="cpu"))


@pytest.fixture(scope="module")
def real_data(shared_data: Path) -> Path:
    return shared_data / "real" / "bigearthnet-s2-l2a"


def predict(engine, reflectance: np.ndarray):
    """The estimate for the patches (AGBD band order), as the map makes it."""
    bands = [AGBD_BAND_ORDER.index(b) for b in engine.config.bands]
    return engine.predict_patches(reflectance[:, bands].astype(np.float32))


def test_open_water_gets_the_water_class_and_almost_no_biomass(engine, real_data):
    names, patches = reference_patches(real_data, "water")
    assert names, "the lake of the September boreal image has a window of open water"
    predictions = predict(engine, patches)
    for name, code, agb, text in zip(
        names, predictions.land_cover, predictions.agb, predictions.texts, strict=True
    ):
        assert code == WATER and agb < WATER_AGB_MAX, f"{name}: {agb:.1f} Mg/ha, {text!r}"


def test_forest_gets_a_forest_class(engine, real_data):
    names, patches = reference_patches(real_data, "forest")
    assert len(names) >= 5  # conifer and mixed forest in September and under snow in February
    predictions = predict(engine, patches)
    wrong = [
        f"{name}: {text!r}"
        for name, code, text in zip(names, predictions.land_cover, predictions.texts, strict=True)
        if int(code) not in FOREST_CODES
    ]
    assert not wrong, wrong


def test_asking_about_the_real_lake_gets_water_not_a_refusal(engine, real_data):
    """The user's path: ``ask`` on the product folder, at the centre of a lattice patch of the
    lake. The built-in screening (no SCL here) must not call the dark lake cloud shadow, and the
    chat's land cover and AGB must say water."""
    from reo_core.infer.inputs import InputSpec, open_reader
    from reo_core.infer.question import AskRequest, ask_patch
    from reo_core.raster import skips

    lake = next(r for r in REFERENCES if set(r.classes) == {WATER})
    inputs = InputSpec(s2=(real_data / lake.patch,))
    reader = open_reader(engine.config, inputs, "the demo model")
    for block in reader.blocks():
        assert block.skip_reason is None or not (block.skip_reason == skips.SHADOW).any()
        s2 = {band: block.s2[:, :, i] for i, band in enumerate(block.band_order)}
        valid = np.isfinite(s2["B08"]).sum(axis=(-2, -1))  # the image is 1.2 km: edges are empty
        water = (s2["B08"] < 0.06).sum(axis=(-2, -1)) / np.maximum(valid, 1)  # (R, C) lake share
        rows, cols = np.nonzero(block.keep & (water >= RULE_SHARE))
        if len(rows):
            break
    assert len(rows), "a kept lattice patch of the image is open water"
    bounds = reader.patch_grid.patch_bounds(block.row + int(rows[0]), block.col + int(cols[0]))
    centre = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    crs = reader.patch_grid.pixels.crs.to_string()
    land_cover = ask_patch(engine, AskRequest(inputs, centre, crs, "What land cover is this?"))
    assert land_cover["land_cover"]["code"] == WATER, land_cover["answer"]
    agb = ask_patch(engine, AskRequest(inputs, centre, crs, "How much biomass is here?"))
    assert agb["kind"] == "agb" and agb["agb"] < WATER_AGB_MAX, agb["answer"]
