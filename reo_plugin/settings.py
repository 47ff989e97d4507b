"""The plugin's persistent settings (QgsSettings under ``reo/``), read and written in one place.

The worker's Python is a setting: empty means "the default", which is the ``.venv`` interpreter
next to the plugin when there is one (a developer checkout) and otherwise ``python3`` on the PATH.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, fields

from qgis.core import QgsSettings

from reo_core.patch_lattice import PATCH_SIZE
from reo_plugin.locations import DEMO_MODEL_DIR, PLUGIN_DIR, venv_python

PREFIX = "reo/"
WORKER_PYTHON_KEY = PREFIX + "worker/python"
RUNTIME_DIR_KEY = PREFIX + "worker/runtime_dir"


def default_worker_python() -> str:
    """The ``.venv`` interpreter next to the plugin if present, else ``python3`` (``python`` on
    Windows)."""
    local = venv_python(PLUGIN_DIR / ".venv")
    if local.is_file():
        return str(local)
    name = "python" if sys.platform == "win32" else "python3"
    return shutil.which(name) or name


def worker_python() -> str:
    """The interpreter the worker runs with: the setting, or the default when it is empty."""
    value = str(QgsSettings().value(WORKER_PYTHON_KEY, "", type=str) or "").strip()
    return value or default_worker_python()


def set_worker_python(path: str) -> None:
    """Remember the worker's interpreter; an empty string goes back to the default."""
    QgsSettings().setValue(WORKER_PYTHON_KEY, str(path).strip())


def runtime_dir() -> str:
    return str(QgsSettings().value(RUNTIME_DIR_KEY, "", type=str) or "")


def set_runtime_dir(path: str) -> None:
    QgsSettings().setValue(RUNTIME_DIR_KEY, str(path))


@dataclass
class DockSettings:
    """What the dock remembers between sessions (layers are the project's, not remembered here)."""

    s2_mode: str = "multiband"  # multiband | per_band
    modality: str = "ms"
    model: str = str(DEMO_MODEL_DIR)
    device: str = "auto"
    stride: int = PATCH_SIZE
    batch_size: int = 32
    out_dir: str = ""

    @classmethod
    def load(cls) -> DockSettings:
        settings, defaults = QgsSettings(), cls()
        values = {}
        for field in fields(cls):
            default = getattr(defaults, field.name)
            value = settings.value(PREFIX + "dock/" + field.name, default, type=type(default))
            values[field.name] = value if value not in (None, "") else default
        return cls(**values)

    def save(self) -> None:
        settings = QgsSettings()
        for field in fields(self):
            settings.setValue(PREFIX + "dock/" + field.name, getattr(self, field.name))
