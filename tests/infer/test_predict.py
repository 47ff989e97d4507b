"""python -m reo_core.predict and the estimate behind it: products, geometry, tiling, processes."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from infer_helpers import (
    cli_args,
    lattice_corner,
    read_band,
    run_module,
    scene_origin,
    scene_s2,
    scene_sar,
)
from rasterio.windows import from_bounds

from reo_core import predict
from reo_core.infer.distributed import Ranks
from reo_core.infer.engine import EngineOptions, load_engine
from reo_core.infer.estimate import EstimateRequest, run_estimate
from reo_core.infer.inputs import InputSpec, make_extent
from reo_core.infer.products import FLOAT_NODATA
from reo_core.landcover import color_table
from reo_core.model.reo_vlm import GenerationOutput
from reo_core.raster import CloudOptions, Extent
from reo_core.sensors.sentinel2 import dn_to_reflectance

PRODUCT_FILES = ("agb.tif", "agb_std.tif", "land_cover.tif", "patch_count.tif")
FOREST_TEXT = "This patch is mostly closed mixed forest (80% of the area) in 3 ecological patches."


def estimate(engine, out: Path, **inputs) -> dict:
    return run_estimate(engine, EstimateRequest(InputSpec(**inputs), out))


def test_predict_writes_described_products_and_a_consistent_summary(
    models, scene, tmp_path, capsys
):
    out = tmp_path / "out"
    options = ("--batch-size", 16, "--max-new-tokens", 4, "--threads", 1)
    argv = cli_args(models["ms"], scene_s2(scene), *options, out=out)
    assert predict.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"Quicklook: {out / 'quicklook.png'}" in printed and str(out / "agb.tif") in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*PRODUCT_FILES, "quicklook.png", "summary.json"]
    )
    x0, y0 = lattice_corner(*scene_origin(scene))
    with rasterio.open(out / "agb.tif") as src:
        # 2.5 km of imagery whose corner lies on the 250 m lattice (synthetic scenes start on
        # multiples of 1500 m): 10 x 10 lattice cells, the scene's own truth cells.
        assert src.crs.to_epsg() == 32632 and (src.width, src.height) == (10, 10)
        assert tuple(src.transform)[:6] == (250.0, 0.0, x0, 0.0, -250.0, y0)
        assert src.nodata == FLOAT_NODATA and src.units == ("Mg/ha",)
        agb = src.read(1)
    with rasterio.open(out / "land_cover.tif") as src:
        assert src.dtypes == ("uint8",) and src.nodata == 255
        assert src.colormap(1)[112] == color_table()[112]
        land_cover = src.read(1)
    valid = agb != FLOAT_NODATA
    assert 0 < valid.sum() < 100  # the scene's clouds and edges skip some patches
    np.testing.assert_array_equal(land_cover != 255, valid)
    summary = json.loads((out / "summary.json").read_text())
    by_reason = summary["patches"].pop("skipped_by_reason")
    assert summary["patches"] == {
        "total": 100,
        "done": int(valid.sum()),
        "skipped": int((~valid).sum()),
    }
    assert sum(by_reason.values()) == int((~valid).sum())
    assert by_reason["no_data"] > 0  # the scene's no-data wedge (orbit edge)
    assert by_reason["cloud"] > 0  # the scene's clouds, from its SCL
    decision = summary["inputs"]["sentinel2"]
    assert decision["clouds"]["kind"] == "scl"
    assert decision["boa_offset"]["value"] == 1000  # baseline 04.00 in the synthetic product name
    assert decision["boa_offset"]["source"] == "GDAL metadata"  # the synthetic files' own tags
    assert decision["boa_offset"]["data_check"]["verdict"] == "offset"
    assert decision["level"]["value"] == "L2A" and decision["warnings"] == []
    assert summary["cell_area_ha"] == 6.25
    assert summary["agb"]["mean"] == pytest.approx(agb[valid].astype(np.float64).mean())
    assert summary["agb"]["total_mg"] == pytest.approx(agb[valid].astype(np.float64).sum() * 6.25)
    assert summary["carbon"]["total_mg"] == pytest.approx(summary["agb"]["total_mg"] * 0.47)
    areas = sum(c["area_ha"] for c in summary["land_cover_area_ha"].values())
    assert areas == pytest.approx(summary["valid_area_ha"])
    assert (out / "quicklook.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def natural_colour_stub(engine):
    """A generate that answers AGB = 100 + 10 x mean of the patch's natural-colour image."""
    n_images = len(engine.config.images)
    index = engine.config.images.index("natural_color")

    def generate(batch, max_new_tokens, **decoding):
        n = batch.input_ids.shape[0]
        images = batch.pixel_values.float().reshape(n, n_images, *batch.pixel_values.shape[1:])
        value = images[:, index].mean(dim=(1, 2, 3))
        return GenerationOutput(
            torch.zeros(n, 1, dtype=torch.long),
            [FOREST_TEXT] * n,
            100.0 + 10.0 * value,
            value.abs(),
        )

    return generate


