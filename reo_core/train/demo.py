"""Rebuild the built-in demo model from nothing: synthetic AGBD files -> REO-Instruct -> two stages.

    python -m reo_core.train.demo [--work out/demo-build] [--install resources/demo-model]
        [--processes N] [key=value ...]

The result is ``<install>/base`` (the random LLaVA-shaped base built here) and ``<install>/model``
(LoRA, heads, tokenizer, model card), which names its base as ``../base``. Extra ``key=value``
settings override configs/demo.yaml (e.g. ``steps=100`` for a quick try).

On a CPU the training runs as one data-parallel process per core, one thread each
(``torch.distributed.run``): the demo's operations are too small to split across threads. On the
2-core reference machine stage 1 learned from 154 samples/s that way, 97 in one process of one
thread and 56 in one process of two threads (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from reo_core.errors import ReoError, exit_status
from reo_core.instruct.build import BuildConfig, build_instruct
from reo_core.model.checkpoint import load_checkpoint, save_checkpoint
from reo_core.model.config import CARD_CAVEAT, CARD_TRAINED_ON
from reo_core.synth.agbd_h5 import RAW_NAME, write_agbd
from reo_core.train.config import TrainConfig, load_train_config
from reo_core.train.loop import train
from reo_core.train.run import RunFolder

logger = logging.getLogger("reo_core.train.demo")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_PRESET = REPO_ROOT / "configs" / "demo.yaml"
TRAIN_PATCHES = 6000  # per data seed
METRICS_EVERY = 20  # training steps between the rows of the model folder's training_metrics.csv
# Each seed simulates new scenes for AGBD's tiles: more landscapes, less memorising of a few.
DATA_SEEDS = (101, 102, 103, 104)
DEMO_CARD_LINE = {  # shown beside the demo model's numbers (reo_core.model.config.CARD_*)
    CARD_TRAINED_ON: "synthetic Sentinel-2 scenes only (reo_core.synth), on a random base",
    CARD_CAVEAT: "Demo model: its numbers say nothing about real places.",
}


def synthetic_instruct(work: Path, seeds: Sequence[int], patches: int) -> Path:
    """REO-Instruct in ``work/instruct`` from synthetic AGBD files of ``seeds`` (``patches`` each,
    in ``work/agbd-seed<seed>``); what a finished earlier call made is reused, not made again."""
    instruct = work / "instruct"
    if (instruct / "manifest.json").is_file():
        logger.info("reusing %s", instruct)
        return instruct
    files = []
    for seed in seeds:
        data = work / f"agbd-seed{seed}"
        if not (data / RAW_NAME).is_file():
            write_agbd(data, patches, seed=seed)
        files.append(data / RAW_NAME)
    build_instruct(BuildConfig(agbd=tuple(files), out=instruct, seed=0))
    return instruct


def build_demo(
    work: Path, install: Path, overrides: list[str], force: bool = False, processes: int = 1
) -> Path:
    """Every step of the demo model; returns the installed model folder."""
    instruct = synthetic_instruct(work, DATA_SEEDS, TRAIN_PATCHES)
    base = install / "base"
    settings = [
        f"data={instruct}",
        f"output={work / 'run'}",
        f"model.base_model={base}",
        *overrides,
    ]
    config = load_train_config(DEMO_PRESET, settings)
    final = train_demo(config, settings, force, processes)
    return install_demo(config, final, work / "run", install / "model")


def install_demo(config: TrainConfig, final: Path, run: Path, target: Path) -> Path:
    """The trained model ``final`` of ``run`` as the demo model in ``target``: its card, a
    thinned training log and the loss plot."""
    loaded = load_checkpoint(final)
    loaded.model.config.extra["card_notes"] = card_notes(config, run / "summary.json")
    loaded.model.config.extra.update(DEMO_CARD_LINE)
    target = save_checkpoint(loaded, target)
    copy_thinned_metrics(run / "metrics.csv", target / "training_metrics.csv")
    shutil.copyfile(run / "loss.png", target / "training_loss.png")
    return target


def copy_thinned_metrics(source: Path, target: Path, every: int = METRICS_EVERY) -> None:
    """The run's metrics.csv (long format: stage, step, kind, name, value) for the model folder:
    every validation row, and training rows of each ``every``-th step and of each stage's first
    and last step (the full log is 1.4 MB; the loss plot beside it is drawn from all of it)."""
    with source.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    last = {}
    for row in rows:
        last[row["stage"]] = max(last.get(row["stage"], 0), int(row["step"]))
    kept = [
        row
        for row in rows
        if row["kind"] != "train"
        or int(row["step"]) % every == 0
        or int(row["step"]) in (1, last[row["stage"]])
    ]
    with target.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(kept)


def default_processes() -> int:
    """One training process per CPU core this process may use; one on a GPU."""
    if torch.cuda.is_available():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def train_demo(config: TrainConfig, settings: list[str], force: bool, processes: int) -> Path:
    """Both stages of configs/demo.yaml with ``settings``; returns the final model folder.

    With more than one process, ``python -m reo_core.train`` runs under ``torch.distributed.run``
    (one thread each, so the processes do not compete for the cores); its log goes to this
    console.
    """
    if processes <= 1:
        return train(config, force=force)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "reo_core.train",
        "--config",
        str(DEMO_PRESET),
        *(["--force"] if force else []),
        *settings,
    ]
    logger.info("training in %d processes: %s", processes, " ".join(command))
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, env=environment, cwd=REPO_ROOT, check=False)
    if finished.returncode:
        raise ReoError(
            f"training failed (exit status {finished.returncode}); its log is above. Run the same "
            "command again to continue it, or add --processes 1 to train in this process."
        )
    return RunFolder(config.output).final_model()


def card_notes(config: TrainConfig, summary_path: Path) -> str:
    summary = json.loads(summary_path.read_text())
    validation = summary.get("stage2", {}).get("validation", {}).get("tasks", {}).get("agb", {})
    return f"""## What this model is

