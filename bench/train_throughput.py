"""Training throughput (samples/s) of the tiny and demo presets, stage by stage.

    python bench/train_throughput.py [--presets tiny demo] [--steps 60] [--work DIR]

Builds a small synthetic REO-Instruct folder, runs each preset for ``--steps`` optimiser steps per
stage (no validation, no checkpoints) and reports samples/s measured after the first 10 steps, so
start-up is not counted. Runs on whatever device accelerate picks (a GPU if there is one).
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import tempfile
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from reo_core.instruct.build import BuildConfig, build_instruct  # noqa: E402
from reo_core.synth.agbd_h5 import RAW_NAME, write_agbd  # noqa: E402
from reo_core.train.config import load_train_config  # noqa: E402
from reo_core.train.loop import train  # noqa: E402

WARMUP_STEPS = 10


def steady_rate(metrics_csv: Path, stage: str, batch_size: int) -> float:
    """Samples/s between step WARMUP_STEPS and the last step, from the logged cumulative rates."""
    rows = [
        r
        for r in csv.DictReader(metrics_csv.open())
        if r["stage"] == stage and r["name"] == "samples_per_second"
    ]
    first, last = rows[WARMUP_STEPS - 1], rows[-1]
    steps_a, steps_b = int(first["step"]), int(last["step"])
    seconds_a = steps_a * batch_size / float(first["value"])
    seconds_b = steps_b * batch_size / float(last["value"])
    return (steps_b - steps_a) * batch_size / (seconds_b - seconds_a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="+", default=["tiny", "demo"])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads)"
    )
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)  # a folder for the temporary build
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        write_agbd(Path(tmp) / "agbd", 600, seed=77)
        data = Path(tmp) / "instruct"
        build_instruct(BuildConfig(agbd=(Path(tmp) / "agbd" / RAW_NAME,), out=data, seed=0))
        print(f"device: {device}\n\n| preset | stage | batch | samples/s |\n|---|---|---|---|")
        for preset in args.presets:
            out = Path(tmp) / preset
            settings = [
                f"data={data}",
                f"output={out}",
                f"model.base_model={Path(tmp) / ('base-' + preset)}",
                f"steps={args.steps}",
                f"stage2_steps={args.steps}",
                "eval_every=0",
                "save_every=0",
                "eval_samples=1",
                "max_new_tokens=4",
            ]
            config = load_train_config(REPO_ROOT / "configs" / f"{preset}.yaml", settings)
            train(config)
            for stage in ("1", "2"):
                rate = steady_rate(out / "metrics.csv", stage, config.batch_size)
                print(f"| {preset} | {stage} | {config.batch_size} | {rate:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