def test_bigearthnet_outputs_put_every_patch_over_its_pixels(
    engines, bigearthnet_patch, tmp_path, monkeypatch
):
    engine = engines("ms")
    monkeypatch.setattr(engine.model, "generate", natural_colour_stub(engine))
    files = sorted(bigearthnet_patch.glob("*_B*.tif"))
    # Every pixel as in the files (the screening would blank 2 bright pixels of one patch).
    summary = estimate(engine, tmp_path, s2=files, clouds=CloudOptions(screening=False))
    band = {b: next(f for f in files if f.stem.endswith(b)) for b in ("B02", "B03", "B04")}
    with rasterio.open(tmp_path / "agb.tif") as out, rasterio.open(band["B04"]) as b04:
        assert out.crs == b04.crs and out.res == (250.0, 250.0)
        agb = out.read(1)
        cells = [(r, c) for r in range(out.height) for c in range(out.width)]
        windows = {
            rc: from_bounds(
                *out.window_bounds(((rc[0], rc[0] + 1), (rc[1], rc[1] + 1))), b04.transform
            )
            for rc in cells
        }
        offset = 0  # a 2017 product: processing baseline before 04.00
    checked = 0
    for (row, col), window in windows.items():
        assert window.row_off == int(window.row_off) and window.col_off == int(window.col_off)
        s2 = np.full((1, len(engine.config.bands), 25, 25), np.nan, np.float32)
        for name, path in band.items():
            with rasterio.open(path) as src:  # beyond the file's 120 px: DN 0, no data
                dn = src.read(1, window=window, boundless=True, fill_value=0)
            s2[0, engine.config.bands.index(name)] = dn_to_reflectance(dn, offset)
        if np.isnan(s2[0, 0]).mean() > 0.25:  # the corner patch reaches too far past the file
            assert agb[row, col] == FLOAT_NODATA
            continue
        pixels = engine.processor.pixel_values(engine.processor.images(s2))
        expected = 100.0 + 10.0 * float(pixels[engine.config.images.index("natural_color")].mean())
        assert agb[row, col] == pytest.approx(expected, abs=1e-3), (row, col)
        checked += 1
    # 1.2 km from (404400, 5342400): 6 x 6 lattice cells, 4 x 4 of them whole inside the patch.
    assert checked == 16 and summary["patches"]["done"] == 16
    land_cover, _ = read_band(tmp_path / "land_cover.tif")
    counts, _ = read_band(tmp_path / "patch_count.tif")
    assert set(np.unique(land_cover)) == {115, 255} and set(np.unique(counts)) == {3, 255}
    assert summary["land_cover_area_ha"]["115"]["area_ha"] == 16 * 6.25
    assert summary["inputs"]["sentinel2"]["boa_offset"]["source"] == "acquisition date"


