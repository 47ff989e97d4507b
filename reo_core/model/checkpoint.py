"""Creating, saving and loading REO-VLM models.

A checkpoint is a folder: ``reo_config.json``, the LoRA adapter (peft's ``adapter_config.json`` and
``adapter_model.safetensors``), ``heads.safetensors`` (REO's modules: reverse projection, spectral
channels, regression head), the tokenizer, ``preprocessor_config.json`` and a model card
``README.md``. The base model is referenced by ``base_model`` in the config, never copied. No pickle
anywhere; no remote code.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerBase

from reo_core.atomic import replace_folder, write_json
from reo_core.errors import InputError
from reo_core.model.base import clip_preprocessor, load_base
from reo_core.model.config import CONFIG_NAME, ReoConfig
from reo_core.model.hub import (
    BASE_CONFIG_NAME,
    IMAGE_SETTINGS_NAME,
    check_base_folder,
    is_hub_id,
    local_copy,
    missing_base_error,
)
from reo_core.model.model_card import model_card
from reo_core.model.processor import ImageSpec, ReoProcessor
from reo_core.model.reo_vlm import REO_MODULES, ReoVLM
from reo_core.model.weights import COPY_AGAIN, check_base_weights, check_safetensors, read_json

HEADS_FILE = "heads.safetensors"
ADAPTER_FILE = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
ATTENTION_CHOICES = ("sdpa", "eager")  # torch's fused attention, or the plain matmuls
_PIL_RESAMPLE = {"bilinear": 2, "bicubic": 3}


@dataclass
class LoadedModel:
    """A model ready to use: the network and the processor that feeds it."""

    model: ReoVLM
    processor: ReoProcessor


def create_model(
    config: ReoConfig, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> LoadedModel:
    """A fresh REO-VLM on ``config.base_model``: LoRA adapters and heads newly initialised."""
    base_folder = resolve_base(config.base_model, Path.cwd())
    base, tokenizer = load_base(base_folder, dtype=dtype, device=device)
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=lora_target_pattern(config),
        modules_to_save=list(config.lora_full_modules) or None,
    )
    model = ReoVLM(config, get_peft_model(base, lora), tokenizer).to(device)
    _keep_heads_float32(model)
    return LoadedModel(model, _processor(config, model, tokenizer, base_folder))


def save_checkpoint(
    loaded: LoadedModel, folder: str | Path, state_dict: dict | None = None
) -> Path:
    """Write the checkpoint into a temporary folder beside ``folder`` and rename it into place.

    ``state_dict``: the model's whole state dict, gathered by the caller, where the model's own
    parameters are shards (training under FSDP or DeepSpeed ZeRO-3); None = the model's own.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        model = loaded.model
        config_to_save = ReoConfig.from_dict(
            {
                **model.config.to_dict(),
                "base_model": base_reference(model.config.base_model, folder),
            }
        )
        config_to_save.save(staging)
        state = model.state_dict() if state_dict is None else state_dict
        base_state = None  # peft reads the adapter from the model itself
        if state_dict is not None:
            base_state = {k[5:]: v for k, v in state.items() if k.startswith("base.")}
        model.base.save_pretrained(staging, safe_serialization=True, state_dict=base_state)
        _refer_adapter_to(staging, config_to_save.base_model)
        heads = {
            k: v.detach().contiguous().cpu() for k, v in state.items() if k.startswith(REO_MODULES)
        }
        save_file(heads, str(staging / HEADS_FILE))
        model.tokenizer.save_pretrained(staging)
        _write_preprocessor(loaded.processor, staging)
        (staging / "README.md").write_text(model_card(config_to_save, _parameter_counts(model)))
        replace_folder(staging, folder)  # the old checkpoint stays until the new one is complete
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _refer_adapter_to(folder: Path, base: str) -> None:
    """peft records the base's path as loaded (absolute, the training machine's); the adapter's
    config names it as reo_config.json does, so a copied model folder leaks no path and reads the
    same to peft's own tools."""
    path = folder / ADAPTER_CONFIG
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base
    write_json(path, config)


