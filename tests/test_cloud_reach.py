"""The built-in screening calls a dark pixel a cloud shadow only when a cloud is near it
(``reo_core.raster.cloud_reach``): dark lakes in clear scenes are water, shadows beside their
clouds are still shadows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasters import s2_reflectance, write_s2_stack

from reo_core.raster import CloudOptions, PatchReader, open_sentinel2
from reo_core.raster.cloud_reach import CELL_PX, SHADOW_REACH_M, any_within
from reo_core.sensors import cloud_screening
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.synth.realism import read_bigearthnet

# The September lake of the real BigEarthNet patch S2B_MSIL2A_20170924T93020_69_24 (its class mean,
# reo_core.synth.realism): darker than Sen2Cor's shadow reference in every band.
HUMIC_LAKE = dict(
    zip(
        AGBD_BAND_ORDER,
        (0.004, 0.013, 0.011, 0.009, 0.013, 0.019, 0.022, 0.018, 0.023, 0.041, 0.016, 0.010),
        strict=True,
    )
)
CLOUD = dict(
    zip(
        AGBD_BAND_ORDER,
        (0.55, 0.53, 0.52, 0.52, 0.53, 0.54) + (0.54,) * 4 + (0.42, 0.32),
        strict=True,
    )
)
LAKE_ROWS, LAKE_COLS = slice(100, 150), slice(0, 50)  # 4 whole patches of 250 m
FINNISH_LAKE = "S2B_MSIL2A_20170924T93020_69_24"


def test_any_within_marks_a_square_around_each_true_cell():
    mask = np.zeros((9, 9), dtype=bool)
    mask[4, 4] = True
    near = any_within(mask, 2)
    assert near[2:7, 2:7].all() and near.sum() == 25
    assert not any_within(np.zeros((3, 4), dtype=bool), 5).any()
    assert any_within(mask, 0).sum() == 1


def _pixels(spectrum: dict[str, float], n: int = 4) -> dict[str, np.ndarray]:
    return {band: np.full(n, value, dtype=np.float32) for band, value in spectrum.items()}


def test_a_dark_lake_is_a_shadow_only_with_a_cloud_near_it():
    lake = _pixels(HUMIC_LAKE)
    assert cloud_screening.screen(lake)[1].all()  # darkness alone: the lake is shadow
    assert not cloud_screening.screen(lake, np.zeros(4, dtype=bool))[1].any()
    assert cloud_screening.screen(lake, np.ones(4, dtype=bool))[1].all()
    assert cloud_screening.cloud_pixels(_pixels(CLOUD)).all()
    assert not cloud_screening.cloud_pixels(lake).any()


def _scene(tmp_path: Path, cloud_cols: slice | None) -> PatchReader:
    """A 2.5 x 5 km clear vegetated scene with a 500 m humic lake at its west edge, and a cloud
    (rows 100-150) over ``cloud_cols``."""
    reflectance = s2_reflectance(250, 500, seed=4)
    for i, band in enumerate(AGBD_BAND_ORDER):
        reflectance[i, LAKE_ROWS, LAKE_COLS] = HUMIC_LAKE[band]
        if cloud_cols is not None:
            reflectance[i, 100:150, cloud_cols] = CLOUD[band]
    name = "clear" if cloud_cols is None else f"cloud-{cloud_cols.start}"
    path = write_s2_stack(tmp_path / f"{name}.tif", reflectance)
    return PatchReader(open_sentinel2([path], clouds=CloudOptions()), block_patches=4)


def _lake_patches_kept(reader: PatchReader) -> np.ndarray:
    keep = np.zeros((reader.patch_grid.rows, reader.patch_grid.cols), dtype=bool)
    for block in reader.blocks():
        keep[block.row : block.row + block.n_rows, block.col : block.col + block.n_cols] = (
            block.keep
        )
    return keep[4:6, 0:2]


def test_the_reader_keeps_a_dark_lake_with_no_cloud_in_reach(tmp_path):
    reader = _scene(tmp_path, None)
    assert _lake_patches_kept(reader).all()
    assert reader.skips.counts["shadow"] == 0


def test_the_reader_masks_dark_pixels_beside_a_cloud(tmp_path):
    reader = _scene(tmp_path, slice(100, 150))  # 500 m east of the lake
    assert not _lake_patches_kept(reader).any()
    assert reader.skips.counts["shadow"] == 4 and reader.skips.counts["cloud"] == 4


def test_a_cloud_beyond_the_reach_casts_no_shadow_on_the_lake(tmp_path):
    beyond = 50 + int(SHADOW_REACH_M / 10) + 2 * CELL_PX  # pixels east of the lake's east edge
    reader = _scene(tmp_path, slice(beyond, beyond + 50))
    assert _lake_patches_kept(reader).all()
    assert reader.skips.counts["shadow"] == 0 and reader.skips.counts["cloud"] >= 2


def test_the_real_finnish_lake_is_read_not_called_shadow(shared_data):
    folder = shared_data / "real" / "bigearthnet-s2-l2a" / FINNISH_LAKE
    if not folder.is_dir():
        pytest.skip(f"no BigEarthNet patch {FINNISH_LAKE}")
    reflectance, _ = read_bigearthnet(folder)
    darkness_alone = cloud_screening.screen(dict(zip(AGBD_BAND_ORDER, reflectance, strict=True)))
    assert darkness_alone[1].mean() > 0.1  # the lake, taken for a shadow by its darkness
    assert not darkness_alone[0].any()  # a clear image: no cloud
    reader = PatchReader(open_sentinel2(sorted(folder.glob("*_B*.tif"))), block_patches=2)
    list(reader.blocks())
    assert reader.skips.counts["shadow"] == 0 and reader.skips.counts["cloud"] == 0