The **built-in demo model** of REO. It was trained on **synthetic** Sentinel-2 patches made by
`python -m reo_core.synth` ({len(DATA_SEEDS)} x {TRAIN_PATCHES} simulated AGBD-format patches of
AGBD's tiles and of three boreal tiles beyond them, 2 % on open water, data seeds
{", ".join(map(str, DATA_SEEDS))}),
built into REO-Instruct by `python -m reo_core.build_instruct`, on a small LLaVA-shaped base whose
weights are random (no pretrained vision encoder or LLM can be had offline). Its vision tower stays
random and frozen, as REO-VLM freezes it. In stage 1, LoRA learned the dialogues together with the
projector, token embeddings and LM head trained in full (`lora_full_modules`: a random base has no
aligned projector, so this stands in for LLaVA's own alignment pretraining); in stage 2 the
regression head and reverse projection learned AGB ({config.steps} +
{config.stage2_steps or config.steps} steps). Beyond the paper, its LLM and its regression head
also read the patch's full-precision band statistics and a small convolution over its reflectances
(the spectral channels).

**It knows nothing about real places. Do not use its numbers for real-world estimates.** It is here
so that REO runs end to end out of the box, on a CPU, in seconds.

Validation AGB on the synthetic validation split at the end of training: RMSE
{validation.get("rmse", float("nan")):.1f} Mg/ha, R^2 {validation.get("r2", float("nan")):.3f}
(held-out comparison with baselines: docs/benchmarks.md).

## Rebuild

```
make demo-model        # = .venv/bin/python -m reo_core.train.demo
```
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "out" / "demo-build")
    parser.add_argument("--install", type=Path, default=REPO_ROOT / "resources" / "demo-model")
    parser.add_argument(
        "--force", action="store_true", help="train again even if the run in --work finished"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=default_processes(),
        help="data-parallel training processes (default: one per CPU core; 1 on a GPU)",
    )
    parser.add_argument(
        "overrides", nargs="*", help="settings of configs/demo.yaml to change, as key=value"
    )
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes must be >= 1, got {args.processes}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        target = build_demo(
            args.work, args.install, args.overrides, force=args.force, processes=args.processes
        )
    except ReoError as error:
        return exit_status(error, logger)
    logger.info("demo model installed in %s", target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
