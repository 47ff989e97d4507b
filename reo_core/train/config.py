"""Training configuration: a validated dataclass read from a YAML preset plus ``key=value``
overrides.

    python -m reo_core.train --config configs/tiny.yaml steps=20 model.lora_r=8

Keys of the model (``ReoConfig``) live under ``model:``. An unknown key anywhere is an error that
lists the known ones; a value of the wrong type (``steps=ten``) is an error that names the setting.
"""

from __future__ import annotations

import copy
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from reo_core.errors import InputError, check_choice
from reo_core.model.config import ReoConfig

STAGES = ("1", "2", "both")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
DEVICES = ("auto", "cpu")
SCHEDULES = ("cosine", "linear", "constant")
# generated: the head learns from the states of the text the stage-1 model generates for the
# estimate question, as at inference. reference: from the dialogue's true answer (teacher forcing).
STAGE2_TEXTS = ("generated", "reference")
# The least value of each counting setting (0 where 0 means "off" or "as many as the batch").
LEAST_VALUES = {
    "steps": 1,
    "batch_size": 1,
    "eval_samples": 1,
    "eval_batch_size": 1,
    "keep_checkpoints": 1,
    "max_new_tokens": 1,
    "stage2_steps": 0,
    "micro_batch_size": 0,
    "warmup_steps": 0,
    "eval_every": 0,
    "save_every": 0,
    "num_workers": 0,
}
# Settings that change how a run executes but not what it learns: a run may be resumed with other
# values. Every other setting must match the run folder's train_config.json to resume it.
EXECUTION_SETTINGS = (
    "micro_batch_size",
    "gradient_checkpointing",
    "eval_every",
    "eval_batch_size",
    "save_every",
    "keep_checkpoints",
    "num_workers",
    "device",
)


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
    batch_size: int = 8  # global batch: samples per optimiser step, over all processes
    # Samples one process runs through the model at once; 0 = its whole share of the batch.
    # Gradient accumulation = batch_size / (micro_batch_size x processes) micro-steps per step.
    micro_batch_size: int = 0
    learning_rate: float = 2e-4  # stage 1 (LoRA)
    stage2_learning_rate: float = 1e-3  # stage 2 (head and reverse projection)
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | linear | constant, after warmup
    warmup_steps: int = 0
    max_grad_norm: float = 1.0  # gradient clipping; 0 = off
    # auto = bf16 on a GPU that supports it, else no. The base's weights are loaded in this
    # precision (bf16 / fp16); what trains stays float32.
    mixed_precision: str = "auto"
    device: str = "auto"  # auto = the accelerators accelerate finds; cpu = CPU even where GPUs are
    # Recompute the LLM layers' activations in the backward pass (stage 1): far less memory for
    # about a third more compute. Needed for the paper's 3,550-token samples on one 80 GB GPU.
    gradient_checkpointing: bool = False
    stage2_text: str = "generated"  # generated | reference: the text whose states the head reads
    eval_every: int = 0  # steps between validations; 0 = only at the end of each stage
    eval_samples: int = 64  # validation dialogues per family and evaluation
    eval_batch_size: int = 8  # patches per process in one validation (and stage-2 caching) batch
    save_every: int = 0  # steps between resumable checkpoints; 0 = only at the end
    keep_checkpoints: int = 2  # newest resumable checkpoints to keep
    num_workers: int = 0  # DataLoader workers
    # Longest generated answer in stage-1 validation (free generation of every family; 40 is
    # longer than every template answer). Stage 2's generated text is the inference engine's
    # answer to the estimate question, as long as the engine makes it (reo_core.infer.engine: the
    # longest answer of its grammar + EOS), whatever this says.
    max_new_tokens: int = 40
    model: dict = field(default_factory=dict)  # the ReoConfig fields given (others: defaults)
    # ``model`` parsed and validated, once per validate(); not a setting (not saved).
    model_config: ReoConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.stage, int) and not isinstance(self.stage, bool):
            self.stage = str(self.stage)
        self.validate()

    def validate(self) -> None:
        check_types(TrainConfig, self.to_dict(), "")
        check_types(ReoConfig, self.model, "model.")
        check_choice("stage", self.stage, STAGES)
        check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("device", self.device, DEVICES)
        check_choice("stage2_text", self.stage2_text, STAGE2_TEXTS)
        if self.build_base:
            # The shapes live with the code that builds them (it loads torch: only when asked).
            from reo_core.train.presets import BASE_SPECS

            check_choice("build_base", self.build_base, tuple(BASE_SPECS))
        for name, least in LEAST_VALUES.items():
            if getattr(self, name) < least:
                raise InputError(f"{name} must be >= {least}, got {getattr(self, name)}.")
        if self.learning_rate <= 0 or self.stage2_learning_rate <= 0:
            raise InputError("learning rates must be > 0")
        if not self.data:
            raise InputError(
                "No training data: set data=<folder built by python -m reo_core.build_instruct>."
            )
        if self.stage == "2" and not self.stage1_checkpoint:
            raise InputError(
                "Stage 2 trains the regression head on a stage-1 model: "
                "set stage1_checkpoint=<folder of a stage-1 (or final) model>, or run stage=both."
            )
        try:
            self.model_config = ReoConfig.from_dict(self.model)
        except (TypeError, ValueError) as error:
            raise InputError(f"model: {error}") from None

    @property
    def stages(self) -> tuple[int, ...]:
        """The stages this run trains, in order."""
        return {"1": (1,), "2": (2,), "both": (1, 2)}[self.stage]

    def stage_steps(self, stage: int) -> int:
        return self.steps if stage == 1 or not self.stage2_steps else self.stage2_steps

    def to_dict(self) -> dict:
        """The settings (``model`` as given), as saved in train_config.json."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.init}

    def save(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(
            json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        )


CONFIG_FILE = "train_config.json"


def load_train_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """A preset YAML file (or nothing) with ``key=value`` overrides applied on top."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"Training config {path} does not exist.")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise InputError(f"{path} is not valid YAML: {error}") from None
        if not isinstance(values, dict):
            raise InputError(
                f"{path} must hold a mapping of settings, not {type(values).__name__}."
            )
    for override in overrides:
        key, value = _parse_override(override)
        _set(values, key, value)
    known = {f.name for f in fields(TrainConfig) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"Unknown training setting(s) {unknown}; known settings: {sorted(known)}.")
    if not isinstance(values.get("model", {}), dict):
        raise InputError("model must be a group of settings (model.key=value).")
    model_keys = {f.name for f in fields(ReoConfig)}
    unknown_model = sorted(set(values.get("model", {})) - model_keys)
    if unknown_model:
        raise InputError(f"Unknown model setting(s) {unknown_model}; known: {sorted(model_keys)}.")
    return TrainConfig(**values)


