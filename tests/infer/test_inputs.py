"""Bad inputs are reo_core errors that say what to change, and leave no output behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from infer_helpers import cli_args, scene_origin, scene_s2, scene_sar
from rasters import s2_reflectance, write_s2_stack

from reo_core import predict
from reo_core.band_arguments import parse_band_arguments, split_band_text
from reo_core.errors import ExtentError, InputError
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER


def argv(model, s2, out, *extra) -> list[str]:
    return cli_args(model, s2, "--max-new-tokens", 2, *extra, out=out)


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
    rgb_only = write_s2_stack(
        tmp_path / "rgb.tif",
        s2_reflectance(60, 60, bands=("B02", "B03", "B04")),
        descriptions=("B02", "B03", "B04"),
    )
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
        run(
            models["ms"],
            scene_s2(scene),
            tmp_path / "out",
            "--extent",
            x0 - 9000,
            y0 - 9000,
            x0 - 5000,
            y0 - 5000,
            "--extent-crs",
            "EPSG:32632",
        )
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


def test_an_overcast_scene_gives_no_agb_and_says_so(models, tmp_path, caplog):
    """Without SCL the built-in screening finds the clouds; nothing is estimated, nothing
    written."""
    from s2_products import CLOUD, reflectance, to_dn, write_stack

    clouds = reflectance(100, seed=2, spectrum=CLOUD)
    path = write_stack(
        tmp_path / "overcast.tif",
        [to_dn(clouds[b], 0) for b in AGBD_BAND_ORDER],
        descriptions=AGBD_BAND_ORDER,
    )
    out = tmp_path / "out"
    assert predict.main(argv(models["ms"], [path], out)) == 2
    assert "mostly 16 cloud (clouds from the Sen2Cor-style spectral screening" in caplog.text
    assert "the scene is overcast here, so no AGB can be estimated" in caplog.text
    assert_nothing_written(out)


def test_band_options_of_the_command_line(models, tmp_path, caplog):
    stack = write_s2_stack(tmp_path / "export.tif", s2_reflectance(50, 50), descriptions=None)
    assert predict.main(argv(models["rgb"], [stack], tmp_path / "a")) == 2
    assert "--band-order agbd|l1c|eurosat" in caplog.text
    out = tmp_path / "b"
    assert (
        predict.main(
            argv(
                models["rgb"],
                [stack],
                out,
                "--band-order",
                "agbd",
                "--band",
                f"B04={stack}:4",
                "--boa-offset",
                "0",
            )
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    inputs = summary["inputs"]
    assert inputs["band_order"] == "agbd" and inputs["boa_offset"] == 0
    assert inputs["band_mapping"] == {"B04": [str(stack), 4]}
    decision = inputs["sentinel2"]
    assert decision["bands"]["B04"]["identified_by"] == "band mapping"
    assert decision["bands"]["B02"]["identified_by"] == "band order 'agbd'"
    assert decision["boa_offset"]["source"] == "user"
    assert set(summary["patches"]["skipped_by_reason"]) == {
        "no_data",
        "cloud",
        "shadow",
        "outside_area",
    }


def test_band_arguments_parse_paths_with_colons():
    assert parse_band_arguments(
        ["B8A=stack.tif:9", "B02=C:\\data\\blue.tif", "b12=D:\\s.tif:12"]
    ) == {
        "B8A": (Path("stack.tif"), 9),
        "B02": (Path("C:\\data\\blue.tif"), 1),
        "b12": (Path("D:\\s.tif"), 12),
    }
    with pytest.raises(InputError, match="is not BAND=FILE"):
        parse_band_arguments(["B02"])
    with pytest.raises(InputError, match="gives B02 twice"):
        parse_band_arguments(["B02=a.tif", "B02=b.tif"])


def test_band_text_is_split_on_lines_and_semicolons():
    """Processing's BANDS: one mapping per line or separated by ';', blanks dropped."""
    text = "B02=blue.tif; B8A=stack.tif:9\n\n  B12 = swir.tif:2 ;"
    assert split_band_text(text) == ["B02=blue.tif", "B8A=stack.tif:9", "B12 = swir.tif:2"]
    assert parse_band_arguments(split_band_text(text), option="BANDS") == {
        "B02": (Path("blue.tif"), 1),
        "B8A": (Path("stack.tif"), 9),
        "B12": (Path("swir.tif"), 2),
    }
    with pytest.raises(InputError, match="BANDS 'B02' is not BAND=FILE"):
        parse_band_arguments(["B02"], option="BANDS")
    assert split_band_text("") == []
