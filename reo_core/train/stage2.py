"""Stage 2: the regression head and reverse projection learn AGB from what inference feeds them.

Everything before the head is frozen in stage 2, so its inputs are fixed per patch: they are
recorded once (``head_inputs``) from the stage-1 model in evaluation mode (no dropout) at the
training precision, and the head then trains on the recording. With ``stage2_text=generated`` (the
default) the recording is made by the inference engine itself answering the estimate question, with
the engine's own answer length and options (only batch size, device and precision are training's),
so the head learns from the states of exactly the text inference generates; ``reference`` records
the states of the dialogue's true answer instead (teacher forcing, the older recipe).

Head settings (``model.token_strategy``, ``model.head_*``, ``model.uncertainty`` ...) may differ
from the stage-1 model's: the head is built new for them, so one stage-1 model serves a whole
ablation. Settings that shape what stage 1 learned (``STAGE1_FIELDS``) stay the stage-1 model's.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from torch.utils.data import Dataset

from reo_core.errors import InputError
from reo_core.instruct.torch_dataset import InstructDataset
from reo_core.model.checkpoint import LoadedModel, save_checkpoint
from reo_core.model.config import CONFIG_NAME, ReoConfig
from reo_core.model.processor import ReoProcessor
from reo_core.model.regression_head import HeadOutput
from reo_core.model.reo_vlm import PROMPT_MODULES, ReoVLM
from reo_core.tasks import Task
from reo_core.train.config import TrainConfig
from reo_core.train.distributed import (
    full_state_dict,
    gather_records,
    model_device,
    on_main,
    share,
    training_dtype,
)
from reo_core.train.head_inputs import HeadBatch, HeadInputCache, HeadInputRecorder, collate_inputs
from reo_core.train.work import StageWork

if TYPE_CHECKING:
    from reo_core.infer.engine import InferenceEngine

logger = logging.getLogger(__name__)

# ReoConfig settings that shape what stage 1 learned (inputs, prompt, LLM token budget, LoRA):
# stage 2 keeps the stage-1 model's values. Every other setting belongs to the head.
STAGE1_FIELDS = (
    "base_model",
    "modality",
    "bands",
    "statistics",
    "class_codes",
    "template_version",
    "prompt_format",
    "visual_token_pool",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_targets",
    "lora_full_modules",
    "max_text_tokens",
    "llm_spectral_tokens",
    "llm_spectral_conv",
)
CACHE_FOLDER = "stage2-inputs"


def stage2_model_config(stage1: ReoConfig, requested: dict) -> ReoConfig:
    """The stage-1 model's config with the requested head settings applied."""
    head = {k: v for k, v in requested.items() if k not in STAGE1_FIELDS}
    kept = sorted(
        k
        for k in requested
        if k in STAGE1_FIELDS
        and k != "base_model"  # a path resolved differently, not a different base
        and getattr(ReoConfig.from_dict({**stage1.to_dict(), k: requested[k]}), k)
        != getattr(stage1, k)
    )
    if kept:
        logger.info(
            "stage 2 keeps the stage-1 model's %s (settings of stage 1)",
            ", ".join(f"{k}={getattr(stage1, k)!r}" for k in kept),
        )
    try:
        return ReoConfig.from_dict({**stage1.to_dict(), **head})
    except (TypeError, ValueError) as error:
        raise InputError(f"model: {error}") from None


def load_stage2_model(
    config: TrainConfig, start_from: Path | None, accelerator: Accelerator
) -> LoadedModel:
    """The stage-1 model loaded as inference loads it (``load_merged``: LoRA merged into the
    weights), at the training precision, with a new head for the stage-2 settings."""
    from reo_core.infer.engine import load_merged

    if start_from is None or not (Path(start_from) / CONFIG_NAME).is_file():
        raise InputError(
            f"Stage 2 needs a stage-1 model folder; {start_from or 'none'} is not one. "
            "Set stage1_checkpoint=<folder> or run stage=both."
        )
    loaded = load_merged(Path(start_from), model_device(accelerator), training_dtype(accelerator))
    head_config = stage2_model_config(loaded.model.config, config.model)
    set_seed(config.seed + 2)  # the new head's initial weights
    loaded = with_new_heads(loaded, head_config)
    loaded.model.set_stage(2)
    loaded.model.eval()  # the frozen model answers as at inference: LoRA dropout off
    return loaded


