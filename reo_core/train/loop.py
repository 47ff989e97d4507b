"""The two-stage training loop on Hugging Face accelerate (one CPU to many GPUs, same code).

Stage 1 trains the LoRA adapters with cross-entropy on every dialogue; stage 2 trains the reverse
projection and regression head with MSE (or Gaussian NLL) on the AGB dialogues. ``batch_size`` is
the global batch of one optimiser step: accelerate splits each batch across processes, so N
processes follow the same trajectory as one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from torch.utils.data import DataLoader, RandomSampler
from transformers import get_scheduler

from reo_core.atomic import write_json
from reo_core.errors import InputError
from reo_core.instruct.torch_dataset import InstructDataset, seeded_generator
from reo_core.model.checkpoint import LoadedModel, create_model, load_checkpoint, save_checkpoint
from reo_core.model.config import ReoConfig
from reo_core.tasks import Task
from reo_core.train.config import TrainConfig
from reo_core.train.logbook import Logbook, plot_curves
from reo_core.train.state import TrainerState, latest_checkpoint, read_state, save_training_state
from reo_core.train.validation import headline_metrics, validate

logger = logging.getLogger(__name__)


@dataclass
class StageResult:
    model_folder: Path
    steps: int
    samples_per_second: float
    metrics: dict


def make_accelerator(config: TrainConfig) -> Accelerator:
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    # cpu=True also makes a multi-process launch (torchrun, WORLD_SIZE > 1) use gloo on the CPU;
    # without it, processes launched on a machine without GPUs would each train alone.
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    cpu = config.device == "cpu" or (launched and not torch.cuda.is_available())
    return Accelerator(
        cpu=cpu,
        mixed_precision=precision,
        gradient_accumulation_steps=config.grad_accumulation,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )


def train(config: TrainConfig) -> Path:
    """Run the configured stage(s); returns the folder of the final model."""
    accelerator = make_accelerator(config)
    logger.info(
        "training on %d process(es), %s, %s, mixed precision %s",
        accelerator.num_processes, accelerator.distributed_type.value, accelerator.device, accelerator.mixed_precision,
    )  # fmt: skip
    output = Path(config.output)
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        config.save(output)
    logbook = Logbook(output, enabled=accelerator.is_main_process)
    results = {}
    start_from = Path(config.stage1_checkpoint) if config.stage1_checkpoint else None
    if config.stage in ("1", "both"):
        results[1] = train_stage(config, 1, accelerator, logbook, None)
        start_from = results[1].model_folder
    if config.stage in ("2", "both"):
        results[2] = train_stage(config, 2, accelerator, logbook, start_from)
    final = results[max(results)].model_folder
    if accelerator.is_main_process:
        plot_curves(logbook, output)
        write_json(output / "summary.json", {
            f"stage{s}": {"model": str(r.model_folder), "steps": r.steps,
                          "samples_per_second": r.samples_per_second, "validation": r.metrics}
            for s, r in results.items()
        })  # fmt: skip
    accelerator.wait_for_everyone()
    accelerator.end_training()  # leave the process group together (gloo may abort a straggler)
    return final


def train_stage(
    config: TrainConfig,
    stage: int,
    accelerator: Accelerator,
    logbook: Logbook,
    start_from: Path | None,
) -> StageResult:
    set_seed(config.seed + stage)
    output = Path(config.output)
    loaded = _stage_model(config, stage, start_from)
    model = loaded.model
    model.set_stage(stage)
    tasks = None if stage == 1 else (Task.AGB,)
    train_set = InstructDataset(config.data, "train", loaded.processor, tasks=tasks)
    val_set = InstructDataset(
        config.data, "val", loaded.processor, tasks=tasks, limit=config.eval_samples
    )
    steps = config.steps if stage == 1 or not config.stage2_steps else config.stage2_steps
    learning_rate = config.learning_rate if stage == 1 else config.stage2_learning_rate
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(
        config.schedule, optimizer, num_warmup_steps=config.warmup_steps, num_training_steps=steps
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    state = _resume(config, stage, accelerator, logbook)
    micro_batch = _micro_batch(config, accelerator)
    started, samples = time.perf_counter(), 0
    progress = _progress(accelerator, steps, state.step, stage)
    while state.step < steps:
        loader = _epoch_loader(config, train_set, stage, state.epoch, micro_batch, accelerator)
        if state.batches_in_epoch:
            loader = accelerator.skip_first_batches(loader, state.batches_in_epoch)
        for batch in loader:
            loss = _micro_step(model, batch, stage, optimizer, scheduler, accelerator, config)
            state.batches_in_epoch += 1
            samples += batch.input_ids.shape[0] * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            state.step += 1
            rate = samples / max(time.perf_counter() - started, 1e-9)
            logbook.log(
                stage,
                state.step,
                "train",
                {"loss": loss, "lr": scheduler.get_last_lr()[0], "samples_per_second": rate},
            )
            progress.update(1)
            progress.set_postfix(loss=f"{loss:.4f}", samples_s=f"{rate:.1f}")
            if config.eval_every and state.step % config.eval_every == 0 and state.step < steps:
                _validate(model, val_set, config, accelerator, logbook, stage, state.step)
            if config.save_every and state.step % config.save_every == 0 and state.step < steps:
                save_training_state(accelerator, state, output, config.keep_checkpoints)
            if state.step >= steps:
                break
        else:
            state.epoch, state.batches_in_epoch = state.epoch + 1, 0
    progress.close()
    rate = samples / max(time.perf_counter() - started, 1e-9)
    metrics = _validate(model, val_set, config, accelerator, logbook, stage, state.step)
    folder = output / ("stage1-model" if stage == 1 else "model")
    if accelerator.is_main_process:
        save_checkpoint(LoadedModel(accelerator.unwrap_model(model), loaded.processor), folder)
    accelerator.wait_for_everyone()
    return StageResult(folder, state.step, rate, metrics)


def _stage_model(config: TrainConfig, stage: int, start_from: Path | None) -> LoadedModel:
    if stage == 1:
        _ensure_base(config)
        # LoRA's initial weights must not depend on whether a base was built just now.
        set_seed(config.seed + stage)
        return create_model(_with_template_version(config.model_config, Path(config.data)))
    if start_from is None or not (Path(start_from) / "reo_config.json").is_file():
        raise InputError(
            f"Stage 2 needs a stage-1 model folder; {start_from or 'none'} is not one. "
            "Set stage1_checkpoint=<folder> or run stage=both."
        )
    loaded = load_checkpoint(start_from)
    loaded.model.train()
    return loaded


def _with_template_version(model_config: ReoConfig, data: Path) -> ReoConfig:
    """The checkpoint records the REO-Instruct template version it learned from."""
    manifest = data / "manifest.json"
    if model_config.template_version or not manifest.is_file():
        return model_config
    version = json.loads(manifest.read_text()).get("template_version", "")
    return ReoConfig.from_dict({**model_config.to_dict(), "template_version": version})


def _ensure_base(config: TrainConfig) -> None:
    """Build the tiny / demo base where the config says it lives, if it is not there yet."""
    base = Path(config.model_config.base_model)
    if not config.build_base or (base / "config.json").is_file():
        return
    from reo_core.instruct.templates import TEMPLATES
    from reo_core.model.base import build_base
    from reo_core.train.presets import BASE_SPECS

    corpus = [t.question for t in TEMPLATES] + [a for t in TEMPLATES for a in t.answers.values()]
    build_base(base, BASE_SPECS[config.build_base], corpus=corpus, seed=config.seed)


def _micro_step(model, batch, stage, optimizer, scheduler, accelerator, config) -> float:
    with accelerator.accumulate(model):
        out = model(batch if stage == 2 else _without_agb(batch))
        loss = out.lm_loss if stage == 1 else out.agb_loss
        if loss is None:
            raise InputError(
                f"A stage-{stage} batch had nothing to learn from (no answers or no AGB targets)."
            )
        accelerator.backward(loss)
        if accelerator.sync_gradients and config.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return float(accelerator.reduce(loss.detach(), reduction="mean"))


def _without_agb(batch):
    """Stage 1 learns text only: skip the head (it would waste a forward of the hidden states)."""
    batch.agb = None
    return batch


def _micro_batch(config: TrainConfig, accelerator: Accelerator) -> int:
    if config.batch_size % config.grad_accumulation:
        raise InputError(
            f"batch_size {config.batch_size} must be a multiple of grad_accumulation {config.grad_accumulation}."
        )
    micro = config.batch_size // config.grad_accumulation
    if micro % accelerator.num_processes:
        raise InputError(
            f"Each micro-batch ({micro} samples) must split evenly over {accelerator.num_processes} processes; "
            "change batch_size or grad_accumulation."
        )
    return micro


def _epoch_loader(config, dataset, stage, epoch, micro_batch, accelerator) -> DataLoader:
    """The data order of one epoch depends only on (seed, stage, epoch): resumable, process-independent."""
    sampler = RandomSampler(
        dataset, generator=seeded_generator(config.seed * 1000 + stage * 100 + epoch)
    )
    loader = DataLoader(
        dataset, batch_size=micro_batch, sampler=sampler, collate_fn=dataset.collate,
        num_workers=config.num_workers, drop_last=True, persistent_workers=False,
    )  # fmt: skip
    if len(loader) == 0:
        raise InputError(
            f"The training split has {len(dataset)} dialogues, fewer than one batch of {micro_batch}."
        )
    return accelerator.prepare_data_loader(loader, device_placement=True)


def _resume(
    config: TrainConfig, stage: int, accelerator: Accelerator, logbook: Logbook
) -> TrainerState:
    folder = latest_checkpoint(Path(config.output), stage) if config.resume else None
    if folder is None:
        return TrainerState(stage=stage)
    accelerator.load_state(str(folder))
    state = read_state(folder)
    logbook.drop_after(stage, state.step)
    logger.info("resumed stage %d from %s at step %d", stage, folder, state.step)
    return state


def _validate(model, val_set, config, accelerator, logbook, stage, step) -> dict:
    metrics = {}
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        metrics, records = validate(
            unwrapped,
            val_set,
            batch_size=max(1, config.batch_size),
            max_new_tokens=config.max_new_tokens,
        )
        logbook.log(stage, step, "val", headline_metrics(metrics))
        folder = Path(config.output) / "validation"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"stage{stage}-step{step:07d}"
        write_json(folder / f"{name}.json", metrics)
        with (folder / f"{name}.predictions.jsonl").open(
            "w"
        ) as lines:  # for python -m reo_core.evaluate
            lines.writelines(json.dumps(record) + "\n" for record in records)
    accelerator.wait_for_everyone()
    return metrics


def _progress(accelerator: Accelerator, total: int, done: int, stage: int):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=done,
        desc=f"stage {stage}",
        disable=not accelerator.is_local_main_process,
        mininterval=2.0,
    )
