"""Stage 1: LoRA (and any ``lora_full_modules``) learns every dialogue family with cross-entropy.

The base is loaded in the training precision (bf16 on GPUs: 14 GB for the paper's 7B base, not 28
GB in float32); what trains stays float32. With ``gradient_checkpointing`` the LLM's layers keep
only their inputs and recompute the rest in the backward pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from reo_core.instruct.store import MANIFEST_NAME, resolve_statistics
from reo_core.instruct.torch_dataset import InstructDataset
from reo_core.model.checkpoint import LoadedModel, create_model, save_checkpoint
from reo_core.model.config import ReoConfig
from reo_core.model.hub import BASE_CONFIG_NAME
from reo_core.model.processor import ReoBatch
from reo_core.model.reo_vlm import ReoVLM
from reo_core.train.config import TrainConfig
from reo_core.train.distributed import (
    full_state_dict,
    gather_records,
    on_main,
    share,
    training_dtype,
    unsharded_root,
)
from reo_core.train.validation import predict_dialogues
from reo_core.train.work import StageWork


def load_stage1_model(config: TrainConfig, accelerator: Accelerator) -> LoadedModel:
    """A new REO-VLM on the configured base, ready for stage 1."""
    on_main(accelerator, lambda: ensure_base(config))
    accelerator.wait_for_everyone()
    # LoRA's initial weights must not depend on whether a base was built just now.
    set_seed(config.seed + 1)
    model_config = _with_template_version(config.model_config, Path(config.data))
    model_config = _with_data_statistics(model_config, config)
    loaded = create_model(model_config, dtype=training_dtype(accelerator))
    model = loaded.model
    model.set_stage(1)
    keep_trainable_float32(model)
    if config.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    model.train()
    return loaded


def keep_trainable_float32(model: torch.nn.Module) -> None:
    """The optimiser updates float32 weights (bf16 would round small updates away)."""
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()


def enable_gradient_checkpointing(model: ReoVLM) -> None:
    """The LLM's decoder layers recompute their activations in the backward pass. The vision tower
    runs without gradients and needs none."""
    model.llava.model.language_model.gradient_checkpointing_enable(
        gradient_checkpointing_kwargs={"use_reentrant": False}
    )


def stage1_loss(model: torch.nn.Module, batch: ReoBatch) -> torch.Tensor | None:
    batch.agb = None  # text only: skip the head (it would waste a pass over the hidden states)
    return model(batch).lm_loss


def validate_stage1(
    model: torch.nn.Module,
    val_set: InstructDataset,
    config: TrainConfig,
    accelerator: Accelerator,
) -> list[dict]:
    """Every process answers its share of the dialogues; all records, on every process."""
    indices = share(range(len(val_set)), accelerator)
    with unsharded_root(accelerator, model), accelerator.autocast():
        records = predict_dialogues(
            accelerator.unwrap_model(model),
            val_set,
            config.eval_batch_size,
            config.max_new_tokens,
            indices,
        )
    return gather_records(accelerator, records)


def save_stage1_model(
    model: torch.nn.Module, loaded: LoadedModel, folder: Path, accelerator: Accelerator
) -> None:
    """Gather the weights on every process (a collective when sharded); the main one writes."""
    state = full_state_dict(accelerator, model)
    unwrapped = accelerator.unwrap_model(model)
    on_main(
        accelerator,
        lambda: save_checkpoint(LoadedModel(unwrapped, loaded.processor), folder, state_dict=state),
    )


def stage1_work(config: TrainConfig, accelerator: Accelerator) -> StageWork:
    """Stage 1 for the loop: the whole model, all dialogues, cross-entropy."""
    loaded = load_stage1_model(config, accelerator)
    val_set = InstructDataset(config.data, "val", loaded.processor, limit=config.eval_samples)
    return StageWork(
        stage=1,
        module=loaded.model,
        train_set=InstructDataset(config.data, "train", loaded.processor),
        loss=stage1_loss,
        validate=lambda model: validate_stage1(model, val_set, config, accelerator),
        save_model=lambda model, folder: save_stage1_model(model, loaded, folder, accelerator),
    )


def _with_template_version(model_config: ReoConfig, data: Path) -> ReoConfig:
    """The checkpoint records the REO-Instruct template version it learned from."""
    manifest = data / MANIFEST_NAME
    if model_config.template_version or not manifest.is_file():
        return model_config
    version = json.loads(manifest.read_text()).get("template_version", "")
    return ReoConfig.from_dict({**model_config.to_dict(), "template_version": version})


def _with_data_statistics(model_config: ReoConfig, config: TrainConfig) -> ReoConfig:
    """A model scales its input with the statistics of its training data (the build's
    statistics.json) unless the config gives others; the checkpoint carries them itself."""
    statistics = resolve_statistics(config.model.get("statistics"), config.data)
    if statistics is None:
        return model_config
    return ReoConfig.from_dict({**model_config.to_dict(), "statistics": statistics})


def ensure_base(config: TrainConfig) -> None:
    """Build the tiny / demo base where the config says it lives, if it is not there yet."""
    base = Path(config.model_config.base_model)
    if not config.build_base or (base / BASE_CONFIG_NAME).is_file():
        return
    from reo_core.instruct.templates import TEMPLATES
    from reo_core.model.base import build_base
    from reo_core.train.presets import BASE_SPECS

    corpus = [t.question for t in TEMPLATES] + [a for t in TEMPLATES for a in t.answers.values()]
    build_base(base, BASE_SPECS[config.build_base], corpus=corpus, seed=config.seed)
