"""An estimate's output folder: all products or none, one run at a time, earlier results kept.

Full disks are real (a small tmpfs, skipped where mounting is not permitted) or injected; the
second run is a thread or another process; the failing reads come from a corrupted tile.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
import rasterio
from infer_helpers import REPO_ROOT, cli_args, scene_origin, scene_s2
from small_disk import fill, small_disk

from reo_core import predict
from reo_core.atomic import json_text
from reo_core.errors import Canceled, OutputError
from reo_core.infer import estimate as estimate_module
from reo_core.infer.estimate import EstimateRequest, run_estimate
from reo_core.infer.inputs import InputSpec
from reo_core.infer.output_folder import JOURNAL_NAME, OutputFolder
from reo_core.raster import Extent

EXPECTED = [
    "agb.tif",
    "agb_std.tif",
    "land_cover.tif",
    "patch_count.tif",
    "quicklook.png",
    "summary.json",
]


def request(scene, out, **options) -> EstimateRequest:
    """An estimate of the scene's top-left 4 x 4 patches (1 km), quick on the tiny models."""
    x0, y0 = scene_origin(scene)
    extent = Extent.from_bounds(x0, y0 - 1000, x0 + 1000, y0, "EPSG:32632")
    return EstimateRequest(InputSpec(s2=scene_s2(scene), extent=extent), out, **options)


def contents(folder) -> dict[str, bytes]:
    """Every file in ``folder`` (hidden ones too) with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_complete(out, summary: dict) -> None:
    """The folder holds exactly the run's products, each readable, and nothing hidden."""
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([*summary["files"].values(), "summary.json"])
    written = json.loads((out / "summary.json").read_text())
    assert written == json.loads(json_text(summary))  # (tuples are lists in JSON)
    for name in names:
        if name.endswith(".tif"):
            with rasterio.open(out / name) as src:
                src.read()


def failed_step(message: str) -> str:
    for step, mark in (
        ("raster", ".tif into"),
        ("quicklook", "quicklook.png into"),
        ("summary", "summary.json into"),
    ):
        if mark in message:
            return step
    return "folder"


def test_a_full_disk_publishes_nothing_and_keeps_the_earlier_result(engines, scene, tmp_path):
    engine = engines("ms")
    with small_disk(tmp_path / "disk", 1024) as disk:
        out = disk / "out"
        assert_complete(out, run_estimate(engine, request(scene, out)))
        earlier, failed_at = contents(out), set()
        for leave_kib in (0, 8, 24, 60, 128):  # (measured: folder, raster, quicklook, summary)
            fill(disk, leave_kib * 1024)
            try:
                summary = run_estimate(engine, request(scene, out, overwrite=True))
            except OutputError as error:
                assert "free space or choose another output folder" in error.message
                failed_at.add(failed_step(error.message))
                assert contents(out) == earlier  # the earlier result, whole; nothing hidden left
            else:
                assert_complete(out, summary)
                earlier = contents(out)
            (disk / "ballast").unlink()
        assert {"raster", "quicklook"} <= failed_at, failed_at  # none of them left a trace


def test_a_failure_at_any_step_publishes_nothing(engines, scene, tmp_path, monkeypatch):
    engine, out = engines("ms"), tmp_path / "out"
    run_estimate(engine, request(scene, out))
    earlier = contents(out)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(estimate_module, "write_quicklook", no_space)
    with pytest.raises(OutputError, match=r"^Writing quicklook.png into .* MB free on that disk"):
        run_estimate(engine, request(scene, out, overwrite=True))
    assert contents(out) == earlier
    monkeypatch.undo()
    monkeypatch.setattr(estimate_module, "write_json", no_space)
    with pytest.raises(OutputError, match=r"^Writing summary.json into"):
        run_estimate(engine, request(scene, out, overwrite=True))
    assert contents(out) == earlier


def test_a_second_run_into_a_busy_folder_is_refused_and_touches_nothing(engines, scene, tmp_path):
    engine, out = engines("ms"), tmp_path / "out"
    predicting, go_on, first = threading.Event(), threading.Event(), {}

    def hold(fraction: float, message: str) -> None:
        predicting.set()
        go_on.wait(60)

    thread = threading.Thread(
        target=lambda: first.update(summary=run_estimate(engine, request(scene, out), hold))
    )
    thread.start()
    try:
        assert predicting.wait(60)
        during = contents(out)  # the first run's lock file (its staging folder is not a file)
        with pytest.raises(OutputError) as caught:
            run_estimate(engine, request(scene, out, overwrite=True))
        message = caught.value.message
        assert message.startswith(f"The output folder {out} is in use by another REO run ")
        assert f"(pid {os.getpid()} on {socket.gethostname()}, started " in message
        assert message.endswith("wait until it has finished, or choose another output folder.")
        assert contents(out) == during
    finally:
        go_on.set()
        thread.join(60)
    assert_complete(out, first["summary"])


