"""Paths and override lists shared by the training tests."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_PRESET = REPO_ROOT / "configs" / "tiny.yaml"


def overrides(instruct_folder: Path, base: Path, output: Path, **settings) -> list[str]:
    values = {"data": instruct_folder, "output": output, "model.base_model": base, **settings}
    return [f"{key}={value}" for key, value in values.items()]
