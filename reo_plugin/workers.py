"""The shared worker: one long-lived worker process per QGIS session, used by every part of the
plugin.

The dock, the chat and Processing all go through :func:`shared_pool`, so the model is loaded once
and stays loaded between requests. Jobs run one at a time (one model, one GPU); a job that waits for
another can still be canceled. A worker that died, or whose interpreter setting changed, is
replaced at the next job. Stopping a worker never blocks the caller: it is asked to stop and a
reaper thread waits for its exit.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable

from reo_plugin import log, settings
from reo_plugin.worker_client import (
    POLL_S,
    IsCanceled,
    Progress,
    WorkerCanceled,
    WorkerClient,
    WorkerCommand,
)

MODEL_OPS = frozenset({"estimate", "ask"})  # requests that need a loaded model
REAP_GRACE_S = 20.0  # a worker asked to stop that has not exited by then is ended
EXIT_WAIT_S = 2.0  # QGIS quitting waits this long for the worker, then ends it


class WorkerPool:
    """Owns the worker process and remembers which model it has loaded."""

    def __init__(self, command_factory: Callable[[], WorkerCommand] | None = None) -> None:
        # How to start the worker: by default from the worker-Python setting (tests substitute it).
        self.command_factory = command_factory or (lambda: WorkerCommand(settings.worker_python()))
        self._client: WorkerClient | None = None
        self._loaded: tuple[int | None, str, str] | None = None  # (pid, model, device)
        self.model_info: dict = {}
        self._lock = threading.Lock()  # guards _client
        self._job = threading.Lock()  # one job at a time

    @property
    def client(self) -> WorkerClient | None:
        return self._client

    def ensure_started(self, is_canceled: IsCanceled | None = None) -> WorkerClient:
        """The running worker for the current setting, started (or restarted) if needed."""
        command = self.command_factory()
        with self._lock:
            client = self._client
            if client is not None and client.running and client.command == command:
                return client
            if client is not None:
                client.close(timeout=2.0)
            self._client, self._loaded = None, None
            client = WorkerClient(command)
            client.start(is_canceled=is_canceled)
            self._client = client
            return client

    def run(
        self,
        op: str,
        fields: dict,
        model: str | None = None,
        device: str = "auto",
        progress: Progress | None = None,
        is_canceled: IsCanceled | None = None,
    ) -> dict:
        """Run one job: start the worker, load ``model`` on ``device`` if it is not, send ``op``."""
        self._acquire_job(is_canceled)
        try:
            client = self.ensure_started(is_canceled)
            if op in MODEL_OPS:
                if not model:
                    raise ValueError(f"op '{op}' needs a model folder")
                self._load_model(client, model, device, progress, is_canceled)
                if is_canceled is not None and is_canceled():
                    raise WorkerCanceled(
                        "Canceled after the model was loaded; nothing was computed."
                    )
            return client.call(op, fields, progress, is_canceled)
        finally:
            self._job.release()

    def info(self, is_canceled: IsCanceled | None = None, timeout: float = 120.0) -> dict:
        """The worker's ``info`` (Python, torch, CUDA, GPU); starts the worker if needed."""
        client = self.ensure_started(is_canceled)
        return client.call("info", {}, is_canceled=is_canceled, timeout=timeout)

    def shutdown(self, wait: bool = False) -> None:
        """Stop the worker. By default without waiting for it to exit (plugin unload must not
        freeze QGIS): it is asked to stop, its stdin closed, and a reaper thread waits for it and
        ends it after ``REAP_GRACE_S``. ``wait=True`` ends it before returning (QGIS quitting)."""
        with self._lock:
            client, self._client, self._loaded = self._client, None, None
        if client is None:
            return
        if wait:
            client.close(timeout=EXIT_WAIT_S)
        else:
            end_in_background(client)
        log.info("Worker shut down.")

    def _load_model(
        self,
        client: WorkerClient,
        model: str,
        device: str,
        progress: Progress | None,
        is_canceled: IsCanceled | None,
    ) -> None:
        wanted = (client.pid, str(model), str(device))
        if self._loaded == wanted:
            return
        if progress is not None:
            progress(0.0, "loading the model")
        self.model_info = client.call(
            "load_model",
            {"model": str(model), "device": str(device)},
            progress=None,
            is_canceled=is_canceled,
        )
        self._loaded = wanted

    def _acquire_job(self, is_canceled: IsCanceled | None) -> None:
        while not self._job.acquire(timeout=POLL_S):
            if is_canceled is not None and is_canceled():
                raise WorkerCanceled("Canceled while waiting for the worker's current job.")
        # a fresh lock acquisition can still race a cancel: honour it
        if is_canceled is not None and is_canceled():
            self._job.release()
            raise WorkerCanceled("Canceled.")


_reaping: set[WorkerClient] = set()  # workers asked to stop that have not exited yet
_reaping_lock = threading.Lock()


def end_in_background(client: WorkerClient) -> threading.Thread:
    """Ask ``client``'s worker to stop now and return at once; a reaper thread waits for its exit,
    ends it if it has not exited within REAP_GRACE_S, and closes its pipes."""
    client.stop()
    with _reaping_lock:
        _reaping.add(client)

    def reap() -> None:
        try:
            client.close(timeout=REAP_GRACE_S)
        finally:
            with _reaping_lock:
                _reaping.discard(client)

    reaper = threading.Thread(target=reap, name="reo-worker-reaper", daemon=True)
    reaper.start()
    return reaper


_shared: WorkerPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> WorkerPool:
    """The session's worker pool (created on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WorkerPool()
        return _shared


def shutdown_shared_pool(wait: bool = False) -> None:
    """Stop the session's worker (plugin unload: without waiting for it)."""
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.shutdown(wait=wait)


def _end_workers_at_exit() -> None:
    """Reaper threads die with the interpreter: end every worker before that."""
    shutdown_shared_pool(wait=True)
    with _reaping_lock:
        leftovers = list(_reaping)
    for client in leftovers:
        client.kill()


atexit.register(_end_workers_at_exit)  # QGIS quitting must not leave a worker computing
