"""REO's own band statistics: exact, computed from the training split, carried by models, and
composites that are no longer mostly black on synthetic and on real L2A patches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reo_core.errors import InputError
from reo_core.instruct.build import BuildConfig, build_instruct
from reo_core.instruct.store import (
    STATISTICS_NAME,
    PatchStore,
    resolve_statistics,
    s2_reflectance,
    split_statistics,
)
from reo_core.model.config import ReoConfig
from reo_core.sensors.composites import bands_needed, clipped_shares
from reo_core.sensors.palsar2 import dn_to_db
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.sensors.statistics import (
    DatasetStatistics,
    StatisticsAccumulator,
    load_statistics,
)
from reo_core.synth.realism import read_bigearthnet

RAW = "data_subset-2019-v4_0-20.h5"
VISIBLE = ("B02", "B03", "B04")


@pytest.fixture(scope="module")
def build(synthetic_agbd, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("statistics") / "build"
    build_instruct(BuildConfig(agbd=(synthetic_agbd / RAW,), out=out, seed=3))
    return out


def _blocks(rng) -> list[np.ndarray]:
    blocks = [rng.integers(0, 4000, size=(n, 2, 5, 5)).astype(np.uint16) for n in (7, 3)]
    blocks[0][0, 0] = 0  # no data
    return blocks


def test_percentiles_are_exact_and_blocks_add_up():
    rng = np.random.default_rng(0)
    blocks = _blocks(rng)
    streamed = StatisticsAccumulator(("B02", "B12"))
    for block in blocks:
        streamed.add(block)
    whole = StatisticsAccumulator(("B02", "B12"))
    whole.add(np.concatenate(blocks))
    assert streamed.result("a") == whole.result("a") and streamed.patches == 10
    for i, band in enumerate(("B02", "B12")):
        values = np.concatenate([b[:, i].ravel() for b in blocks])
        values = values[values > 0] / 10000.0
        stats = streamed.result("a").s2[band]
        for name, q in (("p1", 0.01), ("p99", 0.99)):
            assert getattr(stats, name) == pytest.approx(
                np.quantile(values, q, method="inverted_cdf")
            )
        assert stats.mean == pytest.approx(values.mean()) and stats.std == pytest.approx(
            values.std()
        )
        assert (stats.min, stats.max) == pytest.approx((values.min(), values.max()))


def test_sar_statistics_are_in_db_and_empty_bands_are_named():
    accumulator = StatisticsAccumulator(("B02",), ("HH", "HV"))
    s2 = np.full((2, 1, 4, 4), 500, dtype=np.uint16)
    s2[0, 0, 0, 0] = 900
    sar = np.full((2, 2, 4, 4), 2000, dtype=np.uint16)
    sar[1, 0] = 2500
    sar[:, 1] = 0  # no HV at all
    accumulator.add(s2, sar)
    with pytest.raises(InputError, match="Band HV holds no valid value"):
        accumulator.result("x")
    sar[:, 1] = 1000
    sar[0, 1, 0, 0] = 3000
    accumulator = StatisticsAccumulator(("B02",), ("HH", "HV"))
    accumulator.add(s2, sar)
    result = accumulator.result("x", "two patches")
    assert result.sar["HH"].min == pytest.approx(float(dn_to_db(np.array([2000]))[0]))
    assert result.sar["HV"].p99 == pytest.approx(float(dn_to_db(np.array([3000]))[0]))
    assert DatasetStatistics.from_dict(result.to_dict()) == result
    assert result.to_dict()["description"] == "two patches"


def test_the_build_writes_the_statistics_of_its_training_patches(build):
    document = json.loads((build / STATISTICS_NAME).read_text())
    assert document == split_statistics(build).to_dict()
    assert json.loads((build / "manifest.json").read_text())["statistics"] == STATISTICS_NAME
    store = PatchStore(build)
    train = np.concatenate([np.asarray(shard["s2"]) for shard in store.shards("train")])
    for i, band in enumerate(AGBD_BAND_ORDER):
        values = train[:, i][train[:, i] > 0] / 10000.0
        expected = np.quantile(values, [0.01, 0.99], method="inverted_cdf")
        got = document["statistics"]["S2_bands"][band]
        assert (got["p1"], got["p99"]) == pytest.approx(tuple(expected))
    blue = document["statistics"]["S2_bands"]["B02"]
    assert blue["p1"] < 0.04 < load_statistics().s2["B02"].p1  # offset-free, unlike AGBD's


def test_a_training_run_takes_the_statistics_it_is_given_or_the_builds(build, tmp_path):
    own = resolve_statistics(None, build)
    assert own == load_statistics(build / STATISTICS_NAME).to_dict()
    assert resolve_statistics("agbd-lite", build) == "agbd-lite"
    copied = tmp_path / "mine.json"
    copied.write_text((build / STATISTICS_NAME).read_text())
    assert resolve_statistics(str(copied), build) == own  # read in: the model needs no file
    assert resolve_statistics({"name": "x"}, build) is None  # already in the config
    assert resolve_statistics(None, tmp_path) is None  # a build from before statistics.json
    config = ReoConfig(statistics=own)
    config.save(tmp_path)
    assert ReoConfig.load(tmp_path).statistics == own
    assert ReoConfig().statistics == "agbd-2019-2020"  # old model folders keep their scale


def test_one_valued_bands_are_named():
    accumulator = StatisticsAccumulator(("B02",))
    accumulator.add(np.full((1, 1, 3, 3), 700, dtype=np.uint16))
    with pytest.raises(InputError, match="Band B02 holds one value only"):
        accumulator.result("x")


def test_composites_are_no_longer_mostly_black(build, shared_data):
    """Held-out tiles of the build (val, test) and the real BigEarthNet L2A patches: AGBD's
    offset-inflated p1 blacks out most visible pixels, REO's statistics do not."""
    reo, agbd = load_statistics(build / STATISTICS_NAME), load_statistics()
    store = PatchStore(build)
    held_out = np.concatenate(
        [
            s2_reflectance(np.asarray(s["s2"]))
            for split in ("val", "test")
            for s in store.shards(split)
        ]
    )
    folder = shared_data / "real" / "bigearthnet-s2-l2a"
    real = np.stack([read_bigearthnet(p)[0] for p in sorted(folder.iterdir()) if p.is_dir()])
    for data, limit in ((held_out, 0.05), (real, 0.25)):
        before = clipped_shares(data, AGBD_BAND_ORDER, agbd)
        after = clipped_shares(data, AGBD_BAND_ORDER, reo)
        for band in VISIBLE:
            assert before[band][0] > 0.5, (band, before[band])
            assert after[band][0] < limit, (band, after[band])
        assert all(after[b][0] <= before[b][0] for b in bands_needed("ms"))


def test_the_command_recomputes_them(build, tmp_path, capsys, caplog):
    from reo_core.stats import main

    out = tmp_path / "train.json"
    assert main(["--data", str(build), "--out", str(out)]) == 0
    assert out.read_text() == (build / STATISTICS_NAME).read_text()
    assert "| B02 |" in capsys.readouterr().out
    assert main(["--data", str(build), "--split", "val", "--out", str(tmp_path / "v.json")]) == 0
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "not a REO-Instruct build" in caplog.text and not (tmp_path / "x.json").exists()
