"""reo_core.atomic: strict JSON, files and folders that appear complete or not at all."""

from __future__ import annotations

import errno
import json
import math
import os

import pytest
from small_disk import small_disk

from reo_core import atomic


def hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_json_is_strict_and_nan_and_inf_become_null(tmp_path):
    document = {
        "b": math.nan,
        "a": [1.5, math.inf, (-math.inf, 2)],
        "c": {"d": float("nan")},
        3: "int key",
        "é": "ü",
    }
    path = atomic.write_json(tmp_path / "x.json", document)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "3": "int key",
        "a": [1.5, None, [None, 2]],
        "b": None,
        "c": {"d": None},
        "é": "ü",
    }
    assert text.endswith("}\n") and list(json.loads(text)) == ["3", "a", "b", "c", "é"]
    one_line = atomic.json_text({"id": math.nan, "z": 1, "a": 2}, indent=None, sort_keys=False)
    assert one_line == '{"id": null, "z": 1, "a": 2}'


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = atomic.write_text(tmp_path / "summary.json", "old\n")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        atomic.write_json(path, {"new": 1})
    assert path.read_text() == "old\n" and hidden(tmp_path) == []


def test_replacing_renames_only_on_success(tmp_path):
    target = tmp_path / "quicklook.png"
    with atomic.replacing(target) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".quicklook.png.")
        temporary.write_bytes(b"one")
    assert target.read_bytes() == b"one"
    with pytest.raises(RuntimeError), atomic.replacing(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("drawing failed")
    assert target.read_bytes() == b"one" and hidden(tmp_path) == []


def test_staged_folder_replaces_the_old_folder_only_when_complete(tmp_path):
    folder = tmp_path / "report"
    with atomic.staged_folder(folder) as staging:
        (staging / "a.txt").write_text("v1")
    with pytest.raises(RuntimeError), atomic.staged_folder(folder) as staging:
        (staging / "a.txt").write_text("v2, half")
        assert (folder / "a.txt").read_text() == "v1"  # the old version is there meanwhile
        raise RuntimeError("failed half-way")
    assert (folder / "a.txt").read_text() == "v1" and hidden(tmp_path) == []
    with atomic.staged_folder(folder) as staging:
        (staging / "b.txt").write_text("v3")
    assert sorted(p.name for p in folder.iterdir()) == ["b.txt"] and hidden(tmp_path) == []


def test_replace_folder_puts_the_old_folder_back_when_the_swap_fails(tmp_path, monkeypatch):
    folder, staging = tmp_path / "model", tmp_path / ".model.new"
    folder.mkdir()
    (folder / "weights").write_text("old")
    staging.mkdir()
    (staging / "weights").write_text("new")
    real_replace, calls = os.replace, []

    def second_rename_fails(source, destination):
        calls.append(source)
        if len(calls) == 2:
            raise OSError(errno.EXDEV, "simulated failure")
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="simulated"):
        atomic.replace_folder(staging, folder)
    assert (folder / "weights").read_text() == "old"
    assert (staging / "weights").read_text() == "new"  # the caller's to delete


def test_a_full_disk_keeps_the_old_file(tmp_path):
    with small_disk(tmp_path / "disk", 64) as disk:
        path = atomic.write_json(disk / "state.json", {"step": 1})
        with pytest.raises(OSError) as caught:
            atomic.write_json(path, {"step": 2, "padding": "x" * 200_000})
        assert caught.value.errno == errno.ENOSPC
        assert json.loads(path.read_text()) == {"step": 1} and hidden(disk) == []
