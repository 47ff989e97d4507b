"""Running work in batches that halve themselves when the GPU runs out of memory.

The batch size is a :class:`BatchSizer` shared across calls: after one out-of-memory error every
later batch uses the smaller size, so a job does not hit the same wall at every block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from reo_core.errors import Canceled, ReoError

logger = logging.getLogger(__name__)

R = TypeVar("R")
IsCanceled = Callable[[], bool]


class BatchSizer:
    """The current batch size: starts at ``batch_size``, halves on out-of-memory, never below 1."""

    def __init__(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.size = batch_size

    def halve(self) -> None:
        self.size = max(1, self.size // 2)


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA's OutOfMemoryError and the 'out of memory' RuntimeErrors of other backends."""
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def check_canceled(is_canceled: IsCanceled | None) -> None:
    """Raise :class:`Canceled` if the caller asked to stop."""
    if is_canceled is not None and is_canceled():
        raise Canceled("Canceled; no output was written.")


def map_batches(
    forward: Callable[[int, int], R],
    total: int,
    sizer: BatchSizer,
    is_canceled: IsCanceled | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[R]:
    """Call ``forward(start, stop)`` over ``range(total)`` in batches of ``sizer.size``.

    On out-of-memory the batch is retried at half the size (and the sizer keeps that size);
    at size 1 the error is a :class:`ReoError` that says what to change. ``is_canceled`` is
    checked before every batch; ``on_batch(done)`` is told how many items are done after each.
    """
    results: list[R] = []
    start = 0
    while start < total:
        check_canceled(is_canceled)
        stop = min(total, start + sizer.size)
        out_of_memory = False
        try:
            results.append(forward(start, stop))
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            if stop - start == 1:
                raise ReoError(
                    "Out of GPU memory even with one patch per batch. Use a smaller token budget "
                    "(visual_token_pool), a GPU with more memory, or the CPU (device 'cpu').",
                    details=str(error),
                ) from None
            out_of_memory = True  # handled outside the except block, so the error's frames go
        if out_of_memory:
            sizer.size = min(sizer.size, stop - start)
            sizer.halve()
            _release_memory()
            logger.warning(
                "out of memory at batch size %d; retrying with %d", stop - start, sizer.size
            )
            continue
        start = stop
        if on_batch is not None:
            on_batch(start)
    return results


def _release_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# Share of the free device memory a batch may fill: the rest absorbs the allocator's fragmentation
# and answers longer than the probe's.
MEMORY_HEADROOM = 0.8
MAX_AUTO_BATCH = 512


def batch_size_for_memory(
    free_bytes: int,
    peak_one: int,
    peak_many: int,
    many: int,
    headroom: float = MEMORY_HEADROOM,
    limit: int = MAX_AUTO_BATCH,
) -> int:
    """The largest batch whose peak memory fits ``headroom`` of the free memory.

    Peak memory is taken as linear in the batch size, from two measured batches: ``peak_one``
    bytes above the idle model for one patch and ``peak_many`` for ``many`` patches. The result is
    rounded down to a multiple of 8 (tensor-core friendly) when it is at least 8.

    >>> batch_size_for_memory(80 * 2**30, 3 * 2**30, 6 * 2**30, 4)
    64
    """
    if many < 2 or peak_many < peak_one:
        raise ValueError(
            f"need two probes with peak_many >= peak_one, got {peak_one} and {peak_many} ({many})"
        )
    per_patch = max((peak_many - peak_one) / (many - 1), 1.0)
    fixed = max(peak_one - per_patch, 0.0)
    fits = int((free_bytes * headroom - fixed) // per_patch)
    if fits >= 8:
        fits -= fits % 8
    return max(1, min(fits, limit))