def load_checkpoint(
    folder: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    bands: tuple[str, ...] | None = None,
    modality: str | None = None,
    attention: str | None = None,
) -> LoadedModel:
    """Load a checkpoint; ``bands`` / ``modality`` are what the caller's data has (checked);
    ``attention`` one of ATTENTION_CHOICES (None: transformers' default)."""
    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file():
        raise InputError(f"{folder} is not a REO model folder: it has no {CONFIG_NAME}.")
    config = ReoConfig.load(folder)
    check_compatible(config, folder, bands, modality)
    base_folder = resolve_base(config.base_model, folder)
    if not _names_hub_model(config.base_model, base_folder):
        # In memory a base folder is where it was found; saving turns it back into a reference.
        config = ReoConfig.from_dict({**config.to_dict(), "base_model": str(base_folder)})
    _check_files(folder)
    base, _ = load_base(base_folder, dtype=dtype, device=device, attention=attention)
    peft = _loaded(
        lambda: PeftModel.from_pretrained(base, str(folder), is_trainable=False),
        folder / ADAPTER_FILE,
        "the LoRA adapter",
    )
    tokenizer = _load_tokenizer(folder)
    model = ReoVLM(config, peft, tokenizer).to(device)
    state = load_file(str(folder / HEADS_FILE), device=str(device))
    missing = {k for k in model.state_dict() if k.startswith(REO_MODULES)} - set(state)
    if missing:
        raise InputError(
            f"{folder / HEADS_FILE} lacks {sorted(missing)[:3]}...; the model folder is "
            f"incomplete; {COPY_AGAIN}."
        )
    _loaded(
        lambda: model.load_state_dict(state, strict=False),
        folder / HEADS_FILE,
        "the regression head",
    )
    _keep_heads_float32(model)
    model.eval()
    return LoadedModel(model, _processor(config, model, tokenizer, folder))


def _check_files(folder: Path) -> None:
    """The adapter and head files are there and readable, before anything loads them."""
    read_json(folder / ADAPTER_CONFIG, "the LoRA adapter's configuration")
    check_safetensors(folder / ADAPTER_FILE, "the LoRA adapter")
    check_safetensors(folder / HEADS_FILE, "the regression head and reverse projection")


T = TypeVar("T")


def _loaded(load: Callable[[], T], path: Path, what: str) -> T:
    """``load()``, with a failure of a checked file turned into one message about that file."""
    try:
        return load()
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise InputError(
            f"{path} ({what}) cannot be used: {_first_line(error)}; {COPY_AGAIN}.",
            details=_without_pickle_hints(str(error)),
        ) from None


def _names_hub_model(base_model: str, base_folder: Path) -> bool:
    return is_hub_id(base_model) and not Path(base_model).is_dir()


def base_parameter_count(folder: str | Path) -> int:
    """Parameters of a checkpoint's base, read from its safetensors headers (nothing loaded)."""
    from safetensors import safe_open

    folder = Path(folder)
    base = resolve_base(ReoConfig.load(folder).base_model, folder)
    check_base_weights(base)
    count = 0
    for path in base.glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as weights:
            for key in weights.keys():  # noqa: SIM118 (safe_open has no __iter__)
                count += math.prod(weights.get_slice(key).get_shape())
    return count


def check_compatible(
    config: ReoConfig, folder: Path, bands: tuple[str, ...] | None, modality: str | None
) -> None:
    """A model made for other bands or another modality cannot read this data: say so plainly."""
    if modality is not None and modality != config.modality:
        raise InputError(
            f"The model {folder.name} was trained for modality '{config.modality}', "
            f"not '{modality}'; choose modality '{config.modality}' or another model."
        )
    if bands is not None:
        missing = [b for b in config.bands if b not in bands]
        if missing:
            raise InputError(
                f"The model {folder.name} reads bands {list(config.bands)}; "
                f"the input lacks {missing}. "
                "Add those bands or choose a model trained for the bands you have."
            )


