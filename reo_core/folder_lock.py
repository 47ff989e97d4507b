"""A lock on a folder, so that two runs never write into one folder at the same time.

The lock is ``<folder>/.reo-lock``, held with the operating system's file lock (``flock`` on
POSIX, ``msvcrt.locking`` on Windows) for as long as the run lasts. The system releases it when
the process ends, however it ends, so a killed run never blocks the folder: the next run takes the
lock over and logs whose it was. The file names its holder (pid, host, start time, command) so
that a refused run can say which run is busy with the folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from reo_core.errors import OutputError

logger = logging.getLogger(__name__)

LOCK_NAME = ".reo-lock"
WINDOWS_LOCK_OFFSET = 2**30  # Windows locks are mandatory: lock a byte past the holder's details


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as written in the lock file."""

    pid: int
    host: str
    started: str  # local time, ISO 8601
    command: str

    @classmethod
    def this_process(cls) -> LockHolder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=time.strftime("%Y-%m-%dT%H:%M:%S"),
            command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300],
        )

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}: {self.command}"


class FolderLock:
    """Exclusive use of ``folder`` by this process; ``acquire`` raises OutputError when it is
    busy."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> LockHolder | None:
        """Take the lock; the holder of a lock left by a run that ended without releasing it."""
        while True:
            fd = self._open()
            if not self._try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputError(
                    f"The output folder {self.folder} is in use by another REO run "
                    f"({holder.describe() if holder else 'its details are being written'}); wait "
                    "until it has finished, or choose another output folder."
                )
            if _same_file(fd, self.path):  # not a lock file its holder unlinked meanwhile
                break
            os.close(fd)
        left = _read_holder(fd)
        if left is not None:
            logger.warning(
                "took over the lock on %s left by a run that no longer runs (%s)",
                self.folder,
                left.describe(),
            )
        self._fd = fd
        try:
            _write_holder(fd, LockHolder.this_process())
        except OSError as error:  # a full disk
            self.release()
            raise cannot_write(self.folder, error) from None
        return left

    def release(self) -> None:
        """Give the lock back and remove its file."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if os.name == "nt":  # Windows cannot delete a file that is open
            _unlock(fd)
            os.close(fd)
            self.path.unlink(missing_ok=True)
            return
        self.path.unlink(missing_ok=True)  # under the lock: nobody can hold this file meanwhile
        os.close(fd)

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _try_lock(self, fd: int) -> bool:
        try:
            return _try_lock(fd)
        except OSError as error:  # a file system without locks (some network shares)
            logger.warning(
                "cannot lock %s (%s): another run could write into the folder at the same time",
                self.folder,
                error.strerror or error,
            )
            return True

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise cannot_write(self.folder, error) from None


def cannot_write(folder: Path, error: OSError) -> OutputError:
    """The message for an output folder this process cannot write into (or whose disk is full)."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(
            f"The disk of the output folder {folder} is full ({error.strerror}); free space or "
            "choose another output folder."
        )
    return OutputError(
        f"Cannot write into the output folder {folder} ({error.strerror or error}); choose a "
        "folder you can write to."
    )


def _try_lock(fd: int) -> bool:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    return os.path.samestat(os.fstat(fd), on_disk)


def _read_holder(fd: int) -> LockHolder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8")
        return LockHolder(**json.loads(text)) if text.strip() else None
    except (OSError, ValueError, TypeError):  # unreadable, or being written right now
        return None


def _write_holder(fd: int, holder: LockHolder) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(asdict(holder)).encode("utf-8"))
    os.fsync(fd)
