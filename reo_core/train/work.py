"""What one training stage trains and how: the optimisation loop (``loop.py``) is the same for
both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset


@dataclass
class StageWork:
    """What one stage trains and how; the optimisation loop is the same for both stages."""

    stage: int
    module: torch.nn.Module  # what trains (before accelerate prepares it)
    train_set: Dataset  # with a ``collate`` method
    loss: Callable[[torch.nn.Module, object], torch.Tensor | None]  # (prepared module, batch)
    validate: Callable[[torch.nn.Module], list[dict]]  # every process; all records, everywhere
    save_model: Callable[[torch.nn.Module, Path], None]  # every process; the main one writes
    wraps_layers: bool = True  # False: FSDP wraps the module whole (it has no transformer layers)