def base_reference(base_model: str, checkpoint: Path) -> str:
    """How a checkpoint names its base: a local base in the checkpoint's parent tree (a bundle such
    as ``resources/demo-model/{base,model}``) relative to the checkpoint, so the bundle can move;
    any other local base as an absolute path; a hub id unchanged."""
    base = Path(base_model)
    if not base.is_dir():
        return base_model
    base, parent = base.resolve(), checkpoint.resolve().parent
    if base.is_relative_to(parent):
        return os.path.relpath(base, checkpoint.resolve())
    return str(base)


def resolve_base(base_model: str, checkpoint: Path) -> Path:
    """The local folder of a checkpoint's base, or an InputError that says where to put it.

    A relative path is taken relative to the checkpoint folder first (a model shipped with its base
    beside it, e.g. ``../base``), then to the working directory; a hub id is looked up on this
    machine only (``reo_core.model.hub``): nothing is downloaded.
    """
    beside = checkpoint / base_model
    if not Path(base_model).is_absolute() and (beside / BASE_CONFIG_NAME).is_file():
        return beside.resolve()
    path = Path(base_model).expanduser()
    if path.is_dir():
        check_base_folder(path, base_model)
        return path
    name = "The model " + "/".join(checkpoint.resolve().parts[-2:])
    if is_hub_id(base_model):
        local = local_copy(base_model)
        if local is None:
            raise missing_base_error(base_model, name)
        return local
    looked = beside.resolve() if not Path(base_model).is_absolute() else path
    raise InputError(
        f"{name} needs its base model folder {base_model}, which is missing (looked at {looked}). "
        "A model shipped as <bundle>/model needs its <bundle>/base beside it: copy the whole "
        f"bundle, or set base_model in {checkpoint / CONFIG_NAME} to where the base is."
    )


def lora_target_pattern(config: ReoConfig) -> str:
    """peft target regex: the named projections of the LLM only, never the vision tower's."""
    return r".*language_model.*\.(" + "|".join(config.lora_targets) + r")$"


def _processor(
    config: ReoConfig, model: ReoVLM, tokenizer: PreTrainedTokenizerBase, image_folder: str | Path
) -> ReoProcessor:
    spec = ImageSpec.from_folder(image_folder) if Path(image_folder).is_dir() else ImageSpec()
    return ReoProcessor(
        config, tokenizer, spec, model.tokens_per_image, model.llava.config.image_token_index
    )


def _load_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tokenizer = _loaded(
        lambda: AutoTokenizer.from_pretrained(
            str(folder), trust_remote_code=False, local_files_only=True
        ),
        folder / "tokenizer.json",
        "the tokenizer",
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def _first_line(error: BaseException) -> str:
    lines = [line for line in _without_pickle_hints(str(error)).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(error).__name__


def _without_pickle_hints(text: str) -> str:
    """An error text without torch's advice to load pickles (``weights_only=False``)."""
    return "\n".join(line for line in text.splitlines() if "weights_only" not in line)


def _write_preprocessor(processor: ReoProcessor, staging: Path) -> None:
    """The image settings the model was trained with travel with it (llava-hf's JSON layout)."""
    spec = processor.image_spec
    settings = clip_preprocessor(spec.size)
    settings.update(
        image_mean=list(spec.mean), image_std=list(spec.std), resample=_PIL_RESAMPLE[spec.resample]
    )
    (staging / IMAGE_SETTINGS_NAME).write_text(json.dumps(settings, indent=2) + "\n")


def _keep_heads_float32(model: ReoVLM) -> None:
    # REO's own modules stay in float32 under bf16 bases: they are tiny, and the head regresses.
    model.reverse_projection.float()
    model.regression_head.float()
    for channel in (model.spectral_encoder, model.spectral_prompt):
        if channel is not None:
            channel.float()


def _parameter_counts(model: ReoVLM) -> dict[str, int]:
    counts = {"total": 0, "lora": 0, "heads": 0}
    for name, parameter in model.named_parameters():
        counts["total"] += parameter.numel()
        if "lora_" in name:
            counts["lora"] += parameter.numel()
        if name.startswith(REO_MODULES):
            counts["heads"] += parameter.numel()
    return counts
