"""Paths and override lists shared by the training tests."""

from __future__ import annotations

from pathlib import Path

from reo_core.train.config import TrainConfig, load_train_config

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_PRESET = REPO_ROOT / "configs" / "tiny.yaml"


def overrides(instruct_folder: Path, base: Path, output: Path, **settings) -> list[str]:
    values = {"data": instruct_folder, "output": output, "model.base_model": base, **settings}
    return [f"{key}={value}" for key, value in values.items()]


def tiny_config(instruct_folder: Path, base: Path, output: Path, **settings) -> TrainConfig:
    """The tiny preset's training config on these folders, with ``settings`` on top."""
    return load_train_config(TINY_PRESET, overrides(instruct_folder, base, output, **settings))
