"""The long-lived model worker: JSON lines on stdin/stdout (protocol in docs/serve.md).

    python -m reo_core.serve

Prints a ``ready`` line, then answers one request per line. ``load_model``, ``estimate``, ``ask``
and ``inspect`` run one at a time in a worker thread, keeping the model loaded between requests;
the main thread keeps reading stdin, so ``cancel``, ``info`` and ``shutdown`` are answered at once
and a cancel stops an estimate before its next batch. Any line that is not a valid request (not
UTF-8, not JSON, nested too deeply, a field of the wrong type) gets an error reply and the worker
keeps serving; replies are always strict JSON. Only protocol lines go to stdout (everything else
written to file descriptor 1 is sent to stderr); logging goes to stderr. No network port is opened.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import reo_core
from reo_core import serve_protocol as protocol
from reo_core.errors import Canceled, InputError, ReoError

if TYPE_CHECKING:  # the worker loads torch only when a model is asked for
    from reo_core.infer.engine import InferenceEngine
    from reo_core.infer.estimate import EstimateRequest
    from reo_core.infer.inputs import InputSpec
    from reo_core.infer.question import AskRequest

logger = logging.getLogger("reo_core.serve")
Report = Callable[[float, str], None]  # progress(fraction, message) of the running request
IsCanceled = Callable[[], bool]

SHUTDOWN_WAIT_S = 30.0
MAX_LINE_BYTES = 16 * 1024 * 1024  # a longer request line is refused (and read past)


@dataclass
class Job:
    """A request for the worker thread; ``cancel`` is set by a cancel request or shutdown."""

    request: protocol.Request
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class ModelChoice:
    """A model folder and how to run it: what a request wants, or what is loaded."""

    folder: Path
    options: Any  # reo_core.infer.engine.EngineOptions
    key: tuple  # what needs a reload when it changes (batch size and answer length do not)


class Server:
    """Reads requests, answers control ops at once and queues work for one worker thread."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._write_lock = threading.Lock()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._active: dict[Any, Job] = {}  # queued or running, by request id
        self._active_lock = threading.Lock()
        self.engine = None
        self.loaded: ModelChoice | None = None
        self._thread = threading.Thread(target=self._work, name="reo-worker", daemon=True)
        self._work_handlers = {
            protocol.LoadModel: lambda body, report, _: self.load_model(body, report, True),
            protocol.Estimate: self.estimate,
            protocol.Ask: self.ask,
            protocol.Inspect: lambda body, _report, _canceled: self.inspect(body),
        }

    # --- I/O -------------------------------------------------------------------------------------
    def send(
        self, reply: protocol.Ready | protocol.Progress | protocol.Result | protocol.ErrorReply
    ) -> None:
        try:
            line = protocol.reply_line(reply)
        except (TypeError, ValueError) as error:  # a value JSON cannot hold: a bug, said as such
            logger.exception("reply to %s is not JSON", getattr(reply, "id", None))
            line = protocol.reply_line(protocol.error_reply(getattr(reply, "id", None), error))
        with self._write_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def serve(self, lines: Iterable[bytes | str]) -> int:
        """Answer every line of ``lines`` until shutdown or end of input; the exit status."""
        self._thread.start()
        self.send(protocol.Ready(reo_core.__version__, protocol.PROTOCOL_VERSION, os.getpid()))
        for line in lines:
            if line.strip() and not self.handle(line):
                break
        else:
            logger.info("end of input: finishing the queued work, then stopping")
            self.shutdown(cancel=False)
        return 0

    def handle(self, line: bytes | str) -> bool:
        """Answer or queue one request line; False after shutdown. Never raises."""
        try:
            if len(line) > MAX_LINE_BYTES:
                raise protocol.ProtocolError(
                    f"The request is longer than {MAX_LINE_BYTES // 2**20} MiB; send shorter lines."
                )
            request = protocol.parse_request(line)
        except protocol.ProtocolError as error:
            self.send(protocol.error_reply(error.request_id, error))
            return True
        except Exception as error:  # whatever a line holds, the worker keeps serving
            logger.exception("unreadable request line")
            self.send(protocol.error_reply(None, error))
            return True
        body = request.body
        if isinstance(body, protocol.Shutdown):
            self.shutdown()
            self.send(protocol.result_of(request.id, body, protocol.ShutdownResult(shutdown=True)))
            return False
        if isinstance(body, protocol.Cancel):
            self._reply(request, lambda: self.cancel(body.target))
        elif isinstance(body, protocol.Info):
            self._reply(request, self.info)
        else:
            self._queue(request)
        return True

    def _reply(self, request: protocol.Request, answer: Callable[[], object]) -> None:
        try:
            self.send(protocol.result_of(request.id, request.body, answer()))
        except Exception as error:  # an error reply, never a dead worker
            logger.exception("request %s failed", request.id)
            self.send(protocol.error_reply(request.id, error))

    # --- control ---------------------------------------------------------------------------------
    def _queue(self, request: protocol.Request) -> None:
        with self._active_lock:
            if request.id in self._active:
                error = protocol.ProtocolError(
                    f"Request id {request.id!r} is still in use; give each request a new id."
                )
                self.send(protocol.error_reply(request.id, error))
                return
            job = Job(request)
            self._active[request.id] = job
        self._jobs.put(job)

    def cancel(self, target: protocol.RequestId) -> protocol.CancelResult:
        """Ask the job ``target`` to stop; it replies with a Canceled error when it has."""
        with self._active_lock:
            job = self._active.get(target)
        if job is not None:
            job.cancel.set()
        return protocol.CancelResult(target=target, canceled=job is not None)

    def shutdown(self, cancel: bool = True) -> None:
        """Stop the worker thread: cancel the running and queued work first, or let it finish."""
        if cancel:
            with self._active_lock:
                for job in self._active.values():
                    job.cancel.set()
        self._jobs.put(None)
        self._thread.join(SHUTDOWN_WAIT_S if cancel else None)

    def info(self) -> protocol.WorkerInfo:
        import platform

        import torch

        from reo_core.infer.device import choose_device

        cuda = torch.cuda.is_available()
        engine = self.engine
        return protocol.WorkerInfo(
            version=reo_core.__version__,
            protocol=protocol.PROTOCOL_VERSION,
            pid=os.getpid(),
            python=platform.python_version(),
            torch=torch.__version__,
            cuda=torch.version.cuda,
            cuda_available=cuda,
            gpu=torch.cuda.get_device_name(0) if cuda else None,
            device=str(engine.device) if engine else str(choose_device("auto")),
            model_loaded=engine is not None,
            model=None if engine is None else model_info(engine),
        )

    # --- the worker thread -----------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            request = job.request
            try:
                if job.cancel.is_set():
                    raise Canceled("Canceled before it started; no output was written.")
                value = self._run(job)
                reply = protocol.result_of(request.id, request.body, value)
            except Exception as error:  # every failure is a reply; the worker keeps serving
                if not isinstance(error, ReoError):
                    logger.exception("request %s failed", request.id)
                reply = protocol.error_reply(request.id, error)
            with self._active_lock:  # the id is free again once its final reply is out
                self._active.pop(request.id, None)
            self.send(reply)

    def _run(self, job: Job) -> Any:
        request = job.request

        def report(fraction: float, message: str) -> None:
            self.send(protocol.Progress(request.id, float(fraction), message))

        handler = self._work_handlers[type(request.body)]
        return handler(request.body, report, job.cancel.is_set)

    def load_model(
        self, options: protocol.ModelOptions, report: Report, required: bool = False
    ) -> protocol.ModelInfo:
        """Load the model ``options`` names (unless it is loaded); its summary."""
        from reo_core.infer.batching import BatchSizer

        wanted = _wanted_model(options)
        if wanted.folder is None:
            if self.engine is None:
                raise InputError(
                    'No model is loaded; send {"op": "load_model", "model": "<folder>"} first, '
                    'or name the model in the request ("model": "<folder>").'
                )
        elif self.loaded is None or wanted.key != self.loaded.key:
            self._switch_model(wanted, report)
        if options.batch_size is not None or required:
            # None: keep the engine's own size (from the free GPU memory, or the CPU default)
            self.engine.sizer = BatchSizer(wanted.options.batch_size or self.engine.sizer.size)
        if options.max_new_tokens is not None or required:
            self.engine.max_new_tokens = wanted.options.max_new_tokens
        return model_info(self.engine)

    def _switch_model(self, wanted: ModelChoice, report: Report) -> None:
        """Load ``wanted`` in place of the loaded model, which is loaded again if that fails.

        The old model is let go first, so two models never need memory at once.
        """
        from reo_core.infer.engine import check_model_folder, load_engine

        check_model_folder(wanted.folder)  # before the loaded model is let go
        previous = self._as_loaded_now()
        report(0.0, f"loading {wanted.folder}")
        started = time.perf_counter()
        self.engine, self.loaded = None, None
        try:
            self.engine = load_engine(wanted.folder, wanted.options)
        except Exception as error:
            if previous is None:
                raise
            raise self._restore(previous, wanted, error) from error
        self.loaded = wanted
        logger.info("loaded %s in %.1f s", wanted.folder, time.perf_counter() - started)

    def _as_loaded_now(self) -> ModelChoice | None:
        """The loaded model with its current batch size and answer length (to restore them)."""
        if self.engine is None or self.loaded is None:
            return None
        options = replace(
            self.loaded.options,
            batch_size=self.engine.sizer.size,
            max_new_tokens=self.engine.requested_new_tokens,  # None stays the engine's default
        )
        return replace(self.loaded, options=options)

    def _restore(self, previous: ModelChoice, wanted: ModelChoice, error: Exception) -> ReoError:
        """Load ``previous`` again after ``error``; the error to reply, saying which model is
        loaded."""
        from reo_core.infer.engine import load_engine

        if not isinstance(error, ReoError):
            logger.error("loading %s failed", wanted.folder, exc_info=error)
        reason = (
            error.message if isinstance(error, ReoError) else f"{type(error).__name__}: {error}"
        )
        try:
            self.engine = load_engine(previous.folder, previous.options)
            self.loaded = previous
            after = f"The model loaded before ({previous.folder}) is loaded again."
        except Exception as again:
            logger.exception("loading %s again failed", previous.folder)
            after = (
                f"The model loaded before ({previous.folder}) failed to load again ({again}); "
                "load a model."
            )
        if isinstance(error, ReoError):
            return type(error)(f"{reason} {after}", error.details)
        return ReoError(f"Loading the model {wanted.folder} failed: {reason}. {after}")

    def estimate(
        self, body: protocol.Estimate, report: Report, is_canceled: IsCanceled
    ) -> protocol.EstimateResult:
        from reo_core.infer.estimate import run_estimate
        from reo_core.infer.output_folder import OutputFolder
        from reo_core.infer.products import SUMMARY_NAME

        request = estimate_request(body)
        OutputFolder(request.out, request.overwrite).check()  # before a model is loaded for it
        self.load_model(body, report)
        summary = run_estimate(self.engine, request, report, is_canceled)
        out = request.out.resolve()
        paths = {key: str(out / name) for key, name in summary["files"].items()}
        paths["summary"] = str(out / SUMMARY_NAME)
        return protocol.EstimateResult(out=str(out), paths=paths, summary=summary)

    def ask(self, body: protocol.Ask, report: Report, is_canceled: IsCanceled) -> dict:
        from reo_core.infer.batching import check_canceled
        from reo_core.infer.question import ask_patch

        request = ask_request(body)
        # The answer length and batch size of an ask are not the estimate's: keep those as set.
        self.load_model(replace(body, max_new_tokens=None, batch_size=None), report)
        check_canceled(is_canceled)
        return ask_patch(self.engine, request)

    def inspect(self, body: protocol.Inspect) -> dict:
        """How the inputs of an estimate would be read (the input decision and the patch grid),
        for the bands of the named model, else the loaded one, else all 12; no model is run."""
        from reo_core.infer.engine import check_model_folder
        from reo_core.infer.inputs import inspect_inputs
        from reo_core.model.config import ReoConfig

        if body.model is not None:
            config = ReoConfig.load(check_model_folder(body.model))
        else:
            config = self.engine.config if self.engine is not None else ReoConfig()
        return inspect_inputs(config, input_spec(body))