def with_new_heads(loaded: LoadedModel, config: ReoConfig) -> LoadedModel:
    """The same base, adapter and stage-1 modules before the LLM (``PROMPT_MODULES``), with a
    freshly initialised head built for ``config``."""
    old = loaded.model
    device = next(old.base.parameters()).device
    model = ReoVLM(config, old.base, old.tokenizer).to(device)
    learned = {k: v for k, v in old.state_dict().items() if k.startswith(PROMPT_MODULES)}
    model.load_state_dict(learned, strict=False)
    processor = ReoProcessor(
        config,
        old.tokenizer,
        loaded.processor.image_spec,
        model.tokens_per_image,
        model.llava.config.image_token_index,
    )
    return LoadedModel(model, processor)


class HeadStage(nn.Module):
    """What stage 2 trains: a copy of the model's head parts, without its base, reading recorded
    head inputs. Only this is handed to accelerate, so stage-2 checkpoints hold only the head."""

    def __init__(self, model: ReoVLM) -> None:
        super().__init__()
        base = model._modules.pop("base")
        try:  # the tokenizer is shared, not copied
            self.model = copy.deepcopy(model, memo={id(model.tokenizer): model.tokenizer})
        finally:
            model._modules["base"] = base

    def forward(
        self, inputs: dict[str, object], agb: torch.Tensor | None = None
    ) -> tuple[HeadOutput, torch.Tensor | None]:
        device_type = next(self.parameters()).device.type
        with torch.autocast(device_type, enabled=False):  # float32, as the head runs at inference
            prediction = self.model.regress(**inputs)
        loss = None if agb is None else self.model._agb_loss(prediction, agb)
        return prediction, loss


class HeadInputDataset(Dataset):
    """Stage-2 samples: the recorded head inputs of each dialogue's unit, its AGB target and
    truth."""

    def __init__(self, cache: HeadInputCache, units: list[int], dataset: InstructDataset) -> None:
        self.cache = cache
        self.units = units
        self.ids = [r["id"] for r in dataset.records]
        self.agb = [float(r["target"]["agb"]) for r in dataset.records]
        self.truths = [r["target"]["answer"] for r in dataset.records]

    def __len__(self) -> int:
        return len(self.units)

    def __getitem__(self, index: int) -> dict:
        return {
            "id": self.ids[index],
            "inputs": self.cache.read(self.units[index]),
            "agb": self.agb[index],
        }

    def collate(self, items: list[dict]) -> HeadBatch:
        return HeadBatch(
            collate_inputs([item["inputs"] for item in items]),
            torch.tensor([item["agb"] for item in items], dtype=torch.float32),
            [item["id"] for item in items],
        )


@dataclass
class RecordingPlan:
    """How one split's head inputs are recorded: which items stand for each unit."""

    dataset: InstructDataset
    mode: str  # generated | reference
    units: list[int]  # per unit: the dataset index of the item that stands for it
    unit_of_item: list[int]  # per dataset item: its unit

    @classmethod
    def of(cls, dataset: InstructDataset, mode: str) -> RecordingPlan:
        if mode == "reference":  # every dialogue has its own answer text
            every = list(range(len(dataset)))
            return cls(dataset, mode, every, every)
        first: dict[tuple, int] = {}  # generated: one answer per patch, to the same question
        unit_of_item = [
            first.setdefault(dataset.patch_key(i), len(first)) for i in range(len(dataset))
        ]
        units = [0] * len(first)
        for item, unit in reversed(list(enumerate(unit_of_item))):
            units[unit] = item
        return cls(dataset, mode, units, unit_of_item)


