"""REO-Instruct: templates, dialogues, balanced sampling, patch shards and the whole build."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest

from reo_core.agbd import open_agbd
from reo_core.agbd.open import tile_splits, tile_splits_path
from reo_core.answers import normalize_answer, parse_count, parse_land_cover
from reo_core.build_instruct import main
from reo_core.errors import InputError
from reo_core.instruct.build import BuildConfig, Inventory, _check_tile, build_instruct
from reo_core.instruct.dialogues import PatchFacts, facts_arrays, facts_at, patch_dialogues
from reo_core.instruct.sampling import balanced_sample, class_weights
from reo_core.instruct.store import PatchStore, s2_for_store, s2_reflectance
from reo_core.instruct.templates import OUTCOMES, TEMPLATE_VERSION, TEMPLATES, templates_for
from reo_core.landcover import CLASSES
from reo_core.tasks import Task

RAW = "data_subset-2019-v4_0-20.h5"
LITES = [f"AGBD-Lite-{s}.h5" for s in ("train", "val", "test")]
FAMILIES = {t.value for t in Task}


@pytest.fixture(scope="module")
def agbd_dir(synthetic_agbd) -> Path:
    """Synthetic AGBD files (300 patches): raw + Lite train/val/test, shared by the session."""
    return synthetic_agbd


@pytest.fixture(scope="module")
def raw_build(agbd_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("builds") / "raw"
    build_instruct(BuildConfig(agbd=(agbd_dir / RAW,), out=out, seed=7, shard_size=64))
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def leftovers(folder: Path) -> list[str]:
    """Anything a failed build left beside its --out folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- templates ----------------------------------------------------------------------------------


def test_at_least_100_templates_with_unique_ids_in_every_family():
    assert len(TEMPLATES) >= 100
    assert len({t.id for t in TEMPLATES}) == len(TEMPLATES)
    assert len({t.question for t in TEMPLATES}) == len(TEMPLATES)
    for task in Task:
        assert len(templates_for(task)) >= 20, task
    for template in TEMPLATES:
        assert set(template.answers) == set(OUTCOMES[template.kind]), template.id
    assert TEMPLATE_VERSION


def _facts(**changes) -> PatchFacts:
    values = {"land_cover": 112, "share": 80, "count": 3, "activities": (), "agb": 210.5}
    return PatchFacts(**{**values, **changes})


def _ask(template_id: str, facts: PatchFacts, seed: int = 0) -> dict:
    from reo_core.instruct.dialogues import dialogue
    from reo_core.instruct.templates import TEMPLATES_BY_ID

    rng = np.random.default_rng(seed)
    return dialogue(TEMPLATES_BY_ID[template_id], facts, {"split": "x"}, "d", rng)


def test_land_cover_answers_name_exactly_the_class():
    for template in templates_for(Task.LAND_COVER):
        for code in CLASSES:
            item = _ask(template.id, _facts(land_cover=code))
            assert parse_land_cover(item["messages"][1]["content"]) == code, (template.id, code)
            assert item["target"]["answer"] == code


def test_count_answers_state_the_count():
    for template in templates_for(Task.PATCH_COUNT):
        for count in (1, 2, 7, 20, 21, 64):
            answer = _ask(template.id, _facts(count=count))["messages"][1]["content"]
            assert parse_count(answer) == count, (template.id, answer)


@pytest.mark.parametrize("activities", [(), (40,), (50,), (40, 50)])
def test_human_activity_answers_normalise_to_the_truth(activities):
    for template in templates_for(Task.HUMAN_ACTIVITY):
        for seed in range(4):
            item = _ask(template.id, _facts(activities=activities), seed)
            truth = item["target"]["answer"]
            assert normalize_answer(item["messages"][1]["content"]) == normalize_answer(truth)
            if template.kind == "presence":
                assert truth == ("yes" if item["target"]["asked"] in activities else "no")
            if template.kind == "which":
                names = {40: "agriculture", 50: "built-up area"}
                assert truth == (" and ".join(names[c] for c in activities) or "none")


