"""The long-lived model worker: JSON lines on stdin/stdout (protocol in docs/serve.md).

    python -m reo_core.serve

Prints ``{"type": "ready", ...}``, then answers one request per line. ``load_model``, ``estimate``,
``ask`` and ``inspect`` run one at a time in a worker thread, keeping the model loaded between
requests; the main thread keeps reading stdin, so ``cancel``, ``info`` and ``shutdown`` are answered at once and a
cancel stops an estimate before its next batch. A bad request gets an error reply and the worker
keeps serving. Only protocol lines go to stdout (everything else written to file descriptor 1 is
sent to stderr); logging goes to stderr. No network port is opened.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import reo_core
from reo_core import serve_protocol as protocol
from reo_core.errors import Canceled, InputError, ReoError

logger = logging.getLogger("reo_core.serve")

SHUTDOWN_WAIT_S = 30.0


@dataclass
class Job:
    """A request for the worker thread; ``cancel`` is set by a cancel request or shutdown."""

    request: protocol.Request
    cancel: threading.Event = field(default_factory=threading.Event)


class Server:
    """Reads requests, answers control ops at once and queues work for one worker thread."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._write_lock = threading.Lock()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._active: dict[Any, Job] = {}  # queued or running, by request id
        self._active_lock = threading.Lock()
        self.engine = None
        self.engine_key: tuple | None = None
        self._thread = threading.Thread(target=self._work, name="reo-worker", daemon=True)

    # --- I/O -------------------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        line = json.dumps(message, default=str)
        with self._write_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def serve(self, lines) -> int:
        """Answer every line of ``lines`` until shutdown or end of input; the exit status."""
        self._thread.start()
        self.send(protocol.ready(reo_core.__version__, os.getpid()))
        for line in lines:
            if line.strip() and not self.handle(line):
                break
        else:
            logger.info("end of input: finishing the queued work, then stopping")
            self.shutdown(cancel=False)
        return 0

    def handle(self, line: str) -> bool:
        """Answer or queue one request line; False after shutdown."""
        try:
            request = protocol.parse_request(line)
        except protocol.ProtocolError as error:
            self.send(protocol.error_from_exception(protocol.request_id_of(line), error))
            return True
        if request.op == "shutdown":
            self.shutdown()
            self.send(protocol.result(request.id, {"shutdown": True}))
            return False
        if request.op == "cancel":
            self.send(protocol.result(request.id, self.cancel(request.params.get("target"))))
        elif request.op == "info":
            self._reply(request, self.info)
        else:
            self._queue(request)
        return True

    def _reply(self, request: protocol.Request, answer) -> None:
        try:
            self.send(protocol.result(request.id, answer()))
        except Exception as error:  # an error reply, never a dead worker
            logger.exception("request %s failed", request.id)
            self.send(protocol.error_from_exception(request.id, error))

    # --- control ---------------------------------------------------------------------------------
    def _queue(self, request: protocol.Request) -> None:
        with self._active_lock:
            if request.id in self._active:
                message = f"Request id {request.id!r} is still in use; give each request a new id."
                self.send(protocol.error(request.id, "ProtocolError", message))
                return
            job = Job(request)
            self._active[request.id] = job
        self._jobs.put(job)

    def cancel(self, target: Any) -> dict:
        """Ask the job ``target`` to stop; it replies with a Canceled error when it has."""
        with self._active_lock:
            job = self._active.get(target)
        if job is not None:
            job.cancel.set()
        return {"target": target, "canceled": job is not None}

    def shutdown(self, cancel: bool = True) -> None:
        """Stop the worker thread: cancel the running and queued work first, or let it finish."""
        if cancel:
            with self._active_lock:
                for job in self._active.values():
                    job.cancel.set()
        self._jobs.put(None)
        self._thread.join(SHUTDOWN_WAIT_S if cancel else None)

    def info(self) -> dict:
        import platform

        import torch

        from reo_core.infer.device import choose_device

        cuda = torch.cuda.is_available()
        engine = self.engine
        return {
            "version": reo_core.__version__,
            "protocol": protocol.PROTOCOL_VERSION,
            "pid": os.getpid(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cuda_available": cuda,
            "gpu": torch.cuda.get_device_name(0) if cuda else None,
            "device": str(engine.device) if engine else str(choose_device("auto")),
            "model_loaded": engine is not None,
            "model": None if engine is None else _model_summary(engine),
        }

    # --- the worker thread -----------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            request = job.request
            try:
                if job.cancel.is_set():
                    raise Canceled("Canceled before it started; no output was written.")
                reply = protocol.result(request.id, self._run(job))
            except Exception as error:  # every failure is a reply; the worker keeps serving
                if not isinstance(error, ReoError):
                    logger.exception("request %s failed", request.id)
                reply = protocol.error_from_exception(request.id, error)
            with self._active_lock:  # the id is free again once its final reply is out
                self._active.pop(request.id, None)
            self.send(reply)

    def _run(self, job: Job) -> dict:
        request, params = job.request, job.request.params

        def report(fraction: float, message: str) -> None:
            self.send(protocol.progress(request.id, fraction, message))

        if request.op == "load_model":
            return self.load_model(params, report, required=True)
        if request.op == "estimate":
            return self.estimate(params, report, job.cancel.is_set)
        if request.op == "inspect":
            return self.inspect(params)
        return self.ask(params, report, job.cancel.is_set)

    def load_model(self, params: dict, report, required: bool = False) -> dict:
        """Load the model a request names (unless it is loaded); its summary."""
        from reo_core.infer.batching import BatchSizer
        from reo_core.infer.engine import check_model_folder, load_engine

        choice = protocol.model_choice(params, required=required)
        if choice.folder is None:
            if self.engine is None:
                raise InputError(
                    'No model is loaded; send {"op": "load_model", "model": "<folder>"} first, '
                    'or name the model in the request ("model": "<folder>").'
                )
        elif choice.key != self.engine_key:
            check_model_folder(choice.folder)  # before the loaded model is let go
            report(0.0, f"loading {choice.folder}")
            started = time.perf_counter()
            self.engine, self.engine_key = None, None  # free the old model first
            self.engine = load_engine(choice.folder, choice.options)
            self.engine_key = choice.key
            logger.info("loaded %s in %.1f s", choice.folder, time.perf_counter() - started)
        if "batch_size" in params or required:
            self.engine.sizer = BatchSizer(choice.options.batch_size)
        if "max_new_tokens" in params or required:
            self.engine.max_new_tokens = choice.options.max_new_tokens
        return _model_summary(self.engine)

    def estimate(self, params: dict, report, is_canceled) -> dict:
        from reo_core.infer.estimate import run_estimate
        from reo_core.infer.products import product_keys, product_paths

        request = protocol.estimate_request(params)
        self.load_model(params, report)
        summary = run_estimate(self.engine, request, report, is_canceled)
        out = request.out.resolve()
        files = product_paths(out, product_keys(self.engine.has_uncertainty))
        paths = {key: str(path) for key, path in files.items()}
        if request.quicklook:
            paths["quicklook"] = str(out / summary["files"]["quicklook"])
        paths["summary"] = str(out / "summary.json")
        return {"out": str(out), "paths": paths, "summary": summary}

    def ask(self, params: dict, report, is_canceled) -> dict:
        from reo_core.infer.batching import check_canceled
        from reo_core.infer.question import ask_patch

        request = protocol.ask_request(params)
        engine_params = {
            k: v for k, v in params.items() if k not in ("max_new_tokens", "batch_size")
        }
        self.load_model(engine_params, report)
        check_canceled(is_canceled)
        return ask_patch(self.engine, request)

    def inspect(self, params: dict) -> dict:
        """How the inputs of an estimate would be read (the input decision and the patch grid),
        for the bands of the named model, else the loaded one, else all 12; no model is run."""
        from reo_core.infer.engine import check_model_folder
        from reo_core.infer.inputs import inspect_inputs
        from reo_core.model.config import ReoConfig

        folder = protocol.text(params, "model")
        if folder is not None:
            config = ReoConfig.load(check_model_folder(folder))
        else:
            config = self.engine.config if self.engine is not None else ReoConfig()
        return inspect_inputs(config, protocol.input_spec(params))


def _model_summary(engine) -> dict:
    config = engine.config
    return {
        "folder": str(engine.folder),
        "modality": config.modality,
        "bands": list(config.bands),
        "uncertainty": config.uncertainty,
        "visual_token_pool": config.visual_token_pool,
        "device": str(engine.device),
        "dtype": str(engine.dtype).replace("torch.", ""),
    }


def protocol_stream() -> TextIO:
    """Keep stdout's file for the protocol and send everything else written to fd 1 to stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "w", buffering=1, encoding="utf-8")


def main() -> int:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.stdin.reconfigure(encoding="utf-8")  # the protocol is UTF-8 whatever the locale (Windows)
    out = protocol_stream()
    started = time.perf_counter()
    server = Server(out)
    status = server.serve(sys.stdin)
    logger.info("worker stopped after %.0f s", time.perf_counter() - started)
    return status


if __name__ == "__main__":
    sys.exit(main())
