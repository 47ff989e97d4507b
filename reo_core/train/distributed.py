"""The accelerator a run trains on, and the few things every process must do together.

Under sharded training (FSDP, DeepSpeed ZeRO-3) every forward pass and every state-dict gather is a
collective: all processes must make the same calls in the same order, or the run hangs. Validation
and saving therefore run on every process (each on its share, results gathered to the main one),
never on the main process alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, gather_object

from reo_core.errors import InputError
from reo_core.train.config import TrainConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")
TORCH_DTYPES = {"no": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def make_accelerator(config: TrainConfig) -> Accelerator:
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    # cpu=True also makes a multi-process launch (torchrun, WORLD_SIZE > 1) use gloo on the CPU;
    # without it, processes launched on a machine without GPUs would each train alone.
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    cpu = config.device == "cpu" or (launched and not torch.cuda.is_available())
    return Accelerator(
        cpu=cpu,
        mixed_precision=precision,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )


def training_dtype(accelerator: Accelerator) -> torch.dtype:
    """The precision the frozen weights are loaded in: the run's mixed precision."""
    return TORCH_DTYPES[accelerator.mixed_precision]


def model_device(accelerator: Accelerator) -> torch.device:
    """Where this process's model lives ('cpu', not gloo's 'cpu:0', which safetensors refuses)."""
    device = accelerator.device
    return torch.device("cpu") if device.type == "cpu" else device


def describe_device(accelerator: Accelerator) -> str:
    """One line for the start of a run: the device, its name and memory, processes, precision."""
    device = accelerator.device
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        what = f"{device} ({properties.name}, {properties.total_memory / 2**30:.1f} GiB)"
    else:
        what = f"{device} ({torch.get_num_threads()} threads)"
    return (
        f"training on {what}, {accelerator.num_processes} process(es), "
        f"{accelerator.distributed_type.value}, mixed precision {accelerator.mixed_precision}"
    )


def gradient_accumulation(config: TrainConfig, processes: int) -> int:
    """Micro-steps per optimiser step: batch_size = accumulation x micro_batch_size x processes."""
    if config.batch_size % processes:
        raise InputError(
            f"batch_size {config.batch_size} does not split evenly over {processes} processes; "
            f"choose a multiple of {processes}."
        )
    share = config.batch_size // processes
    micro = config.micro_batch_size or share
    if share % micro:
        raise InputError(
            f"Each process's share of the batch ({config.batch_size} / {processes} = {share}) "
            f"must be a multiple of micro_batch_size {micro}; choose a divisor of {share}."
        )
    return share // micro


def share(items: Sequence[T], accelerator: Accelerator) -> list[T]:
    """This process's items (every N-th), padded by repeating its last so all have as many."""
    count, rank = accelerator.num_processes, accelerator.process_index
    mine = list(items[rank::count])
    longest = -(-len(items) // count)
    if not mine:
        mine = [items[-1]]
    return mine + [mine[-1]] * (longest - len(mine))


def gather_records(accelerator: Accelerator, records: list[dict], key: str = "id") -> list[dict]:
    """Every process's records, in one list on every process, padding duplicates dropped."""
    if accelerator.num_processes == 1:
        return records
    seen, merged = set(), []
    for record in gather_object(records):
        if record[key] not in seen:
            seen.add(record[key])
            merged.append(record)
    return merged


def full_state_dict(accelerator: Accelerator, model: torch.nn.Module) -> dict:
    """The model's whole state dict (gathered from the shards under FSDP / ZeRO-3): call on every
    process; complete on the main one."""
    return accelerator.get_state_dict(model)


@contextlib.contextmanager
def unsharded_root(accelerator: Accelerator, model: torch.nn.Module) -> Iterator[None]:
    """Generation calls the model's parts outside its ``forward``: under FSDP the parameters that
    belong to no wrapped layer (embeddings, LM head, norms, heads) must be gathered first. Every
    process must enter this together."""
    if accelerator.distributed_type != DistributedType.FSDP:
        yield
        return
    if getattr(accelerator, "is_fsdp2", False):
        model.unshard()
        try:
            yield
        finally:
            model.reshard()
        return
    from torch.distributed.fsdp import FullyShardedDataParallel

    with FullyShardedDataParallel.summon_full_params(model, recurse=False, writeback=False):
        yield


def on_main(accelerator: Accelerator, work: Callable[[], T]) -> T | None:
    """Run ``work`` on the main process while the others wait; errors reach every process."""
    result, failure = None, None
    if accelerator.is_main_process:
        try:
            result = work()
        except Exception as error:  # re-raised below, after every process has heard of it
            failure = error
    failed = _any_process(accelerator, failure is not None)
    if failure is not None:
        raise failure
    if failed:
        raise RuntimeError("the main process failed; see its error above")
    return result


def _any_process(accelerator: Accelerator, flag: bool) -> bool:
    if accelerator.num_processes == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(value, reduction="sum").item() > 0)
