"""Resumable training checkpoints: accelerate's state plus where the data order stood.

A checkpoint holds what the stage trains (LoRA in stage 1, the head in stage 2; never the frozen
base, which is loaded from its own folder), the optimiser, scheduler and RNG states, and the
counters. Under FSDP and DeepSpeed every process writes its own shards. A checkpoint is written into
a hidden temporary folder, renamed into ``checkpoints/`` when complete, and only then named in the
``latest`` file (itself replaced atomically). A run that dies while saving, or a full disk, never
leaves a half-written checkpoint as the latest.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from accelerate import Accelerator
from accelerate.utils import DistributedType
from safetensors import safe_open
from torch import nn
from torch.utils.hooks import RemovableHandle

from reo_core.atomic import replace_folder
from reo_core.errors import InputError, ReoError

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


CHECKPOINTS_FOLDER = "checkpoints"


def checkpoint_root(output: Path) -> Path:
    return Path(output) / CHECKPOINTS_FOLDER


def save_training_state(
    accelerator: Accelerator, state: TrainerState, output: Path, keep: int
) -> Path:
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
            # A step saved again keeps its old copy until this one is complete.
            replace_folder(staging, final)
            _point_latest(root, name)
            _prune(root, keep)
    except OSError as error:
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
        previous = latest_checkpoint(output)
        raise CheckpointError(
            f"Could not write the checkpoint {name} ({error.strerror or error}); "
            f"free disk space in {root} and resume. "
            f"The latest complete checkpoint is still {previous.name if previous else 'none'}.",
            details=str(error),
        ) from error
    accelerator.wait_for_everyone()
    logger.info("checkpoint %s", final)
    return final


def keep_trainable_only(accelerator: Accelerator) -> RemovableHandle:
    """Make ``save_state`` write only the parameters that train (not the frozen base: 14 GB for
    the paper's). FSDP and DeepSpeed write their own shards; this filters the state dicts of plain
    and DDP runs. Returns the hook's handle (``.remove()`` it when the stage ends)."""

    def keep_trainable(models: list[nn.Module], weights: list[dict], output_dir: str) -> None:
        for i, state in enumerate(weights):
            names = _trainable_names(models[i])
            weights[i] = {k: v for k, v in state.items() if k in names}

    return accelerator.register_save_state_pre_hook(keep_trainable)


def load_training_state(accelerator: Accelerator, folder: Path, model: nn.Module) -> None:
    """Restore a checkpoint written by :func:`save_training_state` for ``model``."""
    if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        accelerator.load_state(str(folder))
        return
    with safe_open(str(Path(folder) / "model.safetensors"), framework="pt") as saved:
        keys = set(saved.keys())
    expected = _trainable_names(model)
    if keys != expected:
        raise InputError(
            f"The checkpoint {folder} holds other weights than this run trains "
            f"({len(keys)} tensors, expected {len(expected)}, e.g. {sorted(keys ^ expected)[:2]}); "
            "resume it with the settings it was written with, or add --force to start over."
        )
    accelerator.load_state(str(folder), strict=False)  # the frozen base is not in it


def remove_checkpoints(output: Path, stage: int) -> None:
    """A finished stage's resumable checkpoints are of no further use (its model is saved)."""
    root = checkpoint_root(output)
    if not root.is_dir():
        return
    for folder in root.glob(f"stage{stage}-step*"):
        shutil.rmtree(folder, ignore_errors=True)
    pointer = root / LATEST
    if pointer.is_file() and not (root / pointer.read_text().strip()).is_dir():
        pointer.unlink()


def _trainable_names(model: nn.Module) -> set[str]:
    return {name for name, parameter in model.named_parameters() if parameter.requires_grad}


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


def _broadcast_path(accelerator: Accelerator, path: Path | None) -> Path:
    """Every process must save into the folder the main process created."""
    if accelerator.num_processes == 1:
        return path
    from accelerate.utils import broadcast_object_list

    holder = [str(path) if path is not None else None]
    broadcast_object_list(holder, from_process=0)
    return Path(holder[0])
