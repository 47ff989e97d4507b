"""Bad inputs are reo_core errors that say what to change, and leave no output behind."""

from __future__ import annotations

import numpy as np
import pytest
from infer_helpers import scene_origin, scene_s2, scene_sar
from rasters import s2_reflectance, write_s2_stack

from reo_core import predict
from reo_core.errors import ExtentError, InputError


def argv(model, s2, out, *extra) -> list[str]:
    return ["--s2", *map(str, s2), "--model", str(model), "--out", str(out), "--device", "cpu",
            "--max-new-tokens", "2", *map(str, extra)]  # fmt: skip


def run(*args):
    return predict.run(predict.parse_args(argv(*args)))


def assert_nothing_written(out):
    assert not out.exists() or not [p.name for p in out.iterdir()]


def test_a_missing_model_exits_2_and_says_which_folder(scene, tmp_path, caplog):
    out = tmp_path / "out"
    assert predict.main(argv(tmp_path / "no-model", scene_s2(scene), out)) == 2
    assert "no-model cannot be used: it does not exist" in caplog.text
    assert_nothing_written(out)


def test_inputs_without_the_models_bands_name_them_and_the_way_out(models, tmp_path):
    rgb_only = write_s2_stack(tmp_path / "rgb.tif", s2_reflectance(60, 60, bands=("B02", "B03", "B04")),
                              descriptions=("B02", "B03", "B04"))  # fmt: skip
    with pytest.raises(
        InputError, match=r"reads Sentinel-2 bands B02, .*B12.*lacks band\(s\) B05"
    ) as error:
        run(models["ms"], [rgb_only], tmp_path / "out")
    assert "'rgb' model" in str(error.value)
    assert_nothing_written(tmp_path / "out")
    run(models["rgb"], [rgb_only], tmp_path / "rgb-out")  # the rgb model reads it
    assert (tmp_path / "rgb-out" / "agb.tif").is_file()


def test_modality_and_palsar_must_agree(models, scene, tmp_path):
    with pytest.raises(InputError, match="give the PALSAR-2 HH and HV rasters"):
        run(models["ms+sar"], scene_s2(scene), tmp_path / "a")
    with pytest.raises(InputError, match="leave the PALSAR-2 input out"):
        run(models["ms"], scene_s2(scene), tmp_path / "b", "--sar", *scene_sar(scene))
    assert_nothing_written(tmp_path / "a")
    assert_nothing_written(tmp_path / "b")


def test_extents_outside_or_without_crs_are_refused(models, scene, tmp_path):
    x0, y0 = scene_origin(scene)
    with pytest.raises(ExtentError, match="does not overlap the Sentinel-2 imagery"):
        run(models["ms"], scene_s2(scene), tmp_path / "out", "--extent", x0 - 9000, y0 - 9000,
            x0 - 5000, y0 - 5000, "--extent-crs", "EPSG:32632")  # fmt: skip
    with pytest.raises(InputError, match="--extent needs --extent-crs"):
        run(models["ms"], scene_s2(scene), tmp_path / "out", "--extent", 0, 0, 1, 1)
    with pytest.raises(InputError, match=r"carbon fraction must be in \(0, 1\]"):
        run(models["ms"], scene_s2(scene), tmp_path / "out", "--carbon-fraction", 47)
    assert_nothing_written(tmp_path / "out")


def test_all_no_data_imagery_leaves_no_partial_rasters(models, tmp_path):
    empty = write_s2_stack(
        tmp_path / "empty.tif", np.zeros((12, 60, 60), np.float32)
    )  # DN 0 = no data
    out = tmp_path / "out"
    with pytest.raises(ExtentError, match="No patch in the extent has enough valid pixels"):
        run(models["ms"], [empty], out)
    assert not list(out.glob("*.tif")) and not (out / "summary.json").exists()
