"""Helpers of the inference tests: tiny checkpoints, the synthetic scene's files, subprocesses."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import rasterio
from tiny_models import tiny_model

from reo_core.infer.engine import EngineOptions
from reo_core.infer.estimate import EstimateRequest, run_estimate
from reo_core.infer.inputs import InputSpec
from reo_core.model.checkpoint import save_checkpoint
from reo_core.raster import Extent

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST = EngineOptions(device="cpu", batch_size=16, max_new_tokens=4)


def load_bench(name: str) -> ModuleType:
    """A script of bench/ (``name``.py) imported as a module, for tests of its parts."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_bench", REPO_ROOT / "bench" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_model(folder: Path, base: Path, **overrides) -> Path:
    """A tiny REO model on ``base`` with LoRA weights that matter, saved as a checkpoint folder."""
    return save_checkpoint(tiny_model(base, **overrides), folder)


def estimate_part_of_scene(engine, scene: Path, out: Path) -> InputSpec:
    """Estimate 2 x 3 patches inside the scene into ``out`` (no quicklook); the inputs used."""
    x0, y0 = scene_origin(scene)
    extent = Extent.from_bounds(x0 + 510, y0 - 1260, x0 + 1250, y0 - 510, "EPSG:32632")
    inputs = InputSpec(s2=scene_s2(scene), extent=extent)
    run_estimate(engine, EstimateRequest(inputs, out, quicklook=False))
    return inputs


def scene_s2(scene: Path) -> list[Path]:
    """The scene's Sentinel-2 stack and its SCL layer."""
    return sorted((scene / "s2").glob("*.tif"))


def cli_args(model, s2, *extra, out: Path | None = None) -> list[str]:
    """The words of a ``reo_core.predict`` / ``reo_core.ask`` command line on the CPU: the ``s2``
    files, ``model``, ``out`` when given, then ``extra``."""
    outputs = ("--out", out) if out is not None else ()
    return [str(w) for w in ("--s2", *s2, "--model", model, *outputs, "--device", "cpu", *extra)]


def scene_sar(scene: Path) -> list[Path]:
    return sorted((scene / "palsar2").glob("*.tif"))


def scene_origin(scene: Path) -> tuple[float, float]:
    """Top-left corner of the scene in its UTM CRS."""
    transform = json.loads((scene / "scene.json").read_text())["transform"]
    return transform[2], transform[5]


CELL_M = 250.0  # patches lie on multiples of 250 m in the CRS (the global patch lattice)


def lattice_corner(x: float, y: float) -> tuple[float, float]:
    """Top-left corner of the 250 m lattice cell holding the point (x, y)."""
    return math.floor(x / CELL_M) * CELL_M, math.ceil(y / CELL_M) * CELL_M


def run_module(module: str, *args, env: dict | None = None, timeout: float = 180):
    """``python -m module args`` from the repository root, one torch thread; the
    CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def read_band(path: Path) -> tuple[np.ndarray, dict]:
    """Band 1 and the profile of a raster."""
    with rasterio.open(path) as src:
        return src.read(1), src.profile


def strict_json(line: str):
    """A JSON value; ValueError for anything else, NaN and Infinity included."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not strict JSON")

    return json.loads(line, parse_constant=refuse)


class ServeClient:
    """``python -m reo_core.serve`` in a subprocess; replies collected by a reader thread."""

    def __init__(self) -> None:
        import queue
        import threading

        self.process = subprocess.Popen(
            [sys.executable, "-m", "reo_core.serve"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        self.replies: queue.Queue = queue.Queue()
        self.non_json: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        import time

        for line in self.process.stdout:
            try:
                self.replies.put((time.monotonic(), strict_json(line)))
            except ValueError:  # not JSON, or not strict JSON (NaN, Infinity)
                self.non_json.append(line)

    def send(self, request: dict | str | bytes) -> float:
        """Send a request (a dict, or a raw line as text or bytes); the time it was sent."""
        import time

        if isinstance(request, bytes):
            self.process.stdin.flush()
            self.process.stdin.buffer.write(request + b"\n")
            self.process.stdin.buffer.flush()
            return time.monotonic()
        line = request if isinstance(request, str) else json.dumps(request)
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return time.monotonic()

    def until(self, request_id, timeout: float = 60.0) -> list[tuple[float, dict]]:
        """Every (time, reply) up to the final reply (result or error) of ``request_id``."""
        import time

        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                at, reply = self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                break
            seen.append((at, reply))
            if reply.get("id") == request_id and reply.get("type") in ("result", "error"):
                return seen
        raise AssertionError(f"no final reply to {request_id!r} within {timeout} s; got {seen}")

    def final(self, request_id, timeout: float = 60.0) -> dict:
        return self.until(request_id, timeout)[-1][1]

    def close(self) -> int:
        if self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                self.send({"id": "bye", "op": "shutdown"})
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()