# --- protocol fields -> library requests ----------------------------------------------------------
def _given(**values: object) -> dict:
    """The values a request gave (not None): the library's own defaults apply to the others."""
    return {key: value for key, value in values.items() if value is not None}


def _wanted_model(options: protocol.ModelOptions) -> ModelChoice:
    from reo_core.infer.engine import EngineOptions

    engine_options = EngineOptions(
        device=options.device,
        dtype=options.dtype,
        visual_token_pool=options.visual_token_pool,
        threads=options.threads,
        **_given(batch_size=options.batch_size, max_new_tokens=options.max_new_tokens),
    )
    folder = None if options.model is None else Path(options.model)
    resolved = str(folder.resolve()) if folder else None
    key = (resolved, options.device, options.dtype, options.visual_token_pool)
    return ModelChoice(folder, engine_options, key)


def input_spec(fields: protocol.Imagery) -> InputSpec:
    """The InputSpec of a request that reads imagery."""
    from reo_core.infer.inputs import InputSpec, make_extent
    from reo_core.raster.clouds import CloudOptions

    extent = fields.extent
    return InputSpec(
        s2=fields.s2,
        sar=fields.sar,
        extent=make_extent(
            None if extent is None else extent.bounds,
            None if extent is None else extent.crs,
            fields.aoi,
        ),
        band_mapping={
            band: (target, 1) if isinstance(target, str) else target
            for band, target in fields.band_mapping.items()
        },
        band_order=fields.band_order,
        boa_offset=None if fields.boa_offset == "auto" else fields.boa_offset,
        allow_l1c=fields.allow_l1c,
        clouds=CloudOptions(
            mask=None if fields.cloud_mask is None else Path(fields.cloud_mask),
            kind=fields.cloud_mask_kind,
            threshold=fields.cloud_threshold,
            screening=fields.cloud_screening,
        ),
        **_given(stride=fields.stride, max_nodata_fraction=fields.max_nodata_fraction),
    )


