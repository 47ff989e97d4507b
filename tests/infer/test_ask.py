"""python -m reo_core.ask: AGB questions through the regression head, others through generation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from infer_helpers import (
    cli_args,
    estimate_part_of_scene,
    lattice_corner,
    read_band,
    scene_origin,
    scene_s2,
)

from reo_core import ask
from reo_core.errors import ExtentError
from reo_core.infer.inputs import InputSpec
from reo_core.infer.question import AskRequest, ask_patch
from reo_core.raster import skips


def test_an_agb_question_gets_the_number_the_map_holds(engines, scene, tmp_path):
    engine = engines("ms")
    engine.sizer.size = 1
    inputs = estimate_part_of_scene(engine, scene, tmp_path)
    agb, profile = read_band(tmp_path / "agb.tif")
    std, _ = read_band(tmp_path / "agb_std.tif")
    row, col = np.argwhere(agb != -9999.0)[-1]
    x, y = profile["transform"] @ (col + 0.5, row + 0.5)
    answer = ask_patch(
        engine, AskRequest(inputs, (x, y), "EPSG:32632", "What is the AGB in Mg/ha?")
    )
    assert answer["kind"] == "agb" and answer["unit"] == "Mg/ha"
    assert answer["agb"] == pytest.approx(float(agb[row, col]), abs=1e-3)
    assert answer["agb_std"] == pytest.approx(float(std[row, col]), abs=1e-3)
    assert answer["answer"].startswith(f"Above-ground biomass: {answer['agb']:.1f} ± ")
    assert (answer["patch"]["row"], answer["patch"]["col"]) == (row, col)


def test_ask_cli_answers_text_questions_and_carbon_in_json(models, scene, capsys):
    x0, y0 = scene_origin(scene)
    point = ("--point", x0 + 800, y0 - 800, "--crs", "EPSG:32632")
    common = cli_args(models["rgb"], scene_s2(scene), *point, "--max-new-tokens", 5)
    assert ask.main([*common, "--question", "Is there cropland here?", "--json"]) == 0
    text = json.loads(capsys.readouterr().out)
    assert text["kind"] == "text" and text["answer"] == text["generated"]
    left, top = lattice_corner(x0 + 800, y0 - 800)  # the lattice cell holding the point
    assert text["patch"]["bounds"] == [left, top - 250, left + 250, top]
    assert ask.main([*common, "--question", "How much carbon is stored here?"]) == 0
    printed = capsys.readouterr().out
    # no uncertainty head
    assert "Mg/ha" in printed and "Mg C/ha" in printed and "±" not in printed


def test_points_outside_the_imagery_or_in_clouds_say_so(engines, scene):
    engine = engines("ms")
    inputs = InputSpec(s2=scene_s2(scene))
    with pytest.raises(ExtentError, match="outside the Sentinel-2 imagery"):
        ask_patch(engine, AskRequest(inputs, (9.0, 45.0), "EPSG:4326", "What is the biomass?"))
    grid = engine_grid(engine, inputs)
    reasons = skip_reasons(engine, inputs, grid)
    cloudy = next(zip(*np.nonzero(reasons == skips.CLOUD), strict=True))
    left, bottom, right, top = grid.patch_bounds(*cloudy)
    with pytest.raises(
        ExtentError, match=r"% no-data or cloud \(mostly cloud; clouds from the scene"
    ):
        ask_patch(
            engine,
            AskRequest(inputs, ((left + right) / 2, (bottom + top) / 2), "EPSG:32632", "AGB?"),
        )


def engine_grid(engine, inputs):
    from reo_core.infer.inputs import open_reader

    return open_reader(engine.config, inputs).patch_grid


def skip_reasons(engine, inputs, grid) -> np.ndarray:
    from reo_core.infer.inputs import open_reader

    reasons = np.zeros((grid.rows, grid.cols), dtype=np.uint8)
    for block in open_reader(engine.config, inputs).blocks():
        rows = slice(block.row, block.row + block.n_rows)
        reasons[rows, block.col : block.col + block.n_cols] = block.skip_reason
    return reasons


def shifted_copy(files: list[Path], folder: Path, dx: float) -> list[Path]:
    """The rasters moved ``dx`` metres east (same pixels): imagery off the 250 m lattice."""
    folder.mkdir()
    copies = []
    for path in files:
        with rasterio.open(path) as src:
            profile = {**src.profile, "transform": src.transform @ Affine.translation(dx / 10, 0)}
            with rasterio.open(folder / path.name, "w", **profile) as dst:
                dst.write(src.read())
                dst.update_tags(**src.tags())
                for band in range(1, src.count + 1):
                    dst.set_band_description(band, src.descriptions[band - 1])
        copies.append(folder / path.name)
    return copies


def test_a_point_where_no_whole_patch_fits_says_so(engines, scene, tmp_path):
    """Near the imagery's right edge the lattice cell reaches past it: said in those words."""
    engine = engines("ms")
    # Synthetic scenes start on the lattice; moved 120 m east, the edge is not on it.
    inputs = InputSpec(s2=shifted_copy(scene_s2(scene), tmp_path / "shifted", 120.0))
    x0, y0 = scene_origin(scene)
    right = x0 + 120 + 2500  # the scene is 2.5 km wide
    left, _ = lattice_corner(right - 5, y0)
    assert right - left < 0.75 * 250  # so the patch there lies mostly outside
    with pytest.raises(ExtentError, match=r"No whole patch fits at .* reaches past the edge"):
        ask_patch(engine, AskRequest(inputs, (right - 5, y0 - 1100), "EPSG:32632", "AGB?"))