LOCK_HOLDER = """
import sys
from pathlib import Path
from reo_core.folder_lock import FolderLock

FolderLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes stdin, then exit without releasing it
"""


def test_another_process_holding_the_folder_refuses_predict_until_it_ends(
    models, scene, tmp_path, caplog
):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(out)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    argv = cli_args(models["rgb"], scene_s2(scene), "--max-new-tokens", 4, "--threads", 1, out=out)
    try:
        assert holder.stdout.readline() == "locked\n"
        with caplog.at_level(logging.INFO):
            assert predict.main(argv) == 2
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "\n" not in errors[0]
        assert f"is in use by another REO run (pid {holder.pid} on " in errors[0]
        assert sorted(p.name for p in out.iterdir()) == [".reo-lock"]  # the holder's, untouched
    finally:
        holder.stdin.close()
        holder.wait(30)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert predict.main(argv) == 0  # the lock its holder left behind is taken over
    assert f"left by a run that no longer runs (pid {holder.pid} on " in caplog.text
    assert_complete(out, json.loads((out / "summary.json").read_text()))


def test_earlier_results_are_kept_unless_overwrite_and_then_replaced_whole(
    engines, scene, tmp_path
):
    out = tmp_path / "out"
    run_estimate(engines("ms"), request(scene, out))  # with agb_std.tif and a quicklook
    earlier = contents(out)
    assert sorted(earlier) == EXPECTED
    with pytest.raises(OutputError) as caught:
        run_estimate(engines("rgb"), request(scene, out))
    assert caught.value.message == (
        f"The output folder {out} holds the results of an earlier run (agb.tif, agb_std.tif, "
        "land_cover.tif, patch_count.tif, quicklook.png, summary.json); choose another output "
        'folder, or let this run replace them (--overwrite; for the worker "overwrite": true) '
        "once it has finished."
    )
    assert contents(out) == earlier
    summary = run_estimate(engines("rgb"), request(scene, out, quicklook=False, overwrite=True))
    assert_complete(out, summary)  # no agb_std.tif nor quicklook.png of the earlier run is left
    assert sorted(p.name for p in out.iterdir()) == [
        "agb.tif",
        "land_cover.tif",
        "patch_count.tif",
        "summary.json",
    ]


