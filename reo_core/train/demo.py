"""Rebuild the built-in demo model from nothing: synthetic AGBD files -> REO-Instruct -> two stages.

    python -m reo_core.train.demo [--work out/demo-build] [--install resources/demo-model]
        [key=value ...]

The result is ``<install>/base`` (the random LLaVA-shaped base built here) and ``<install>/model``
(LoRA, heads, tokenizer, model card), which names its base as ``../base``. Extra ``key=value``
settings override configs/demo.yaml (e.g. ``steps=100`` for a quick try).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from reo_core.instruct.build import BuildConfig, build_instruct
from reo_core.model.checkpoint import load_checkpoint, save_checkpoint
from reo_core.model.config import CARD_CAVEAT, CARD_TRAINED_ON
from reo_core.synth.agbd_h5 import RAW_NAME, write_agbd
from reo_core.train.config import TrainConfig, load_train_config
from reo_core.train.loop import train

logger = logging.getLogger("reo_core.train.demo")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_PRESET = REPO_ROOT / "configs" / "demo.yaml"
TRAIN_PATCHES = 6000  # per data seed
# Each seed simulates new scenes for AGBD's tiles: more landscapes, less memorising of a few.
DATA_SEEDS = (101, 102, 103, 104)
DEMO_CARD_LINE = {  # shown beside the demo model's numbers (reo_core.model.config.CARD_*)
    CARD_TRAINED_ON: "synthetic Sentinel-2 scenes only (reo_core.synth), on a random base",
    CARD_CAVEAT: "Demo model: its numbers say nothing about real places.",
}


def build_demo(work: Path, install: Path, overrides: list[str], force: bool = False) -> Path:
    """Every step of the demo model; returns the installed model folder."""
    instruct = work / "instruct"
    files = []
    for seed in DATA_SEEDS:
        data = work / f"agbd-seed{seed}"
        if not (data / RAW_NAME).is_file():
            write_agbd(data, TRAIN_PATCHES, seed=seed)
        files.append(data / RAW_NAME)
    if not (instruct / "manifest.json").is_file():
        build_instruct(BuildConfig(agbd=tuple(files), out=instruct, seed=0))
    base = install / "base"
    settings = [
        f"data={instruct}",
        f"output={work / 'run'}",
        f"model.base_model={base}",
        *overrides,
    ]
    config = load_train_config(DEMO_PRESET, settings)
    final = train(config, force=force)
    loaded = load_checkpoint(final)
    loaded.model.config.extra["card_notes"] = card_notes(config, work / "run" / "summary.json")
    loaded.model.config.extra.update(DEMO_CARD_LINE)
    target = save_checkpoint(loaded, install / "model")
    shutil.copyfile(work / "run" / "metrics.csv", target / "training_metrics.csv")
    shutil.copyfile(work / "run" / "loss.png", target / "training_loss.png")
    return target


def card_notes(config: TrainConfig, summary_path: Path) -> str:
    summary = json.loads(summary_path.read_text())
    validation = summary.get("stage2", {}).get("validation", {}).get("tasks", {}).get("agb", {})
    return f"""## What this model is

The **built-in demo model** of REO. It was trained on **synthetic** Sentinel-2 patches made by
`python -m reo_core.synth` ({len(DATA_SEEDS)} x {TRAIN_PATCHES} simulated AGBD-format patches, data
seeds {", ".join(map(str, DATA_SEEDS))}),
built into REO-Instruct by `python -m reo_core.build_instruct`, on a small LLaVA-shaped base whose
weights are random (no pretrained vision encoder or LLM can be had offline). Its vision tower stays
random and frozen, as REO-VLM freezes it. In stage 1, LoRA learned the dialogues together with the
projector, token embeddings and LM head trained in full (`lora_full_modules`: a random base has no
aligned projector, so this stands in for LLaVA's own alignment pretraining); in stage 2 the
regression head and reverse projection learned AGB ({config.steps} +
{config.stage2_steps or config.steps} steps).

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
        "overrides", nargs="*", help="settings of configs/demo.yaml to change, as key=value"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    target = build_demo(args.work, args.install, args.overrides, force=args.force)
    logger.info("demo model installed in %s", target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
