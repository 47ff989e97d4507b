"""The client of the worker process (``python -m reo_core.serve``): JSON lines over stdin/stdout.

The worker is a separate interpreter, so torch and CUDA never load inside QGIS, a crash cannot take
QGIS down, and cancel is always possible (ultimately by ending the process). The client is plain
Python threads and pipes, usable from any thread: a QgsTask's ``run()``, a Processing algorithm,
or the GUI thread for quick requests.

The messages are reo_core.serve_protocol's dataclasses, the ones the worker itself uses: requests
are checked against them before they are sent, and replies are read into them, so a reply of
another shape is an error here rather than a wrong number on the map. The worker's ``ready`` line
names its protocol version; a worker of another version is refused at start. stderr is the
worker's log.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reo_core import serve_protocol as protocol
from reo_core.errors import Canceled, ReoError
from reo_core.typed_json import to_json
from reo_plugin import log
from reo_plugin.locations import PLUGIN_DIR, WORKER_MODULE
from reo_plugin.runtime import hidden_console, install_command, subprocess_environment

READY_TIMEOUT_S = 300.0  # first start: importing torch can take a while on a cold disk
CANCEL_GRACE_S = 20.0  # a canceled request that has not ended by then gets its worker ended
POLL_S = 0.05
STDERR_LINES_KEPT = 60
_MISSING_MODULE = re.compile(r"No module named '?([A-Za-z_][\w.]*)'?")

Progress = Callable[[float, str], None]
IsCanceled = Callable[[], bool]


class WorkerError(ReoError):
    """A request that failed, or a worker that could not start or stopped: ``kind`` says which."""

    def __init__(self, message: str, details: str | None = None, kind: str = "worker") -> None:
        super().__init__(message, details)
        self.kind = kind


class WorkerCanceled(Canceled):
    """The request was canceled, by the user or by the worker's own cancel."""


@dataclass(frozen=True)
class WorkerCommand:
    """How to start the worker: interpreter, arguments and working folder (so reo_core imports)."""

    python: str
    arguments: tuple[str, ...] = ("-m", WORKER_MODULE)
    cwd: str = str(PLUGIN_DIR)
    environment: tuple[
        tuple[str, str], ...
    ] = ()  # extra variables, e.g. (("OMP_NUM_THREADS", "4"),)

    @property
    def argv(self) -> list[str]:
        return [self.python, *self.arguments]


@dataclass
class PendingRequest:
    """A request sent to the worker; its replies (protocol dataclasses) arrive in ``replies``."""

    id: str
    op: str
    replies: queue.Queue = field(default_factory=queue.Queue)


@dataclass(frozen=True)
class WorkerExited:
    """Put in the replies of every pending request when the worker process ends."""

    returncode: int | None