def test_a_publish_interrupted_by_a_kill_is_completed_by_the_next_run(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("agb.tif", "agb_std.tif", "summary.json"):
        (out / name).write_text(f"earlier {name}")
    folder = OutputFolder(out, overwrite=True)
    staging = folder.open()
    for name in ("agb.tif", "land_cover.tif", "summary.json"):
        (staging / name).write_text(f"new {name}")
    real_replace, moves = os.replace, []

    def killed_after_one_move(source, destination):
        if moves:
            raise KeyboardInterrupt  # stands for the kill: nothing after this runs
        moves.append(source)
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", killed_after_one_move)
    with pytest.raises(KeyboardInterrupt):
        folder.publish(["agb.tif", "land_cover.tif"])
    monkeypatch.undo()
    os.close(folder._lock._fd)  # the killed process's lock goes with it; its file stays
    assert (out / JOURNAL_NAME).is_file() and not (out / "summary.json").exists()
    with pytest.raises(OutputError, match="holds the results of an earlier run"):
        OutputFolder(out).check()  # the next run completes the publish before anything else
    assert contents(out) == {
        "agb.tif": b"new agb.tif",
        "land_cover.tif": b"new land_cover.tif",
        "summary.json": b"new summary.json",
    }


def corrupt_tile(source, target, band: int) -> None:
    """``target``: ``source`` with the bytes of one tile of ``band`` in its middle overwritten."""
    shutil.copy(source, target)
    with rasterio.open(target) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_5_5", "TIFF", bidx=band))
        size = int(src.get_tag_item("BLOCK_SIZE_5_5", "TIFF", bidx=band))
    with open(target, "r+b") as file:
        file.seek(offset)
        file.write(b"\xff" * size)


@pytest.mark.parametrize("screening", [False, True])
def test_a_tile_that_fails_to_read_is_one_line_exit_2_and_nothing_is_left(
    models, tmp_path, caplog, screening
):
    from rasters import s2_reflectance, write_s2_stack

    from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER

    tiled = write_s2_stack(
        tmp_path / "S2_tiled.tif",
        s2_reflectance(200, 200),
        tiled=True,
        blockxsize=32,
        blockysize=32,
        interleave="band",
        compress="deflate",
    )
    # B03: read by the rgb model patch by patch, not by the checks that sample the data at open
    corrupt_tile(tiled, tmp_path / "S2_corrupt.tif", AGBD_BAND_ORDER.index("B03") + 1)
    out = tmp_path / "out"
    argv = cli_args(
        models["rgb"],
        [tmp_path / "S2_corrupt.tif"],
        *("--max-new-tokens", 4, "--threads", 1, "--block-patches", 2),
        *(() if screening else ("--no-cloud-screening",)),
        out=out,
    )
    with caplog.at_level(logging.INFO):
        assert predict.main(argv) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith("Reading the imagery failed (")
    assert "S2_corrupt.tif" in errors[0] and errors[0].endswith("Nothing was written.")
    # Without the screening it failed mid-run, after blocks that read well; the screening's first
    # pass over the extent (its cloud search, reo_core.raster.cloud_reach) meets the bad tile first.
    assert ("patches predicted" in caplog.text) is not screening
    assert not out.exists()  # the folder the run made is gone with it
    corrupt_tile(tiled, tmp_path / "S2_corrupt_B02.tif", AGBD_BAND_ORDER.index("B02") + 1)
    caplog.clear()
    with caplog.at_level(logging.ERROR):  # B02 is sampled by the input checks at the start
        assert predict.main([*argv[:1], str(tmp_path / "S2_corrupt_B02.tif"), *argv[2:]]) == 2
    assert caplog.records[-1].getMessage().startswith("Reading the imagery failed (")
    assert not out.exists()


def test_an_output_folder_that_cannot_be_written_is_one_line_exit_2(
    models, scene, tmp_path, caplog
):
    (tmp_path / "file").write_text("x")
    argv = cli_args(models["rgb"], scene_s2(scene))
    with caplog.at_level(logging.ERROR):
        assert predict.main([*argv, "--out", str(tmp_path / "file" / "out")]) == 2
    message = caplog.records[-1].getMessage()
    assert message.startswith(f"Cannot create the output folder {tmp_path / 'file' / 'out'} (")
    assert message.endswith("); choose a folder you can write to.") and "\n" not in message
    with small_disk(tmp_path / "readonly", 64) as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert predict.main([*argv, "--out", str(disk)]) == 2
        message = caplog.records[-1].getMessage()
        assert message == (
            f"Cannot write into the output folder {disk} (Read-only file system); choose a "
            "folder you can write to."
        )
        assert list(disk.iterdir()) == []


def test_a_canceled_run_leaves_the_folder_as_it_was(engines, scene, tmp_path):
    engine, out = engines("ms"), tmp_path / "out"
    batches = []

    def cancel_after_two_batches() -> bool:
        batches.append(1)
        return len(batches) > 2

    with pytest.raises(Canceled):
        run_estimate(engine, request(scene, out), is_canceled=cancel_after_two_batches)
    assert len(batches) > 2 and not out.exists()  # the folder it made is gone too
    run_estimate(engine, request(scene, out))
    earlier, batches[:] = contents(out), []
    with pytest.raises(Canceled):
        run_estimate(
            engine, request(scene, out, overwrite=True), is_canceled=cancel_after_two_batches
        )
    assert contents(out) == earlier


def test_a_killed_run_leaves_no_product_and_the_next_run_cleans_up(models, scene, tmp_path):
    out = tmp_path / "out"
    options = ("--max-new-tokens", 4, "--threads", 1, "--batch-size", 4, "--block-patches", 2)
    argv = ["-m", "reo_core.predict", *cli_args(models["rgb"], scene_s2(scene), *options, out=out)]
    run = subprocess.Popen(
        [sys.executable, *argv],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    for line in run.stderr:  # predict logs progress every 10 %
        if "patches predicted" in line:
            break
    run.kill()
    run.wait(30)
    left = sorted(p.name for p in out.iterdir())
    assert left[0] == ".reo-lock" and left[1].startswith(".reo-staging-") and len(left) == 2
    x0, y0 = scene_origin(scene)
    small = ["--extent", x0, y0 - 1000, x0 + 1000, y0, "--extent-crs", "EPSG:32632"]
    assert predict.main([*argv[2:], *map(str, small)]) == 0  # takes the lock over, cleans up
    assert_complete(out, json.loads((out / "summary.json").read_text()))