def check_types(cls: type, values: dict, prefix: str) -> None:
    """Each value has its field's type: an InputError naming the setting and the value if not.

    Integers are accepted where numbers are; lists where tuples are. Fields whose type is not a
    plain int, float, bool, str, tuple or dict are left to the dataclass's own validation.
    """
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        expected = hints.get(name)
        if expected is None or _has_type(value, expected):
            continue
        type_name = _TYPE_NAMES.get(typing.get_origin(expected) or expected, expected)
        raise InputError(f"{prefix}{name} must be {type_name}, got {value!r}.")


_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    bool: "true or false",
    str: "a text",
    tuple: "a list",
    dict: "a group of settings",
}


def _has_type(value: object, expected: object) -> bool:
    origin = typing.get_origin(expected) or expected
    if origin not in _TYPE_NAMES:
        return True  # unions and the like: the dataclass validates them
    if origin is bool:
        return isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is tuple:
        return isinstance(value, (list, tuple))
    return isinstance(value, origin)


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise InputError(
            f"Override '{text}' must look like key=value (e.g. steps=50 or model.lora_r=8)."
        )
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML: the text as it is (the type check says if it does not fit)
    return key.strip(), value


def _set(values: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = values
    for parent in parents:
        node = node.setdefault(parent, {})
        if not isinstance(node, dict):
            raise InputError(f"Override '{dotted}': '{parent}' is not a group of settings.")
    node[leaf] = value
