"""Training configuration: a validated dataclass read from a YAML preset plus ``key=value`` overrides.

    python -m reo_core.train --config configs/tiny.yaml steps=20 model.lora_r=8

Keys of the model (``ReoConfig``) live under ``model:``. An unknown key anywhere is an error that
lists the known ones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from reo_core.errors import InputError
from reo_core.model.config import ReoConfig

STAGES = ("1", "2", "both")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
DEVICES = ("auto", "cpu")
SCHEDULES = ("cosine", "linear", "constant")
BASE_SPECS = ("tiny", "demo")


@dataclass
class TrainConfig:
    """Everything a training run needs; every field has a default and a comment."""

    data: str = ""  # a folder built by `python -m reo_core.build_instruct`
    output: str = "out/train"  # run folder: checkpoints, metrics.csv, plots, final model
    stage: str = "both"  # 1 = LoRA on dialogues, 2 = regression head on AGB, both = 1 then 2
    stage1_checkpoint: str = ""  # stage 2 alone starts from this stage-1 model folder
    build_base: str = ""  # tiny | demo: build the base at model.base_model if it is missing
    seed: int = 0
    steps: int = 100  # optimiser steps per stage
    stage2_steps: int = 0  # optimiser steps of stage 2; 0 = same as steps
    batch_size: int = 8  # global batch per optimiser step (split across processes)
    grad_accumulation: int = 1  # micro-steps per optimiser step
    learning_rate: float = 2e-4  # stage 1 (LoRA)
    stage2_learning_rate: float = 1e-3  # stage 2 (head and reverse projection)
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | linear | constant, after warmup
    warmup_steps: int = 0
    max_grad_norm: float = 1.0  # gradient clipping; 0 = off
    mixed_precision: str = "auto"  # auto = bf16 on a GPU that supports it, else no
    device: str = "auto"  # auto = the accelerators accelerate finds; cpu = CPU even where GPUs are
    eval_every: int = 0  # steps between validations; 0 = only at the end of each stage
    eval_samples: int = 64  # validation dialogues per family and evaluation
    save_every: int = 0  # steps between resumable checkpoints; 0 = only at the end
    keep_checkpoints: int = 2  # newest resumable checkpoints to keep
    num_workers: int = 0  # DataLoader workers
    max_new_tokens: int = 24  # generation length in validation
    resume: bool = True  # continue from the newest checkpoint in `output` if there is one
    model: dict = field(default_factory=dict)  # ReoConfig fields

    def __post_init__(self) -> None:
        self.stage = str(self.stage)
        self.validate()

    def validate(self) -> None:
        _choice("stage", self.stage, STAGES)
        _choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, DEVICES)
        if self.build_base:
            _choice("build_base", self.build_base, BASE_SPECS)
        for name in (
            "steps",
            "batch_size",
            "grad_accumulation",
            "eval_samples",
            "keep_checkpoints",
            "max_new_tokens",
        ):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("stage2_steps", "warmup_steps", "eval_every", "save_every", "num_workers"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.learning_rate <= 0 or self.stage2_learning_rate <= 0:
            raise InputError("learning rates must be > 0")
        if not self.data:
            raise InputError(
                "No training data: set data=<folder built by python -m reo_core.build_instruct>."
            )
        if self.stage == "2" and not self.stage1_checkpoint:
            raise InputError(
                "Stage 2 trains the regression head on a stage-1 model: set stage1_checkpoint=<folder of a "
                "stage-1 (or final) model>, or run stage=both."
            )
        try:
            ReoConfig.from_dict(self.model)
        except (TypeError, ValueError) as error:
            raise InputError(f"model: {error}") from None

    @property
    def model_config(self) -> ReoConfig:
        return ReoConfig.from_dict(self.model)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, folder: Path) -> None:
        (folder / "train_config.json").write_text(
            json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        )


def load_train_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """A preset YAML file (or nothing) with ``key=value`` overrides applied on top."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"Training config {path} does not exist.")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise InputError(
                f"{path} must hold a mapping of settings, not {type(values).__name__}."
            )
    for override in overrides:
        key, value = _parse_override(override)
        _set(values, key, value)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"Unknown training setting(s) {unknown}; known settings: {sorted(known)}.")
    model_keys = {f.name for f in fields(ReoConfig)}
    unknown_model = sorted(set(values.get("model", {})) - model_keys)
    if unknown_model:
        raise InputError(f"Unknown model setting(s) {unknown_model}; known: {sorted(model_keys)}.")
    return TrainConfig(**values)


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise InputError(
            f"Override '{text}' must look like key=value (e.g. steps=50 or model.lora_r=8)."
        )
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw.strip() else ""


def _set(values: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = values
    for parent in parents:
        node = node.setdefault(parent, {})
        if not isinstance(node, dict):
            raise InputError(f"Override '{dotted}': '{parent}' is not a group of settings.")
    node[leaf] = value


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(allowed)}; got '{value}'.")
