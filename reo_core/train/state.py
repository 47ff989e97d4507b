"""Resumable training checkpoints: accelerate's full state plus where the data order stood.

A checkpoint is written into a hidden temporary folder, renamed into ``checkpoints/`` when complete,
and only then named in the ``latest`` file (itself replaced atomically). A run that dies while
saving, or a full disk, never leaves a half-written checkpoint as the latest.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from reo_core.errors import ReoError

logger = logging.getLogger(__name__)

LATEST = "latest"
STATE_FILE = "trainer_state.json"


@dataclass
class TrainerState:
    """Counters that, with the RNG states accelerate saves, make a resumed run continue exactly."""

    stage: int
    step: int = 0  # optimiser steps done in this stage
    epoch: int = 0  # passes over the training data in this stage
    batches_in_epoch: int = 0  # micro-batches of the current epoch already consumed


class CheckpointError(ReoError):
    """A checkpoint could not be written; the previous one is still the latest."""


def checkpoint_root(output: Path) -> Path:
    return Path(output) / "checkpoints"


def save_training_state(accelerator, state: TrainerState, output: Path, keep: int) -> Path:
    """Save model, optimiser, scheduler and RNG states with the counters; prune old checkpoints."""
    root = checkpoint_root(output)
    name = f"stage{state.stage}-step{state.step:07d}"
    final = root / name
    staging = None
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    staging = _broadcast_path(accelerator, staging)
    try:
        accelerator.save_state(str(staging), safe_serialization=True)
        if accelerator.is_main_process:
            (staging / STATE_FILE).write_text(json.dumps(asdict(state), indent=2) + "\n")
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging, final)
            _point_latest(root, name)
            _prune(root, keep)
    except OSError as error:
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
        previous = latest_checkpoint(output)
        raise CheckpointError(
            f"Could not write the checkpoint {name} ({error.strerror or error}); free disk space in "
            f"{root} and resume. The latest complete checkpoint is still {previous.name if previous else 'none'}.",
            details=str(error),
        ) from error
    accelerator.wait_for_everyone()
    logger.info("checkpoint %s", final)
    return final


def latest_checkpoint(output: Path, stage: int | None = None) -> Path | None:
    """The newest complete checkpoint (of ``stage``, if given), or None."""
    root = checkpoint_root(output)
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    folder = root / pointer.read_text().strip()
    if not (folder / STATE_FILE).is_file():
        return None
    if stage is not None and read_state(folder).stage != stage:
        return None
    return folder


def read_state(folder: Path) -> TrainerState:
    return TrainerState(**json.loads((Path(folder) / STATE_FILE).read_text()))


def _point_latest(root: Path, name: str) -> None:
    temporary = root / f".{LATEST}.tmp"
    temporary.write_text(name + "\n")
    os.replace(temporary, root / LATEST)


def _prune(root: Path, keep: int) -> None:
    complete = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / STATE_FILE).is_file()
    )
    for old in complete[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _broadcast_path(accelerator, path: Path | None) -> Path:
    """Every process must save into the folder the main process created."""
    if accelerator.num_processes == 1:
        return path
    from accelerate.utils import broadcast_object_list

    holder = [str(path) if path is not None else None]
    broadcast_object_list(holder, from_process=0)
    return Path(holder[0])