def test_agb_dialogue_carries_domain_text_and_the_target_as_a_number():
    for template in templates_for(Task.AGB):
        item = _ask(template.id, _facts(land_cover=40, activities=(40,), share=62))
        answer = item["messages"][1]["content"]
        assert "210.5" not in answer and "cropland" in answer.lower()
        assert item["target"]["answer"] == item["target"]["agb"] == 210.5
        assert item["target"]["land_cover"] == 40 and item["target"]["activities"] == [
            "agriculture"
        ]


def test_every_family_once_per_draw_with_one_image_token():
    facts = _facts(activities=(50,))
    items = patch_dialogues(
        facts,
        {"split": "train", "shard": 0, "index": 3},
        "train-00000001",
        np.random.default_rng(1),
    )
    assert [i["task"] for i in items] == [t.value for t in Task]
    assert [i["id"] for i in items] == [f"train-00000001-{x}" for x in ("lc", "pc", "ha", "agb")]
    for item in items:
        user, assistant = item["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert user["content"].startswith("<image>\n") and user["content"].count("<image>") == 1
        assert "<image>" not in assistant["content"]


def test_facts_from_a_land_cover_map():
    lc = np.full((2, 25, 25), 112, dtype=np.uint8)
    lc[0, :5] = 40
    lc[0, 20:, 20:] = 50
    lc[1] = 255
    arrays = facts_arrays(lc, np.array([100.0, 5.0]))
    facts = facts_at(arrays, 0)
    assert (facts.land_cover, facts.count, facts.activities) == (112, 3, (40, 50))
    assert facts.share == round(100 * (625 - 125 - 25) / 625)
    assert arrays["land_cover"][1] == 255


# --- sampling -----------------------------------------------------------------------------------


def test_class_weights_follow_the_formula():
    classes = np.array([1] * 16 + [2] * 4)
    weights = class_weights(classes, alpha=0.5)
    np.testing.assert_allclose(weights[0] / weights[-1], (4 / 16) ** 0.5)
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(class_weights(classes, 0.0), np.full(20, 1 / 20))
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        class_weights(classes, 1.5)


def test_balanced_sample_evens_out_classes_and_is_seeded():
    classes = np.array([1] * 900 + [2] * 100)
    draws = balanced_sample(classes, 20000, np.random.default_rng(0), alpha=1.0)
    share = np.mean(classes[draws] == 2)
    assert 0.47 < share < 0.53  # alpha 1: classes equally likely
    half = np.mean(classes[balanced_sample(classes, 20000, np.random.default_rng(0))] == 2)
    assert 0.22 < half < 0.28  # alpha 0.5: 10 / (30 + 10)
    again = balanced_sample(classes, 20000, np.random.default_rng(0), alpha=1.0)
    np.testing.assert_array_equal(draws, again)
    distinct = balanced_sample(classes, 500, np.random.default_rng(0), replace=False)
    assert np.unique(distinct).size == 500 and np.all(np.diff(distinct) > 0)


# --- store --------------------------------------------------------------------------------------


def test_s2_is_stored_without_offset_and_zero_stays_no_data():
    dn = np.array([[[0, 1000, 999, 1500, 65535]]], dtype=np.uint16)  # (1, 1, 5) as (H, W, bands)
    stored = s2_for_store(dn, 1000)
    np.testing.assert_array_equal(stored[:, 0, 0], [0, 1, 1, 500, 64535])
    assert np.isnan(s2_reflectance(stored)[0, 0, 0]) and s2_reflectance(stored)[
        3, 0, 0
    ] == pytest.approx(0.05)


# --- the build ----------------------------------------------------------------------------------


def test_raw_build_layout_and_records(raw_build, agbd_dir):
    names = {p.relative_to(raw_build).as_posix() for p in raw_build.rglob("*") if p.is_file()}
    for split in ("train", "val", "test"):
        assert {f"{split}.jsonl", f"plots/landcover_{split}.png", f"plots/agb_{split}.png"} <= names
        assert {
            f"{split}/shard-00000/{n}" for n in ("s2.npy", "sar.npy", "lc.npy", "meta.json")
        } <= names
    assert {"stats.json", "manifest.json"} <= names
    manifest = json.loads((raw_build / "manifest.json").read_text())
    assert manifest["template_version"] == TEMPLATE_VERSION and manifest["seed"] == 7
    assert manifest["band_order"][8] == "B8A" and manifest["sources"][0]["layout"] == "raw"
    stats = json.loads((raw_build / "stats.json").read_text())["splits"]
    store = PatchStore(raw_build)
    source = {p.key: p for p in open_agbd(agbd_dir / RAW)}
    for split in ("train", "val", "test"):
        records = read_jsonl(raw_build / f"{split}.jsonl")
        assert {r["task"] for r in records} == FAMILIES
        assert Counter(r["task"] for r in records) == Counter(stats[split]["dialogues"])
        assert len({r["id"] for r in records}) == len(records)
        for record in records[::23]:
            ref = record["patch"]
            assert ref["split"] == split
            arrays, meta = store.get(**ref), store.meta(**ref)
            patch = source[meta["key"]]
            np.testing.assert_array_equal(
                arrays["s2"], s2_for_store(patch.s2_dn, meta["boa_offset"])
            )
            np.testing.assert_array_equal(arrays["sar"], np.moveaxis(patch.alos_dn, -1, 0))
            np.testing.assert_array_equal(arrays["lc"], patch.lc)
            if record["task"] == "agb":
                assert record["target"]["answer"] == pytest.approx(patch.agbd, abs=1e-3)
            if record["task"] == "land_cover":
                assert record["target"]["answer"] == meta["land_cover"]
    assert store.get("train", 1, 0)["s2"].shape == (12, 25, 25)  # shard_size 64: several shards


def test_splits_are_tile_disjoint_and_follow_agbd(raw_build, agbd_dir):
    splits, tiles = tile_splits(agbd_dir / RAW), {}  # AGBD's table and the simulated tiles
    for meta in (raw_build).glob("*/shard-*/meta.json"):
        document = json.loads(meta.read_text())
        for patch in document["patches"]:
            assert splits[patch["tile"]] == document["split"]
            tiles.setdefault(patch["tile"], set()).add(document["split"])
    assert tiles and all(len(s) == 1 for s in tiles.values())


def test_tile_in_two_splits_is_an_error():
    inventory = Inventory()
    _check_tile(inventory, "32TNS", "train", "a.h5")
    with pytest.raises(InputError, match=r"tile 32TNS is in split 'val'.*'train'"):
        _check_tile(inventory, "32TNS", "val", "b.h5")


def test_the_same_footprint_in_two_splits_is_an_error(agbd_dir, tmp_path):
    relabelled = tmp_path / "AGBD-Lite-val.h5"
    relabelled.write_bytes((agbd_dir / "AGBD-Lite-train.h5").read_bytes())
    out = tmp_path / "build"
    with pytest.raises(InputError, match="in both split 'train' and 'val'"):
        build_instruct(BuildConfig(agbd=(agbd_dir / RAW, relabelled), out=out))
    assert not out.exists() and leftovers(tmp_path) == []


def test_lite_build_covers_all_families(agbd_dir, tmp_path):
    out = tmp_path / "lite"
    stats = build_instruct(
        BuildConfig(agbd=tuple(agbd_dir / n for n in LITES), out=out, max_per_split=40)
    )
    for split in ("train", "val", "test"):
        assert {r["task"] for r in read_jsonl(out / f"{split}.jsonl")} == FAMILIES
        assert stats[split]["draws"] == 40
    assert stats["val"]["patches"] == 40  # evaluation splits: distinct patches
    assert stats["train"]["patches"] <= 40


def test_two_builds_with_one_seed_are_byte_identical(agbd_dir, tmp_path):
    files = (agbd_dir / RAW, agbd_dir / "AGBD-Lite-val.h5")
    builds = [tmp_path / "a" / "build", tmp_path / "b" / "other"]
    for out in builds:
        build_instruct(BuildConfig(agbd=files, out=out, seed=11, shard_size=50))

    def contents(root):
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    first, second = contents(builds[0]), contents(builds[1])
    assert len(first) > 10 and first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    other = tmp_path / "c"
    build_instruct(BuildConfig(agbd=files, out=other, seed=12, shard_size=50))
    assert (other / "train.jsonl").read_bytes() != first["train.jsonl"]


def test_a_split_without_data_is_left_out_with_a_warning(agbd_dir, tmp_path, caplog):
    out = tmp_path / "train-only"
    with caplog.at_level(logging.WARNING):
        stats = build_instruct(BuildConfig(agbd=(agbd_dir / "AGBD-Lite-train.h5",), out=out))
    assert set(stats) == {"train"} and not (out / "val.jsonl").exists()
    assert "no AGBD file provides the 'val' split" in caplog.text


# --- bad inputs: clear errors and no partial output ----------------------------------------------


def _empty_lite(source: Path, target: Path) -> Path:
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:

        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                dst.create_dataset(name, shape=(0, *item.shape[1:]), dtype=item.dtype)

        src.visititems(visit)
    return target


def _with_lc_code(source: Path, target: Path, code: int) -> Path:
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as h5:
        lc = h5["LC"][...]
        lc[5, 3, 4, 0] = code
        h5["LC"][...] = lc
    return target


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.h5"
    path.write_text("hello\n")
    return path


def _no_keys(tmp_path: Path) -> Path:
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("meta")
    return path


def _copy_raw(source: Path, target: Path) -> Path:
    """A copy of a raw AGBD file with its sidecar of tile splits (the simulated boreal tiles)."""
    target.write_bytes(source.read_bytes())
    tile_splits_path(target).write_bytes(tile_splits_path(source).read_bytes())
    return target


def _missing_key(agbd_dir: Path, tmp_path: Path) -> Path:
    path = _copy_raw(agbd_dir / RAW, tmp_path / "data.h5")
    with h5py.File(path, "r+") as h5:
        del h5["34SEH/GEDI/agbd"]
    return path


BAD_INPUTS = {
    "text file": (lambda d, t: _text_file(t), r"notes\.h5 is not an HDF5 file"),
    "hdf5 without keys": (lambda d, t: _no_keys(t), r"empty\.h5 is an HDF5 file but not AGBD"),
    "missing key": (_missing_key, r"data\.h5: tile 34SEH has no key 'GEDI/agbd'"),
    "unknown land cover": (
        lambda d, t: _with_lc_code(d / "AGBD-Lite-val.h5", t / "AGBD-Lite-val.h5", 41),
        r"AGBD-Lite-val\.h5, key 'LC', patches \d+-\d+, holds land-cover code\(s\) \[41\]",
    ),
    "empty split": (
        lambda d, t: _empty_lite(d / "AGBD-Lite-val.h5", t / "AGBD-Lite-val.h5"),
        r"Split 'val' has no usable patch: AGBD-Lite-val\.h5",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_raise_clear_errors_and_leave_nothing(agbd_dir, tmp_path, case):
    make, message = BAD_INPUTS[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    bad = make(agbd_dir, inputs)
    out = tmp_path / "build"
    with pytest.raises(InputError, match=message):
        build_instruct(BuildConfig(agbd=(agbd_dir / "AGBD-Lite-train.h5", bad), out=out))
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_failed_overwrite_keeps_the_old_build(raw_build, agbd_dir, tmp_path):
    before = (raw_build / "train.jsonl").read_bytes()
    config = BuildConfig(agbd=(_text_file(tmp_path),), out=raw_build, overwrite=True)
    with pytest.raises(InputError, match="not an HDF5 file"):
        build_instruct(config)
    assert (raw_build / "train.jsonl").read_bytes() == before
    assert leftovers(raw_build.parent) == []


def test_cli_builds_and_reports_bad_arguments(agbd_dir, tmp_path, capsys, caplog):
    out = tmp_path / "cli"
    args = ["--agbd", str(agbd_dir / "AGBD-Lite-test.h5"), "--out", str(out), "--seed", "2"]
    assert main(args) == 0
    assert (out / "test.jsonl").is_file()
    assert main(args) == 2  # out exists
    assert "--overwrite" in caplog.text
    assert main([*args, "--overwrite", "--max-per-split", "5"]) == 0
    assert json.loads((out / "stats.json").read_text())["splits"]["test"]["draws"] == 5
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--overwrite", "--max-per-split", "0"])
    assert (
        exit_info.value.code == 2
        and "--max-per-split must be at least 1" in capsys.readouterr().err
    )
    assert json.loads((out / "stats.json").read_text())["splits"]["test"]["draws"] == 5  # untouched


# --- labels, offsets and damaged files ----------------------------------------------------------


def _edited_lite(source: Path, target: Path, edit) -> Path:
    """A copy of a Lite file with ``edit(h5)`` applied."""
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "r+") as h5:
        edit(h5)
    return target


def _bad_labels(h5) -> None:
    agbd = h5["GEDI/agbd"][...]
    agbd[:3] = [-9999.0, -5.0, 612.0]
    h5["GEDI/agbd"][...] = agbd
    s2 = h5["S2_bands"][...]
    s2[3] = 0  # no Sentinel-2 data at all
    h5["S2_bands"][...] = s2
    for key in ("GEDI/lat_decimal", "GEDI/lat_offset", "GEDI/lon_decimal", "GEDI/lon_offset"):
        values = h5[key][...]
        values[5] = values[4]  # the same footprint twice
        h5[key][...] = values


def test_labels_out_of_range_empty_s2_and_repeats_are_dropped_and_counted(agbd_dir, tmp_path):
    bad = _edited_lite(agbd_dir / "AGBD-Lite-val.h5", tmp_path / "AGBD-Lite-val.h5", _bad_labels)
    out = tmp_path / "build"
    stats = build_instruct(BuildConfig(agbd=(bad,), out=out))["val"]
    assert stats["dropped"] == {
        "agb_fill_value": 1,
        "agb_negative": 1,
        "agb_above_500": 1,
        "s2_no_data": 1,
        "land_cover_no_data": 0,
        "duplicate_footprint": 1,
    }
    assert stats["usable_patches"] == stats["source_patches"] - 5 == stats["patches"]
    written = json.loads((out / "stats.json").read_text())["splits"]["val"]
    assert written["dropped"] == stats["dropped"]
    answers = [r["target"]["answer"] for r in read_jsonl(out / "val.jsonl") if r["task"] == "agb"]
    assert answers and all(0 <= a <= 500 for a in answers)
    stored = {
        m["index"] for m in json.loads((out / "val/shard-00000/meta.json").read_text())["patches"]
    }
    assert not stored & {0, 1, 2, 3, 5}


def test_the_build_removes_the_offset_each_product_carries(agbd_dir, tmp_path):
    """AGBD's flag says 0 for Lite regions whose products carry +1000 DN (the caveat). Where the
    values of enough of a product's patches tell, every patch of it gets the true offset; a
    product whose patches are all too bright to tell keeps what its metadata say."""
    from reo_core.agbd.offset import MIN_PRODUCT_VOTES
    from reo_core.synth.agbd_h5 import SYNTHETIC_TILES

    out = tmp_path / "lite"
    stats = build_instruct(BuildConfig(agbd=tuple(agbd_dir / n for n in LITES), out=out))
    truth = {t.region: 1000 * (t.baseline >= (4, 0)) for t in SYNTHETIC_TILES}
    patches = [
        patch
        for meta in out.glob("*/shard-*/meta.json")
        for patch in json.loads(meta.read_text())["patches"]
    ]
    told = [p for p in patches if p["boa_offset_source"] in ("data", "product")]
    assert len(told) >= 0.75 * len(patches)
    for patch in told:
        assert patch["boa_offset"] == truth[patch["region"]], patch["key"]
    votes: dict[tuple[str, int, int], int] = {}
    for patch in patches:
        product = (patch["source"], patch["region"], patch["s2_date"])
        votes[product] = votes.get(product, 0) + (patch["boa_offset_source"] == "data")
    flags = {(t.split, t.region): 1000 * t.boa_flag for t in SYNTHETIC_TILES}
    for patch in patches:
        if patch["boa_offset_source"] == "metadata":
            assert votes[(patch["source"], patch["region"], patch["s2_date"])] < MIN_PRODUCT_VOTES
            split = patch["source"].removeprefix("AGBD-Lite-").removesuffix(".h5")
            assert patch["boa_offset"] == flags[(split, patch["region"])]  # Lite's only metadata
    val = stats["val"]["boa_offset"]
    assert val["data_against_metadata"] == stats["val"]["source_patches"]  # the flag is 0 there
    assert val["product"]["1000"] == stats["val"]["source_patches"]  # pooled per product
    document = json.loads((out / "statistics.json").read_text())
    assert document["name"] == "reo-instruct-train"
    assert document["statistics"]["S2_bands"]["B02"]["p1"] < 0.05  # offset-free blue


def _cli_fails(agbd: Path, out: Path, caplog) -> str:
    """Run the builder's command line on ``agbd``; return its one error line."""
    caplog.clear()
    assert main(["--agbd", str(agbd), "--out", str(out)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert not out.exists() and leftovers(out.parent) == []
    return errors[0]


def _set(key: str, index: int, value: float):
    def edit(h5) -> None:
        values = h5[key][...]
        values[index] = value
        h5[key][...] = values

    return edit


def test_a_nan_label_names_file_and_patch(agbd_dir, tmp_path, caplog):
    bad = _edited_lite(
        agbd_dir / "AGBD-Lite-val.h5", tmp_path / "AGBD-Lite-val.h5", _set("GEDI/agbd", 7, np.nan)
    )
    message = _cli_fails(bad, tmp_path / "build", caplog)
    assert "AGBD-Lite-val.h5, patch 7: the AGB label GEDI/agbd is nan" in message
    assert "download it again, or remove these patches" in message


def test_a_nan_coordinate_names_file_tile_and_patch(agbd_dir, tmp_path, caplog):
    raw = _copy_raw(agbd_dir / RAW, tmp_path / RAW)
    with h5py.File(raw, "r+") as h5:
        _set("GEDI/lon_decimal", 2, np.nan)(h5["34SEH"])
    message = _cli_fails(raw, tmp_path / "build", caplog)
    assert f"{RAW}: tile 34SEH, patch 2: the longitude is nan" in message


def test_a_truncated_file_is_named(agbd_dir, tmp_path, caplog):
    cut = tmp_path / "AGBD-Lite-val.h5"
    whole = (agbd_dir / "AGBD-Lite-val.h5").read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    message = _cli_fails(cut, tmp_path / "build", caplog)
    assert message.startswith("AGBD-Lite-val.h5 is truncated or damaged and cannot be opened")
    assert "truncated file" in message and message.endswith("download it again.")


def test_a_corrupt_chunk_names_file_tile_and_patch(agbd_dir, tmp_path, caplog):
    raw = tmp_path / RAW
    data = bytearray((agbd_dir / RAW).read_bytes())
    with h5py.File(agbd_dir / RAW, "r") as h5:
        chunk = h5["36MVA/S2_bands"].id.get_chunk_info(0)
        first = chunk.chunk_offset[0]
    middle = chunk.byte_offset + chunk.size // 2
    data[middle : middle + 64] = bytes(64)
    _copy_raw(agbd_dir / RAW, raw).write_bytes(bytes(data))
    message = _cli_fails(raw, tmp_path / "build", caplog)
    assert f"{RAW}: tile 36MVA, patch {first}: the stored data cannot be read" in message
    assert message.endswith("the file is damaged: download it again.")