def estimate_request(body: protocol.Estimate) -> EstimateRequest:
    """The library's EstimateRequest of an estimate op."""
    from reo_core.infer.estimate import EstimateRequest

    return EstimateRequest(
        input_spec(body),
        Path(body.out),
        quicklook=body.quicklook,
        overwrite=body.overwrite,
        **_given(carbon_fraction=body.carbon_fraction),
    )


def ask_request(body: protocol.Ask) -> AskRequest:
    """The library's AskRequest of an ask op."""
    from reo_core.infer.question import AskRequest

    return AskRequest(
        input_spec(body),
        body.point,
        body.crs,
        body.question,
        **_given(max_new_tokens=body.max_new_tokens),
    )


def model_info(engine: InferenceEngine) -> protocol.ModelInfo:
    config = engine.config
    return protocol.ModelInfo(
        folder=str(engine.folder),
        modality=config.modality,
        bands=tuple(config.bands),
        uncertainty=config.uncertainty,
        visual_token_pool=config.visual_token_pool,
        device=str(engine.device),
        dtype=str(engine.dtype).replace("torch.", ""),
    )


# --- the process ----------------------------------------------------------------------------------
def request_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines of ``stream`` as bytes; one longer than MAX_LINE_BYTES is read past and cut short."""
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line


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
    out = protocol_stream()
    started = time.perf_counter()
    server = Server(out)
    status = server.serve(request_lines(sys.stdin.buffer))  # bytes: UTF-8 is checked per line
    logger.info("worker stopped after %.0f s", time.perf_counter() - started)
    return status


if __name__ == "__main__":
    sys.exit(main())