def record_head_inputs(
    config: TrainConfig,
    loaded: LoadedModel,
    plan: RecordingPlan,
    folder: Path,
    accelerator: Accelerator,
    fingerprint: dict,
    engine: InferenceEngine,
) -> HeadInputDataset:
    """Record (or reuse) the head inputs of every unit; each process records every N-th chunk.
    ``engine`` (see :func:`estimate_engine`) answers the estimate question in "generated" mode."""
    cache = HeadInputCache(folder, len(plan.units), config.eval_batch_size)
    fingerprint = {
        **fingerprint,
        "mode": plan.mode,
        "units": len(plan.units),
        "unit_items": _digest([plan.dataset.records[i]["id"] for i in plan.units]),
        "chunk_size": cache.chunk_size,
    }
    on_main(accelerator, lambda: cache.reset(fingerprint))
    accelerator.wait_for_everyone()
    mine = list(range(accelerator.process_index, cache.chunks, accelerator.num_processes))
    todo = cache.missing(mine)
    if todo:
        logger.info(
            "stage 2: recording head inputs of %d %s(s) in %s (%d chunk(s) here)",
            len(plan.units),
            "patch" if plan.mode == "generated" else "dialogue",
            folder,
            len(todo),
        )
    produce = _producer(loaded, plan, accelerator, engine)
    for chunk in todo:
        cache.write(chunk, produce([plan.units[u] for u in cache.chunk_units(chunk)]))
    accelerator.wait_for_everyone()
    return HeadInputDataset(cache, plan.unit_of_item, plan.dataset)


def estimate_engine(
    config: TrainConfig, loaded: LoadedModel, accelerator: Accelerator
) -> InferenceEngine:
    """The inference engine that answers the estimate question for stage 2, as it answers users:
    its default options (answer length, constraint, decoder), at training's device, precision
    and ``eval_batch_size``."""
    from reo_core.infer.engine import EngineOptions, InferenceEngine

    options = EngineOptions(batch_size=config.eval_batch_size)
    dtype, device = training_dtype(accelerator), model_device(accelerator)
    return InferenceEngine(loaded, device, dtype, options)


def _producer(
    loaded: LoadedModel, plan: RecordingPlan, accelerator: Accelerator, engine: InferenceEngine
) -> Callable[[list[int]], list[dict]]:
    """items -> their recorded head inputs, one sample per item."""
    dtype, device = training_dtype(accelerator), model_device(accelerator)
    model, dataset = loaded.model, plan.dataset
    if plan.mode == "generated":

        def generated(items: list[int]) -> list[dict]:
            arrays = [dataset.patch_arrays(i) for i in items]
            s2 = np.stack([s2 for s2, _ in arrays])
            sar = None if arrays[0][1] is None else np.stack([sar for _, sar in arrays])
            with HeadInputRecorder(model) as recorder:
                engine.predict_patches(s2, sar)
            return recorder.samples()

        return generated

    def reference(items: list[int]) -> list[dict]:
        batch = dataset.collate([dataset[i] for i in items]).to(device, dtype)
        with torch.inference_mode(), HeadInputRecorder(model) as recorder:
            model(batch)
        return recorder.samples()

    return reference


def stage2_datasets(
    config: TrainConfig, loaded: LoadedModel, start_from: Path, accelerator: Accelerator
) -> tuple[HeadInputDataset, HeadInputDataset]:
    """Training (``stage2_text``) and validation (always generated, as users get AGB) samples."""
    processor = loaded.processor
    train_set = InstructDataset(config.data, "train", processor, tasks=(Task.AGB,))
    val_set = InstructDataset(
        config.data, "val", processor, tasks=(Task.AGB,), limit=config.eval_samples
    )
    engine = estimate_engine(config, loaded, accelerator)  # one for both splits
    fingerprint = _fingerprint(config, loaded, start_from, accelerator, engine)
    root = Path(config.output) / CACHE_FOLDER
    train = record_head_inputs(
        config,
        loaded,
        RecordingPlan.of(train_set, config.stage2_text),
        root / "train",
        accelerator,
        fingerprint,
        engine,
    )
    val = record_head_inputs(
        config,
        loaded,
        RecordingPlan.of(val_set, "generated"),
        root / "val",
        accelerator,
        fingerprint,
        engine,
    )
    return train, val


