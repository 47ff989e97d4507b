"""Where the plugin's files are: the plugin folder, its resources, styles, icons and the demo
model."""

from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parents[1]
RESOURCES_DIR = PLUGIN_DIR / "resources"
STYLES_DIR = RESOURCES_DIR / "styles"
ICONS_DIR = RESOURCES_DIR / "icons"
ICON_PATH = RESOURCES_DIR / "icon.svg"
DEMO_MODEL_DIR = RESOURCES_DIR / "demo-model" / "model"
REQUIREMENTS_PATH = PLUGIN_DIR / "requirements.txt"
WORKER_MODULE = "reo_core.serve"


def icon_path(name: str) -> Path:
    """An icon of the plugin by name (``estimate``, ``ask``, ...), or the plugin icon if absent."""
    path = ICONS_DIR / f"{name}.svg"
    return path if path.is_file() else ICON_PATH


def venv_python(venv_dir: str | Path) -> Path:
    """The interpreter of a virtual environment folder (``Scripts\\python.exe`` on Windows)."""
    venv_dir = Path(venv_dir)
    if sys.platform == "win32":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"
