"""The two-stage training loop on Hugging Face accelerate (one CPU to many GPUs, same code).

Stage 1 trains the LoRA adapters with cross-entropy on every dialogue (``stage1``); stage 2 trains
the reverse projection and regression head with MSE (or Gaussian NLL with the uncertainty head) on
the AGB dialogues, from the inputs inference feeds the head (``stage2``). ``batch_size`` is the
global batch of one optimiser step: accelerate splits each batch across processes and
``micro_batch_size`` sets the gradient accumulation, so N processes follow the same trajectory as
one.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, set_seed
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Dataset, RandomSampler
from transformers import get_scheduler

if TYPE_CHECKING:
    from tqdm import tqdm

from reo_core.errors import InputError
from reo_core.evaluate import evaluate_records
from reo_core.evaluation_scores import Evaluation
from reo_core.instruct.torch_dataset import seeded_generator
from reo_core.train.config import TrainConfig
from reo_core.train.distributed import (
    describe_device,
    gradient_accumulation,
    make_accelerator,
    on_main,
)
from reo_core.train.logbook import Logbook, plot_curves
from reo_core.train.run import RunFolder, StageResult
from reo_core.train.stage1 import stage1_work
from reo_core.train.stage2 import CACHE_FOLDER, stage2_work
from reo_core.train.state import (
    TrainerState,
    keep_trainable_only,
    latest_checkpoint,
    load_training_state,
    read_state,
    remove_checkpoints,
    save_training_state,
)
from reo_core.train.validation import VALIDATION_FOLDER, headline_metrics, write_validation
from reo_core.train.work import StageWork

logger = logging.getLogger(__name__)


def train(config: TrainConfig, force: bool = False) -> Path:
    """Run the configured stage(s), continuing an interrupted run; returns the final model
    folder."""
    accelerator = make_accelerator(config)
    logger.info("%s", describe_device(accelerator))
    run = RunFolder(config.output)
    if force:
        on_main(accelerator, run.clear)
    elif run.is_finished():
        run.check_settings(config)
        final = run.final_model()
        logger.info(
            "The run in %s is finished; its final model is %s. Add --force to train "
            "again from the start.",
            run.path,
            final,
        )
        return final
    run.check_settings(config)
    on_main(accelerator, lambda: _start(config, run.path))
    accelerator.wait_for_everyone()
    logbook = Logbook(run.path, enabled=accelerator.is_main_process)
    results: dict[int, StageResult] = {}
    start_from = Path(config.stage1_checkpoint) if config.stage1_checkpoint else None
    for stage in config.stages:
        done = run.stage_result(stage)
        if done is not None:
            logger.info("stage %d finished earlier: %s", stage, done.model_folder)
        else:
            done = train_stage(config, stage, accelerator, logbook, start_from)
            on_main(accelerator, lambda s=stage, r=done: _finish_stage(run, s, r))
        results[stage] = done
        start_from = done.model_folder
    on_main(accelerator, lambda: _finish_run(run, logbook, results))
    accelerator.wait_for_everyone()
    accelerator.end_training()  # leave the process group together (gloo may abort a straggler)
    return results[max(results)].model_folder


def _start(config: TrainConfig, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    config.save(output)


def _finish_stage(run: RunFolder, stage: int, result: StageResult) -> None:
    run.save_stage_result(stage, result)
    remove_checkpoints(run.path, stage)
    if stage == 2:
        shutil.rmtree(run.path / CACHE_FOLDER, ignore_errors=True)


def _finish_run(run: RunFolder, logbook: Logbook, results: dict[int, StageResult]) -> None:
    plot_curves(logbook, run.path)
    run.save_summary(results)  # last: it marks the run finished


def train_stage(
    config: TrainConfig,
    stage: int,
    accelerator: Accelerator,
    logbook: Logbook,
    start_from: Path | None,
) -> StageResult:
    set_seed(config.seed + stage)
    work = _stage_work(config, stage, accelerator, start_from)
    steps = config.stage_steps(stage)
    learning_rate = config.learning_rate if stage == 1 else config.stage2_learning_rate
    accumulation = gradient_accumulation(config, accelerator.num_processes)
    accelerator.gradient_accumulation_steps = accumulation
    micro_batch = config.batch_size // accumulation  # over all processes; each gets its share
    parameters = [p for p in work.module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(
        config.schedule, optimizer, num_warmup_steps=config.warmup_steps, num_training_steps=steps
    )
    model, optimizer, scheduler = _prepare(accelerator, work, optimizer, scheduler, micro_batch)
    run = _StageRun(config, accelerator, logbook, work, model, optimizer, scheduler)
    hook = keep_trainable_only(accelerator)
    state = _resume(run)
    output = Path(config.output)
    started, samples = time.perf_counter(), 0
    progress = _progress(accelerator, steps, state.step, stage)
    while state.step < steps:
        loader = _epoch_loader(config, work.train_set, stage, state.epoch, micro_batch, accelerator)
        if state.batches_in_epoch:
            loader = accelerator.skip_first_batches(loader, state.batches_in_epoch)
        for batch in loader:
            loss = _micro_step(run, batch)
            state.batches_in_epoch += 1
            samples += micro_batch
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
                _validate(run, state.step)
            if config.save_every and state.step % config.save_every == 0 and state.step < steps:
                save_training_state(accelerator, state, output, config.keep_checkpoints)
            if state.step >= steps:
                break
        else:
            state.epoch, state.batches_in_epoch = state.epoch + 1, 0
    progress.close()
    rate = samples / max(time.perf_counter() - started, 1e-9)
    _log_peak_memory(accelerator, logbook, stage, state.step)
    metrics = _validate(run, state.step)
    folder = RunFolder(output).model_folder(stage)
    work.save_model(model, folder)
    accelerator.wait_for_everyone()
    hook.remove()
    accelerator.free_memory(model, optimizer, scheduler)  # the next stage registers its own
    return StageResult(folder, state.step, rate, metrics)


def _stage_work(
    config: TrainConfig, stage: int, accelerator: Accelerator, start_from: Path | None
) -> StageWork:
    if stage == 1:
        return stage1_work(config, accelerator)
    return stage2_work(config, accelerator, start_from)


@dataclass(frozen=True)
class _StageRun:
    """A stage being trained: its settings, the prepared model with its optimiser and schedule."""

    config: TrainConfig
    accelerator: Accelerator
    logbook: Logbook
    work: StageWork
    model: nn.Module
    optimizer: Optimizer
    scheduler: LRScheduler


def _prepare(
    accelerator: Accelerator,
    work: StageWork,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    micro_batch: int,
) -> tuple[nn.Module, Optimizer, LRScheduler]:
    """accelerate's prepare, told what it cannot see: DeepSpeed's micro-batch (no data loader is
    prepared with the model) and, for stage 2's small head, that FSDP has no layers to wrap."""
    state = accelerator.state
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        ds_config = state.deepspeed_plugin.deepspeed_config
        ds_config["train_micro_batch_size_per_gpu"] = micro_batch // accelerator.num_processes
        ds_config["gradient_accumulation_steps"] = accelerator.gradient_accumulation_steps
    plugin = getattr(state, "fsdp_plugin", None)
    policy = plugin.auto_wrap_policy if plugin is not None else None
    if plugin is not None and not work.wraps_layers:
        plugin.auto_wrap_policy = None
    try:
        return accelerator.prepare(work.module, optimizer, scheduler)
    finally:
        if plugin is not None:
            plugin.auto_wrap_policy = policy


