"""The folder of one estimate: a new name for every run, and nothing left behind when it ends
without a result (canceled or failed).

Each run writes into a folder of its own (``agb-<date>-<time>`` in the dock, ``reo-<id>`` in
Processing's temporary folder) that did not exist before, so rasters open in QGIS are never
overwritten and a run that gives nothing can take its folder away again without touching anything
else.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from reo_plugin import log


def new_run_folder(out_dir: str | Path, prefix: str = "agb") -> str:
    """A folder name for one run inside ``out_dir`` that does not exist yet."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = Path(out_dir) / f"{prefix}-{stamp}"
    n = 2
    while candidate.exists():
        candidate = Path(out_dir) / f"{prefix}-{stamp}-{n}"
        n += 1
    return str(candidate)


class RunFolder:
    """Remembers whether the run's folder existed before the run, so that only a folder the run
    itself created is ever removed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.existed_before = self.path.exists()

    def discard(self) -> bool:
        """Remove the folder (and what the worker left in it) if this run created it.

        Called once the worker has stopped working on it: after a confirmed cancel, the end of a
        worker that was ended, or an error. Returns True if a folder was removed.
        """
        if self.existed_before or not self.path.is_dir():
            return False
        try:
            shutil.rmtree(self.path)
        except OSError as error:  # e.g. a file still open on Windows: say so, never raise here
            log.warning(f"Could not remove the folder {self.path} of an unfinished run: {error}")
            return False
        log.info(f"Removed the folder of the unfinished run: {self.path}")
        return True
