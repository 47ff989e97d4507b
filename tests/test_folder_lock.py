"""One run per output folder: reo_core.folder_lock."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket

import pytest

from reo_core import folder_lock
from reo_core.errors import OutputError
from reo_core.folder_lock import LOCK_NAME, FolderLock, LockHolder


def test_a_held_folder_is_refused_naming_its_holder_and_freed_on_release(tmp_path):
    first = FolderLock(tmp_path)
    assert first.acquire() is None
    holder = LockHolder(**json.loads((tmp_path / LOCK_NAME).read_text()))
    assert (holder.pid, holder.host) == (os.getpid(), socket.gethostname())
    with pytest.raises(OutputError, match=rf"in use by another REO run \(pid {os.getpid()} on "):
        FolderLock(tmp_path).acquire()
    first.release()
    assert not (tmp_path / LOCK_NAME).exists()
    with FolderLock(tmp_path) as again:
        assert again.path.is_file()


def test_a_lock_left_by_a_dead_run_is_taken_over_and_said(tmp_path, caplog):
    dead = LockHolder(pid=999_999, host="elsewhere", started="2020-01-01T00:00:00", command="x")
    (tmp_path / LOCK_NAME).write_text(json.dumps(dead.__dict__))
    with caplog.at_level(logging.WARNING):
        lock = FolderLock(tmp_path)
        assert lock.acquire() == dead
    assert "left by a run that no longer runs (pid 999999 on elsewhere" in caplog.text
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()


def test_a_file_system_without_locks_is_used_with_a_warning(tmp_path, monkeypatch, caplog):
    def unsupported(fd):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(folder_lock, "_try_lock", unsupported)
    with caplog.at_level(logging.WARNING), FolderLock(tmp_path):
        pass
    assert "cannot lock" in caplog.text and "No locks available" in caplog.text
