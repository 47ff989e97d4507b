"""The processes of a run: one, or several started by ``accelerate launch`` (each takes every k-th
block).

Outside ``accelerate launch`` (no WORLD_SIZE > 1 in the environment) nothing distributed is
imported and the run is one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Ranks:
    """This process's place among ``count`` processes; ``state`` is accelerate's PartialState."""

    index: int = 0
    count: int = 1
    state: Any = field(default=None, repr=False)

    @property
    def is_main(self) -> bool:
        return self.index == 0

    @property
    def device(self) -> str | None:
        """The device accelerate gave this process (None when not launched by accelerate)."""
        return None if self.state is None else str(self.state.device)

    def owns(self, block_index: int) -> bool:
        return block_index % self.count == self.index

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()

    def close(self) -> None:
        """Leave the process group together: a process that exits while another still holds the
        group open can be aborted by gloo at interpreter shutdown (seen as a SIGABRT in CI)."""
        if self.state is None:
            return
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            self.state.wait_for_everyone()
            dist.destroy_process_group()

    def gather(self, value: Any) -> list[Any]:
        """``value`` of every process, in rank order (a picklable object)."""
        if self.state is None:
            return [value]
        from accelerate.utils import gather_object

        return gather_object([value])


# Where launchers put the number of processes: torchrun / accelerate, then MPI implementations.
WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def ranks_from_environment() -> Ranks:
    """Ranks of an ``accelerate launch`` (or torchrun, mpirun) run, or a single process.

    Without CUDA (or with ACCELERATE_USE_CPU) the processes talk over gloo on the CPU: launch them
    with ``accelerate launch --multi_gpu --num_processes K`` or ``torchrun --nproc_per_node K``;
    accelerate's ``--cpu`` alone starts a single process.
    """
    world = max(int(os.environ.get(name, "1") or 1) for name in WORLD_SIZE_VARIABLES)
    if world <= 1:
        return Ranks()
    import torch
    from accelerate import PartialState

    use_cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    state = PartialState(cpu=use_cpu or not torch.cuda.is_available())
    return Ranks(state.process_index, state.num_processes, state)