def _fingerprint(
    config: TrainConfig,
    loaded: LoadedModel,
    start_from: Path,
    accelerator: Accelerator,
    engine: InferenceEngine,
) -> dict:
    """What the recorded inputs depend on: reuse them only if all of it is the same."""
    from reo_core.infer.prompt import ESTIMATE_QUESTION

    files = {}
    for path in [*sorted(Path(start_from).glob("*.safetensors")), Path(start_from) / CONFIG_NAME]:
        stat = path.stat()
        files[path.name] = [stat.st_size, stat.st_mtime_ns]
    return {
        "stage1_model": str(Path(start_from).resolve()),
        "stage1_files": files,
        "head_config": loaded.model.config.to_dict(),
        "data": str(Path(config.data).resolve()),
        "question": ESTIMATE_QUESTION,
        "max_new_tokens": engine.max_new_tokens,
        "dtype": str(training_dtype(accelerator)),
        "device": accelerator.device.type,
    }


def validate_head(
    model: nn.Module, val_set: HeadInputDataset, accelerator: Accelerator, batch_size: int
) -> list[dict]:
    """This process's share of validation records: AGB from the head on recorded inputs."""
    head = accelerator.unwrap_model(model).model
    indices = share(range(len(val_set)), accelerator)
    records = []
    was_training = model.training
    model.eval()
    with torch.no_grad(), accelerator.autocast():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            batch = val_set.collate([val_set[i] for i in chunk]).to(accelerator.device)
            prediction, _ = model(batch.inputs)  # through the wrapper: sharded runs gather there
            agb, _ = head.to_agb(prediction)
            records += [
                {
                    "id": val_set.ids[i],
                    "task": Task.AGB.value,
                    "truth": val_set.truths[i],
                    "prediction": float(value),
                }
                for i, value in zip(chunk, agb.tolist(), strict=True)
            ]
    model.train(was_training)
    return records


def save_stage2_model(loaded: LoadedModel, state: dict, folder: Path) -> Path:
    """The stage-1 model with the trained head: ``state`` is the HeadStage's full state dict."""
    heads = {k.removeprefix("model."): v for k, v in state.items()}
    result = loaded.model.load_state_dict(heads, strict=False)
    if result.unexpected_keys:
        raise RuntimeError(
            f"the trained head has parameters the model lacks: {result.unexpected_keys[:3]}"
        )
    return save_checkpoint(loaded, folder)


def stage2_work(
    config: TrainConfig, accelerator: Accelerator, start_from: Path | None
) -> StageWork:
    """Stage 2 for the loop: the head alone, on recorded inputs of the AGB dialogues."""
    loaded = load_stage2_model(config, start_from, accelerator)
    train_set, val_set = stage2_datasets(config, loaded, start_from, accelerator)

    def validate(model: nn.Module) -> list[dict]:
        records = validate_head(model, val_set, accelerator, config.eval_batch_size)
        return gather_records(accelerator, records)

    def save_model(model: nn.Module, folder: Path) -> None:
        state = full_state_dict(accelerator, model)  # every process: a collective when sharded
        on_main(accelerator, lambda: save_stage2_model(loaded, state, folder))

    return StageWork(
        stage=2,
        module=HeadStage(loaded.model),
        train_set=train_set,
        loss=lambda model, batch: model(batch.inputs, batch.agb)[1],
        validate=validate,
        save_model=save_model,
        wraps_layers=False,
    )


def _digest(values: list[str]) -> str:
    return hashlib.sha256("\n".join(values).encode()).hexdigest()[:16]
