"""The output folder of an estimate: all of a run's products appear at once, or none do.

A run takes the folder's lock (``folder_lock``), so two runs never write into one folder, and
writes every product (rasters, quicklook, summary.json) into a private staging folder inside it
(``.reo-staging-<pid>-<id>``). Only when all are complete are they published: summary.json of an
earlier run is removed first (a folder without summary.json holds no complete result), the new
files are renamed into the folder, earlier products the new run does not make are removed, and
summary.json comes last. A run that fails, is canceled or killed publishes nothing, and the
earlier products stay as they were. A publish interrupted by a kill is written down first
(``.reo-publish.json``), and the next run into the folder completes it.

Earlier products are replaced only when the run says so (``overwrite``): otherwise the run is
refused before it starts, so an old agb.tif can never be read as the result of a new run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from reo_core.atomic import write_json
from reo_core.errors import OutputError
from reo_core.folder_lock import FolderLock, cannot_write
from reo_core.infer.products import PRODUCTS, QUICKLOOK_NAME, SUMMARY_NAME

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".reo-staging-"
JOURNAL_NAME = ".reo-publish.json"  # what a publish is moving, until it is done
PRODUCT_NAMES = (*(p.filename for p in PRODUCTS.values()), QUICKLOOK_NAME, SUMMARY_NAME)


class OutputFolder:
    """``out`` for one run: ``open()`` gives the staging folder, ``publish()`` makes it the result.

    Used as a context manager: leaving it removes what was not published, releases the lock, and
    removes ``out`` again if the run created it and left nothing in it.
    """

    def __init__(self, out: Path, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.overwrite = overwrite
        self.staging: Path | None = None
        self._lock = FolderLock(self.out)
        self._created = False

    def open(self) -> Path:
        """Lock ``out`` and make the staging folder; OutputError when the folder cannot be used."""
        self._create()
        try:
            self._lock.acquire()
            self._recover()
            self._refuse_earlier_results()
            staging = self.out / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                staging.mkdir()
            except OSError as error:
                raise cannot_write(self.out, error) from None
            self.staging = staging
        except BaseException:
            self.close()
            raise
        return staging

    def check(self) -> None:
        """Everything ``open`` checks, then nothing kept: for a command line before it loads a
        model."""
        self.open()
        self.close()

    def publish(self, names: list[str]) -> None:
        """Move the staged files ``names`` into ``out`` (summary.json last) as the run's result."""
        if self.staging is None:
            raise RuntimeError("OutputFolder.publish before open")
        ordered = [n for n in names if n != SUMMARY_NAME] + [SUMMARY_NAME]
        try:
            write_json(self.out / JOURNAL_NAME, {"staging": self.staging.name, "files": ordered})
        except OSError as error:  # nothing moved yet: the earlier result stays as it is
            raise cannot_write(self.out, error) from None
        _complete_publish(self.out)

    def close(self) -> None:
        """Remove the unpublished staging folder, release the lock, and an ``out`` left empty."""
        staging, self.staging = self.staging, None
        if staging is not None and not (self.out / JOURNAL_NAME).is_file():
            shutil.rmtree(staging, ignore_errors=True)  # (a publish under way is completed later)
        self._lock.release()
        if self._created:
            self._created = False
            with contextlib.suppress(OSError):  # not empty: it holds other files, keep it
                self.out.rmdir()

    def __enter__(self) -> Path:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _create(self) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise OutputError(f"The output {self.out} is a file; give a folder for the results.")
        if self.out.is_dir():
            return
        try:
            self.out.mkdir(parents=True)
        except FileExistsError:  # another run made it meanwhile: the lock decides
            return
        except OSError as error:
            raise OutputError(
                f"Cannot create the output folder {self.out} ({error.strerror or error}); choose "
                "a folder you can write to."
            ) from None
        self._created = True

    def _recover(self) -> None:
        """Complete a publish a killed run left; remove staging folders of killed runs."""
        if (self.out / JOURNAL_NAME).is_file():
            logger.warning("completing the publishing of an interrupted run in %s", self.out)
            _complete_publish(self.out)
        for left in self.out.glob(f"{STAGING_PREFIX}*"):
            logger.info("removing %s, left by a run that was stopped", left)
            shutil.rmtree(left, ignore_errors=True)

    def _refuse_earlier_results(self) -> None:
        earlier = [name for name in PRODUCT_NAMES if (self.out / name).exists()]
        if earlier and not self.overwrite:
            raise OutputError(
                f"The output folder {self.out} holds the results of an earlier run "
                f"({', '.join(earlier)}); choose another output folder, or let this run replace "
                'them (--overwrite; for the worker "overwrite": true) once it has finished.'
            )


def _complete_publish(out: Path) -> None:
    """Carry out the publish written in ``out``'s journal; safe to repeat after an interruption."""
    journal = out / JOURNAL_NAME
    plan = json.loads(journal.read_text(encoding="utf-8"))
    staging, names = out / plan["staging"], plan["files"]
    if (staging / SUMMARY_NAME).is_file():  # else every file has been moved already
        (out / SUMMARY_NAME).unlink(missing_ok=True)  # the earlier result is incomplete from here
        for name in names[:-1]:
            if (staging / name).exists():
                os.replace(staging / name, out / name)
        for name in set(PRODUCT_NAMES) - set(names):  # earlier products this run does not make
            (out / name).unlink(missing_ok=True)
        os.replace(staging / SUMMARY_NAME, out / SUMMARY_NAME)
    journal.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    logger.info("published %s in %s", ", ".join(names), out)