@pytest.mark.parametrize("model", ["ms", "ms+sar"])
def test_one_extent_whole_equals_its_four_quarters(engines, scene, tmp_path, model):
    """Maps of parts of a scene, whatever their extents, coincide with the map of the whole."""
    engine = engines(model)
    engine.sizer.size = 16
    inputs = {
        "s2": scene_s2(scene),
        "sar": scene_sar(scene) if model == "ms+sar" else (),
        "block_patches": 5,
    }
    estimate(engine, tmp_path / "whole", **inputs)
    whole = {
        name: read_band(tmp_path / "whole" / name)[0]
        for name in ("agb.tif", "land_cover.tif", "patch_count.tif")
    }
    c, f = read_band(tmp_path / "whole" / "agb.tif")[1]["transform"][2::3][:2]
    done = 0
    spans = [(0, 5), (5, 11)]  # the 11 x 11 cells, split on a lattice line
    for i, (r0, r1) in enumerate(spans):
        for j, (c0, c1) in enumerate(spans):
            # Bounds a little inside the cells: extents need not lie on the lattice.
            bounds = (c + 250 * c0 + 7, f - 250 * r1 + 3, c + 250 * c1 - 0.5, f - 250 * r0 - 11)
            out = tmp_path / f"q{i}{j}"
            summary = estimate(
                engine, out, extent=Extent.from_bounds(*bounds, "EPSG:32632"), **inputs
            )
            done += summary["patches"]["done"]
            for name, values in whole.items():
                quarter, profile = read_band(out / name)
                assert profile["transform"].c == c + 250 * c0
                assert profile["transform"].f == f - 250 * r0
                np.testing.assert_array_equal(quarter, values[r0:r1, c0:c1], err_msg=name)
    assert done == json.loads((tmp_path / "whole" / "summary.json").read_text())["patches"]["done"]
    x0, y0 = scene_origin(scene)  # an extent at odd coordinates overlaps the whole map's cells
    odd = (x0 + 333.3, y0 - 2111.1, x0 + 1733.3, y0 - 777.7)
    estimate(engine, tmp_path / "odd", extent=Extent.from_bounds(*odd, "EPSG:32632"), **inputs)
    for name, values in whole.items():
        part, profile = read_band(tmp_path / "odd" / name)
        row = round((f - profile["transform"].f) / 250)
        col = round((profile["transform"].c - c) / 250)
        left, top = lattice_corner(odd[0], odd[3])
        assert (row, col) == (round((f - top) / 250), round((left - c) / 250)) != (0, 0)
        window = values[row : row + part.shape[0], col : col + part.shape[1]]
        # The patches are bitwise the same (tests/test_raster_reader.py); batches of other
        # patches change the model's float rounding, in the 6th digit (1e-4 Mg/ha near zero).
        np.testing.assert_allclose(part, window, rtol=1e-5, atol=1e-4, err_msg=name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ThreadRanks(Ranks):
    """Ranks of processes played by threads: ``gather`` and ``barrier`` meet at one Barrier."""

    meeting: threading.Barrier | None = None
    gathered: dict = field(default_factory=dict)

    def barrier(self) -> None:
        self.meeting.wait(timeout=60)

    def gather(self, value):
        self.gathered[self.index] = value
        self.meeting.wait(timeout=60)
        values = [self.gathered[i] for i in range(self.count)]
        self.meeting.wait(timeout=60)  # every rank has read before the next gather writes
        return values


def test_two_ranks_write_what_one_process_writes(models, scene, tmp_path):
    """Each rank predicts every other block into partial rasters and the main one assembles them:
    the same bytes as one process (in-process, ranks as threads; with real processes: slow test)."""
    options = EngineOptions(device="cpu", batch_size=8, max_new_tokens=3)
    inputs = InputSpec(s2=tuple(scene_s2(scene)), block_patches=3)
    one = run_estimate(
        load_engine(models["ms"], options), EstimateRequest(inputs, tmp_path / "one")
    )
    meeting, gathered = threading.Barrier(2), {}
    engines = [load_engine(models["ms"], options) for _ in range(2)]
    summaries, failures = [None, None], []

    def rank(index: int) -> None:
        ranks = ThreadRanks(index, 2, meeting=meeting, gathered=gathered)
        try:
            request = EstimateRequest(inputs, tmp_path / "two")
            summaries[index] = run_estimate(engines[index], request, ranks=ranks)
        except Exception as error:  # reported below; a barrier left waiting breaks
            failures.append(error)
            meeting.abort()

    threads = [threading.Thread(target=rank, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert summaries[1] is None and summaries[0]["run"]["processes"] == 2
    for name in PRODUCT_FILES:
        a, _ = read_band(tmp_path / "one" / name)
        b, _ = read_band(tmp_path / "two" / name)
        np.testing.assert_array_equal(a, b, err_msg=name)
    del one["run"], summaries[0]["run"]
    assert one == summaries[0]


@pytest.mark.slow  # two real processes under accelerate launch: ~13 s; threads above: ~2 s
def test_two_accelerate_processes_write_what_one_process_writes(models, scene, tmp_path):
    options = ("--max-new-tokens", 3, "--batch-size", 8, "--block-patches", 3)
    common = cli_args(models["ms"], scene_s2(scene), *options)
    one = run_module("reo_core.predict", *common, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr[-2000:]
    two = run_module(
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--main_process_port",
        str(free_port()),
        "-m",
        "reo_core.predict",
        *common,
        "--out",
        tmp_path / "two",
    )
    assert two.returncode == 0, two.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    for name in PRODUCT_FILES:
        a, profile_a = read_band(tmp_path / "one" / name)
        b, profile_b = read_band(tmp_path / "two" / name)
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert profile_a["transform"] == profile_b["transform"]
    summaries = [
        json.loads((tmp_path / run / "summary.json").read_text()) for run in ("one", "two")
    ]
    assert summaries[1]["run"]["processes"] == 2
    for summary in summaries:
        del summary["run"]
    assert summaries[0] == summaries[1]


def test_an_area_of_interest_leaves_the_patches_outside_it_empty(engines, scene, tmp_path):
    x0, y0 = scene_origin(scene)
    triangle = [[x0, y0], [x0 + 2500, y0], [x0, y0 - 2500], [x0, y0]]  # the upper-left half
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:32632"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [triangle]},
                    }
                ],
            }
        )
    )
    engine = engines("rgb")
    summary = run_estimate(
        engine,
        EstimateRequest(
            InputSpec(s2=scene_s2(scene), extent=make_extent(aoi=aoi)),
            tmp_path / "out",
            quicklook=False,
        ),
    )
    estimate(engine, tmp_path / "whole", s2=scene_s2(scene))
    agb, _ = read_band(tmp_path / "out" / "agb.tif")
    whole, _ = read_band(tmp_path / "whole" / "agb.tif")
    rows, cols = np.indices(agb.shape)
    touching = rows + cols <= 10  # cells that touch the triangle, if only at a corner
    assert np.all(agb[~touching] == FLOAT_NODATA)
    # batches hold other patches than in the whole run: equal up to float rounding
    np.testing.assert_allclose(agb[touching], whole[touching], atol=1e-3)
    assert summary["patches"]["done"] == int((agb != FLOAT_NODATA).sum())
    assert summary["inputs"]["extent"]["box"] is False