def _micro_step(run: _StageRun, batch: object) -> float:
    model, work, accelerator = run.model, run.work, run.accelerator
    with accelerator.accumulate(model):
        loss = work.loss(model, batch)
        if loss is None:
            raise InputError(
                f"A stage-{work.stage} batch had nothing to learn from "
                "(no answers or no AGB targets)."
            )
        accelerator.backward(loss)
        if accelerator.sync_gradients and run.config.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), run.config.max_grad_norm)
        run.optimizer.step()
        run.scheduler.step()
        run.optimizer.zero_grad()
    return float(accelerator.reduce(loss.detach(), reduction="mean"))


def _epoch_loader(
    config: TrainConfig,
    dataset: Dataset,
    stage: int,
    epoch: int,
    micro_batch: int,
    accelerator: Accelerator,
) -> DataLoader:
    """The data order of one epoch depends only on (seed, stage, epoch): resumable,
    process-independent."""
    sampler = RandomSampler(
        dataset, generator=seeded_generator(config.seed * 1000 + stage * 100 + epoch)
    )
    loader = DataLoader(
        dataset,
        batch_size=micro_batch,
        sampler=sampler,
        collate_fn=dataset.collate,
        num_workers=config.num_workers,
        drop_last=True,
        persistent_workers=False,
    )
    if len(loader) == 0:
        raise InputError(
            f"The training split has {len(dataset)} samples, fewer than one batch of {micro_batch}."
        )
    return accelerator.prepare_data_loader(loader, device_placement=True)


def _resume(run: _StageRun) -> TrainerState:
    stage = run.work.stage
    folder = latest_checkpoint(Path(run.config.output), stage)
    if folder is None:
        return TrainerState(stage=stage)
    load_training_state(run.accelerator, folder, run.model)
    state = read_state(folder)
    run.logbook.drop_after(stage, state.step)
    logger.info("resumed stage %d from %s at step %d", stage, folder, state.step)
    return state


def _validate(run: _StageRun, step: int) -> Evaluation:
    """Every process validates its share; the main one logs and writes the results."""
    work = run.work
    records = work.validate(run.model)
    metrics = evaluate_records(records)

    def write() -> None:
        run.logbook.log(work.stage, step, "val", headline_metrics(metrics))
        name = f"stage{work.stage}-step{step:07d}"
        write_validation(Path(run.config.output) / VALIDATION_FOLDER, name, metrics, records)

    on_main(run.accelerator, write)
    return metrics


def _log_peak_memory(accelerator: Accelerator, logbook: Logbook, stage: int, step: int) -> None:
    """Peak GPU memory of the stage: what picking ``micro_batch_size`` needs to know."""
    if accelerator.device.type != "cuda":
        return
    peak = torch.cuda.max_memory_allocated(accelerator.device) / 2**30
    logger.info("stage %d: peak GPU memory %.1f GiB on %s", stage, peak, accelerator.device)
    logbook.log(stage, step, "train", {"peak_gpu_gib": peak})
    torch.cuda.reset_peak_memory_stats(accelerator.device)


def _progress(accelerator: Accelerator, total: int, done: int, stage: int) -> tqdm:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=done,
        desc=f"stage {stage}",
        disable=not accelerator.is_local_main_process,
        mininterval=2.0,
    )
