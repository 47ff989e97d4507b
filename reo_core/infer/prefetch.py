"""Reading ahead: the next items of an iterator are made in a background thread.

While the device answers one block of patches, the host reads and composites the next one
(raster reading through GDAL and numpy compositing release the GIL, so the two overlap). The
source iterator runs entirely in the background thread, so thread-bound state it holds (a
``rasterio.Env``) is entered and left in one thread. An exception of the source reaches the
consumer at the item where it happened; closing the consumer (cancel, an error downstream) stops
the thread and closes the source.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(source: Iterable[T], depth: int = 1) -> Iterator[T]:
    """The items of ``source``, made up to ``depth`` items ahead of the consumer in a thread.

    ``depth`` 0 reads nothing ahead (the source runs in the caller's thread).
    """
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    if depth == 0:
        yield from source
        return
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not _put(items, item, stop):
                    return
            _put(items, _DONE, stop)
        except BaseException as error:  # handed to the consumer, which raises it
            _put(items, _Failure(error), stop)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="reo-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)
        thread.join()


def _put(items: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless the consumer stopped; False when it did."""
    while not stop.is_set():
        try:
            items.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False
