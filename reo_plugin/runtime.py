"""The worker's runtime: which Python runs it, with which environment, and how to create one.

What users of other deep-learning plugins trip over, and what this module does about it:

- Packages pip-installed into QGIS's own Python break QGIS (numpy, GDAL and Qt versions clash). REO
  never installs anything into QGIS: the worker runs in its own interpreter, by default a virtual
  environment created for it, outside the plugin folder so that plugin updates keep it.
- Inside QGIS ``sys.executable`` is the QGIS binary on Windows and macOS, not a Python: starting it
  opens a second QGIS. :func:`base_python` finds the real interpreter.
- QGIS's launchers export ``PYTHONHOME``, ``PYTHONPATH`` and ``PYTHONEXECUTABLE`` for the embedded
  Python; a child Python that inherits them reads the wrong standard library or installs into the
  wrong place. :func:`subprocess_environment` removes them.
- "CUDA not found": the worker reports its torch, CUDA and GPU (``op: info``); the diagnostics view
  shows them next to the command that fixes what is missing.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from reo_core.errors import check_choice
from reo_plugin.locations import PLUGIN_DIR, REQUIREMENTS_PATH, venv_python

# Variables set for QGIS's embedded Python that must not leak into another interpreter.
PYTHON_VARIABLES = (
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONEXECUTABLE",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
)
# Which PyTorch wheels to install: the package index of each build.
TORCH_INDEXES: dict[str, str | None] = {
    "requirements": None,  # as pinned in requirements.txt, from the default index
    "cpu": "https://download.pytorch.org/whl/cpu",
    "cu126": "https://download.pytorch.org/whl/cu126",
    "cu128": "https://download.pytorch.org/whl/cu128",
}
TORCH_BUILD_LABELS: dict[str, str] = {
    "requirements": "As in requirements.txt",
    "cpu": "CPU only (small download)",
    "cu126": "NVIDIA CUDA 12.6 (driver >= 560)",
    "cu128": "NVIDIA CUDA 12.8 (driver >= 570)",
}
PROBE_TIMEOUT_S = 60.0

# Run by the worker's interpreter to say what it has; prints one JSON object. Versions come from
# package metadata, so nothing heavy is imported except torch itself (for CUDA).
PROBE_SCRIPT = r"""
import json, platform, sys
from importlib import metadata
out = {"python": sys.version.split()[0], "executable": sys.executable,
       "platform": platform.platform(),
       "in_venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix), "packages": {}}
for name in ("torch", "transformers", "peft", "numpy", "rasterio", "pyproj", "shapely",
             "safetensors"):
    try:
        out["packages"][name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out["packages"][name] = None
try:
    import reo_core
    out["reo_core"] = reo_core.__version__
except Exception as error:
    out["reo_core_error"] = repr(error)
if out["packages"]["torch"]:
    try:
        import torch
        out["cuda_available"] = bool(torch.cuda.is_available())
        out["cuda_version"] = torch.version.cuda
        out["gpus"] = ([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                       if out["cuda_available"] else [])
        mps = getattr(torch.backends, "mps", None)
        out["mps_available"] = bool(mps and mps.is_available())
    except Exception as error:
        out["torch_error"] = repr(error)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Step:
    """One command of the runtime set-up, shown to the user before it runs."""

    title: str
    program: str
    arguments: tuple[str, ...]

    @property
    def command_line(self) -> str:
        return " ".join(_quote(part) for part in (self.program, *self.arguments))


@dataclass
class Probe:
    """What an interpreter has, as found by :data:`PROBE_SCRIPT` (or why it could not be asked)."""

    python: str
    ok: bool
    facts: dict = field(default_factory=dict)
    error: str | None = None

    def package(self, name: str) -> str | None:
        return (self.facts.get("packages") or {}).get(name)


def base_python() -> str | None:
    """A real Python interpreter to create virtual environments with (never the QGIS binary).

    QGIS's embedded Python has the version the plugin runs on, so its own interpreter is preferred:
    ``sys.executable`` when it is a Python, else the ``python`` beside QGIS's installation
    (OSGeo4W's ``bin\\python3.exe``, the macOS bundle's ``bin/python3``); last, ``python3`` on the
    PATH.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates: list[Path] = []
    executable = Path(sys.executable) if sys.executable else None
    if executable is not None and executable.name.lower().startswith("python"):
        candidates.append(executable)
    for prefix in {Path(sys.exec_prefix), Path(sys.base_exec_prefix)}:
        candidates += [
            prefix / "python.exe",
            prefix / "python3.exe",
            prefix / "bin" / f"python{version}",
            prefix / "bin" / "python3",
        ]
    if executable is not None:
        candidates += [
            executable.parent / "python3.exe",
            executable.parent / "python3",
            executable.parent / "bin" / "python3",
        ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(f"python{version}") or shutil.which("python3") or shutil.which("python")
    return found


def subprocess_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child interpreter: QGIS's Python variables removed, output
    unbuffered."""
    env = dict(os.environ if base is None else base)
    for name in PYTHON_VARIABLES:
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def default_runtime_dir() -> Path:
    """Where the set-up creates the runtime: QGIS's settings folder, outside the plugin folder."""
    try:
        from qgis.core import QgsApplication

        root = Path(QgsApplication.qgisSettingsDirPath())
    except ImportError:  # tools outside QGIS
        root = Path.home() / ".reo"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return root / "reo" / f"runtime-py{version}"


def setup_steps(
    runtime_dir: str | Path,
    python: str,
    torch_build: str = "requirements",
    pip_arguments: tuple[str, ...] = (),
    requirements: str | Path = REQUIREMENTS_PATH,
) -> list[Step]:
    """The commands that create the runtime and install the worker's requirements into it.

    Args:
        runtime_dir: folder of the new virtual environment (created; an existing one is reused).
        python: the base interpreter (:func:`base_python`).
        torch_build: a key of :data:`TORCH_INDEXES` (which PyTorch wheels).
        pip_arguments: extra pip options, e.g. ``--proxy http://host:3128`` or ``--index-url URL``.
        requirements: the plugin's requirements.txt.
    """
    check_choice("torch_build", torch_build, TORCH_INDEXES)
    target = str(venv_python(runtime_dir))
    pip = ("-m", "pip", "--disable-pip-version-check", "install", *pip_arguments)
    steps = [
        Step("Create the environment", python, ("-m", "venv", str(runtime_dir))),
        Step("Update pip", target, (*pip, "--upgrade", "pip")),
    ]
    index = TORCH_INDEXES[torch_build]
    if index is not None:
        torch = _pinned(requirements, "torch") or "torch"
        steps.append(
            Step(f"Install PyTorch ({torch_build})", target, (*pip, torch, "--index-url", index))
        )
    steps.append(Step("Install REO's requirements", target, (*pip, "-r", str(requirements))))
    steps.append(Step("Check the environment", target, ("-c", PROBE_CHECK)))
    return steps


# The last set-up step: fails (exit 1) unless torch and the raster stack import.
PROBE_CHECK = (
    "import torch, numpy, rasterio, transformers; print('torch', torch.__version__, "
    "'CUDA', torch.version.cuda, 'GPU', torch.cuda.is_available())"
)


def probe(python: str, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """Ask ``python`` what it has (versions, CUDA, GPUs, reo_core); never raises."""
    try:
        completed = subprocess.run(
            [python, "-c", PROBE_SCRIPT],
            cwd=str(PLUGIN_DIR),
            env=subprocess_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            **hidden_console(),
        )
    except FileNotFoundError:
        return Probe(python, False, error=f"The Python '{python}' does not exist.")
    except PermissionError:
        return Probe(
            python, False, error=f"'{python}' cannot be run (no permission); is it a Python?"
        )
    except OSError as error:
        return Probe(python, False, error=f"'{python}' cannot be run: {error}")
    except subprocess.TimeoutExpired:
        return Probe(python, False, error=f"'{python}' did not answer within {timeout:.0f} s.")
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        tail = "\n".join(completed.stderr.strip().splitlines()[-5:])
        return Probe(
            python, False, error=f"'{python}' failed (exit code {completed.returncode}). {tail}"
        )
    try:
        return Probe(python, True, facts=json.loads(lines[-1]))
    except json.JSONDecodeError as error:
        return Probe(python, False, error=f"'{python}' printed something that is not JSON: {error}")


def install_command(python: str) -> str:
    """The command that installs the worker's requirements into ``python``."""
    return f"{_quote(python)} -m pip install -r {_quote(str(REQUIREMENTS_PATH))}"


def hidden_console() -> dict:
    """Popen options that keep Windows from opening a console window for a child process."""
    if sys.platform == "win32":
        return {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)}
    return {}


def _pinned(requirements: str | Path, name: str) -> str | None:
    """The requirement line of ``name`` in a requirements file (``torch==2.13.0``), if any."""
    try:
        lines = Path(requirements).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text.lower().startswith(name) and text[len(name) : len(name) + 1] in (
            "=",
            "<",
            ">",
            "~",
            "!",
            "[",
        ):
            return text
    return None


def _quote(text: str) -> str:
    """``text`` quoted for the user's shell, so that a shown command can be pasted as is."""
    if sys.platform == "win32":
        return subprocess.list2cmdline([text])
    return shlex.quote(text)


def nvidia_gpus(timeout: float = 5.0) -> list[str]:
    """GPU names from ``nvidia-smi`` (empty without an NVIDIA driver); never raises."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return []
    try:
        completed = subprocess.run(
            [program, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout,
            **hidden_console(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if completed.returncode != 0:
        return []
    return [line.strip() for line in completed.stdout.splitlines() if line.strip()]


def default_torch_build() -> str:
    """CUDA wheels where an NVIDIA driver is present, the small CPU wheels elsewhere (macOS:
    PyPI's)."""
    if sys.platform == "darwin":
        return "requirements"
    return "cu126" if nvidia_gpus() else "cpu"


def cuda_fix_command(python: str, requirements: str | Path = REQUIREMENTS_PATH) -> str:
    """The command that replaces a CPU-only PyTorch by a CUDA build in ``python``."""
    torch = _pinned(requirements, "torch") or "torch"
    return (
        f"{_quote(python)} -m pip install --force-reinstall {_quote(torch)} "
        f"--index-url {TORCH_INDEXES['cu126']}"
    )