class WorkerClient:
    """One worker process and the requests in flight to it.

    Args:
        command: how to start the worker.
        on_log: receives each stderr line of the worker (default: QGIS's message log).
    """

    def __init__(self, command: WorkerCommand, on_log: Callable[[str], None] | None = None) -> None:
        self.command = command
        self.on_log = on_log or log.worker_line
        self.ready: protocol.Ready | None = None
        self._refusal: WorkerError | None = None  # a worker that speaks another protocol
        self._process: subprocess.Popen | None = None
        self._pending: dict[str, PendingRequest] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ready = threading.Event()
        self._exited = threading.Event()
        self._stderr_read = threading.Event()  # the worker's stderr is read to its end
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._ids = itertools.count(1)

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None and self._ready.is_set()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(
        self, timeout: float = READY_TIMEOUT_S, is_canceled: IsCanceled | None = None
    ) -> protocol.Ready:
        """Start the worker and wait for its ``ready`` line; raises WorkerError saying what to
        fix."""
        python = self.command.python
        if not Path(self.command.cwd).is_dir():
            raise WorkerError(
                f"The worker's folder {self.command.cwd} does not exist.", kind="start"
            )
        try:
            self._process = subprocess.Popen(
                self.command.argv,
                cwd=self.command.cwd,
                env={**subprocess_environment(), **dict(self.command.environment)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                **hidden_console(),
            )
        except FileNotFoundError:
            raise WorkerError(
                f"The worker's Python '{python}' does not exist. "
                "Choose an existing interpreter, or create a runtime for REO, "
                "in REO ▸ Runtime set-up.",
                kind="python_missing",
            ) from None
        except OSError as error:
            raise WorkerError(
                f"The worker's Python '{python}' cannot be started ({error.strerror or error}). "
                "Is it a Python interpreter? Choose another one in REO ▸ Runtime set-up.",
                kind="python_missing",
            ) from None
        threading.Thread(target=self._read_stdout, name="reo-worker-stdout", daemon=True).start()
        threading.Thread(target=self._read_stderr, name="reo-worker-stderr", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(POLL_S):
            if self._refusal is not None:
                self.kill()
                raise self._refusal
            if self._exited.is_set() or self._process.poll() is not None:
                self._exited.wait(2.0)  # let the readers drain the last lines
                self._stderr_read.wait(2.0)
                self._close_stdin()
                raise self._start_failure()
            if is_canceled is not None and is_canceled():
                self.kill()
                raise WorkerCanceled("Canceled while the worker was starting.")
            if time.monotonic() > deadline:
                self.kill()
                raise WorkerError(
                    f"The worker did not start within {timeout:.0f} s. Check REO ▸ Diagnostics; "
                    "the worker's log is in the message log, tab 'REO worker'.",
                    details=self.stderr_tail(),
                    kind="start_timeout",
                )
        log.info(f"Worker started: {' '.join(self.command.argv)} (pid {self.pid})")
        return self.ready

    def close(self, timeout: float = 5.0) -> None:
        """Ask the worker to shut down; end it if it does not within ``timeout``."""
        process = self._process
        if not self.stop() or process is None:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def stop(self) -> bool:
        """Ask the worker to shut down and close its stdin, without waiting; False if it is not
        running. Its stdout and stderr close when it exits (the readers close them at the end)."""
        process = self._process
        if process is None:
            return False
        running = process.poll() is None
        if running:
            with contextlib.suppress(WorkerError):  # stdin already closed: it is going anyway
                self._write(protocol.request_line(self._next_id(), "shutdown", {}))
        self._close_stdin()
        return running

    def kill(self) -> None:
        """End the worker now (a request that does not stop, or QGIS quitting)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(3.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(3.0)
        self._close_stdin()

    def stderr_tail(self, lines: int = 15) -> str:
        return "\n".join(list(self._stderr)[-lines:])

    # -- requests -------------------------------------------------------------------------------

    def send(self, op: str, **fields: object) -> PendingRequest:
        """Send a request; its replies arrive in the returned request's queue.

        Raises ProtocolError (a ReoError) naming the field when ``fields`` do not fit ``op``.
        """
        request = PendingRequest(self._next_id(), op)
        line = protocol.request_line(request.id, op, fields)
        with self._lock:
            self._pending[request.id] = request
        try:
            self._write(line)
        except WorkerError:
            with self._lock:
                self._pending.pop(request.id, None)
            raise
        return request

    def cancel(self, request: PendingRequest) -> None:
        """Ask the worker to stop ``request`` (it then ends with a ``canceled`` error)."""
        with contextlib.suppress(WorkerError):  # the worker is gone: the request ends with the exit
            self._write(protocol.request_line(self._next_id(), "cancel", {"target": request.id}))

    def call(
        self,
        op: str,
        fields: dict | None = None,
        progress: Progress | None = None,
        is_canceled: IsCanceled | None = None,
        timeout: float | None = None,
    ) -> dict:
        """Send a request and wait for its result, reporting progress and forwarding cancel.

        Returns:
            the op's result dataclass (``serve_protocol``) as JSON values: exactly what the
            worker sent, after checking it has that shape.
        Raises:
            WorkerCanceled: canceled (the worker confirmed, or was ended after CANCEL_GRACE_S).
            WorkerError: the worker's error (kind, message, details) or its unexpected exit.
        """
        request = self.send(op, **(fields or {}))
        canceled_at: float | None = None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                if canceled_at is None and is_canceled is not None and is_canceled():
                    self.cancel(request)
                    canceled_at = time.monotonic()
                if canceled_at is not None and time.monotonic() - canceled_at > CANCEL_GRACE_S:
                    self.kill()
                    raise WorkerCanceled(
                        f"Canceled; the worker did not stop within {CANCEL_GRACE_S:.0f} s and was "
                        "ended (it restarts with the next request)."
                    )
                if deadline is not None and time.monotonic() > deadline:
                    self.cancel(request)
                    raise WorkerError(
                        f"The worker did not answer '{op}' within {timeout:.0f} s.", kind="timeout"
                    )
                try:
                    reply = request.replies.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if isinstance(reply, protocol.Progress):
                    if progress is not None:
                        progress(min(max(reply.fraction, 0.0), 1.0), reply.message)
                elif isinstance(reply, protocol.Result):
                    return self._result(op, reply)
                elif isinstance(reply, protocol.ErrorReply):
                    raise self._request_error(reply.error, canceled_at is not None)
                elif isinstance(reply, WorkerExited):
                    if canceled_at is not None:
                        raise WorkerCanceled("Canceled; the worker stopped.")
                    raise self._exit_error(op)
        finally:
            with self._lock:
                self._pending.pop(request.id, None)

    # -- internals ------------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"r{next(self._ids)}"

    def _close_stdin(self) -> None:
        process = self._process
        if process is not None and process.stdin is not None:
            with self._write_lock, contextlib.suppress(OSError):  # a broken pipe: closed anyway
                process.stdin.close()

    def _write(self, line: str) -> None:
        process = self._process
        if process is None or process.stdin is None or process.poll() is not None:
            raise WorkerError("The worker is not running.", kind="not_running")
        data = (line + "\n").encode("utf-8")
        with self._write_lock:
            try:
                process.stdin.write(data)
                process.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise WorkerError(
                    "The worker stopped; it cannot take requests.", kind="not_running"
                ) from None

    def _read_stdout(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            if raw.strip():
                self._take_line(raw)
        process.stdout.close()  # end of output: the worker has closed its side
        process.wait()
        self._close_stdin()  # the worker is gone (shut down, ended or crashed): nothing to write
        self._exited.set()
        with self._lock:
            pending = list(self._pending.values())
        for request in pending:
            request.replies.put(WorkerExited(process.returncode))

    def _take_line(self, raw: bytes) -> None:
        """Route one stdout line: the ready line, a reply to its request, or log noise."""
        try:
            reply = protocol.parse_reply(raw)
        except protocol.ProtocolError:
            text = raw.decode("utf-8", errors="replace").strip()
            if not self._ready.is_set() and _claims_ready(text):
                self._refusal = self._protocol_refusal(text)
            else:
                self._log(f"(stdout) {text}")  # a library printing to stdout: not a reply
            return
        if isinstance(reply, protocol.Ready):
            if reply.protocol != protocol.PROTOCOL_VERSION:
                self._refusal = self._protocol_refusal(raw.decode("utf-8").strip(), reply)
                return
            self.ready = reply
            self._ready.set()
            return
        with self._lock:
            request = self._pending.get(str(reply.id))
        if request is not None:
            request.replies.put(reply)

    def _read_stderr(self) -> None:
        process = self._process
        assert process is not None and process.stderr is not None
        for raw in iter(process.stderr.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self._stderr.append(line)
                self._log(line)
        process.stderr.close()
        self._stderr_read.set()

    def _log(self, line: str) -> None:
        with contextlib.suppress(Exception):  # logging must never stop the reader thread
            self.on_log(line)

    def _start_failure(self) -> WorkerError:
        python = self.command.python
        code = self._process.returncode if self._process is not None else None
        tail = self.stderr_tail()
        missing = _missing_module(tail)
        if missing in ("reo_core", WORKER_MODULE):
            return WorkerError(
                f"The worker cannot import {missing} from {self.command.cwd}. The plugin folder "
                "looks incomplete: reinstall the REO plugin.",
                details=tail,
                kind="missing_reo_core",
            )
        if missing:
            return missing_package_error(python, missing, tail)
        return WorkerError(
            f"The worker stopped while starting (exit code {code}). Its last words are below; "
            "REO ▸ Diagnostics checks its Python.",
            details=tail or "(the worker wrote nothing)",
            kind="start",
        )

    def _protocol_refusal(self, line: str, ready: protocol.Ready | None = None) -> WorkerError:
        spoken = (
            f"protocol {ready.protocol} (reo_core {ready.version})" if ready else "another protocol"
        )
        return WorkerError(
            f"The worker speaks REO {spoken}, this plugin protocol {protocol.PROTOCOL_VERSION}: "
            f"it runs another copy of REO than the plugin. Check the worker's Python in REO ▸ "
            f"Runtime set-up; the worker must start from the plugin's folder {self.command.cwd}.",
            details=f"the worker's first line: {line[:300]}",
            kind="protocol_mismatch",
        )

    def _result(self, op: str, reply: protocol.Result) -> dict:
        try:
            return to_json(protocol.decode_result(op, reply.result))
        except protocol.ProtocolError as error:
            raise WorkerError(
                f"The worker's result of '{op}' does not have the shape of REO protocol "
                f"{protocol.PROTOCOL_VERSION}: {error.message}",
                details=json.dumps(reply.result)[:2000],
                kind="protocol_mismatch",
            ) from None

    def _request_error(self, error: protocol.ErrorInfo, canceled: bool) -> ReoError:
        kind, message, details = error.kind, error.message, error.details
        message = message or "The worker reported an error without a message."
        if canceled or kind == protocol.CANCELED_KIND:
            return WorkerCanceled(message, details)
        missing = _missing_module(f"{message}\n{details or ''}")
        if missing and missing not in ("reo_core", WORKER_MODULE):
            return missing_package_error(
                self.command.python, missing, f"{message}\n{details or ''}"
            )
        return WorkerError(message, details, kind=kind)

    def _exit_error(self, op: str) -> WorkerError:
        self._stderr_read.wait(2.0)  # stdout can end first: let its last words arrive
        code = self._process.returncode if self._process is not None else None
        return WorkerError(
            f"The worker stopped unexpectedly during '{op}' (exit code {code}); it restarts with "
            "the next request. Its last log lines are in the details.",
            details=self.stderr_tail() or None,
            kind="worker_exited",
        )


def missing_package_error(python: str, package: str, details: str | None) -> WorkerError:
    """The error for a worker interpreter that lacks a package, with the command that fixes it."""
    return WorkerError(
        f"The worker's Python ({python}) lacks the package '{package}'. Install REO's requirements "
        f"into it:\n{install_command(python)}\nor create a runtime in REO ▸ Runtime set-up.",
        details=details,
        kind="missing_dependency",
    )


def _claims_ready(line: str) -> bool:
    """True for a JSON object whose type is 'ready' (of a protocol this plugin cannot read)."""
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get(protocol.TYPE_KEY) == protocol.Ready.type


def _missing_module(text: str) -> str | None:
    """The module named by a "No module named 'x'" error in ``text`` (top-level name), if any."""
    found = _MISSING_MODULE.findall(text)
    if not found:
        return None
    name = found[-1].rstrip(".")
    if name == WORKER_MODULE:
        return WORKER_MODULE
    return name.split(".")[0]
