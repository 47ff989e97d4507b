"""How big the resumable checkpoints of a configuration are, from parameter counts on the meta
device.

    python -m reo_core.train.checkpoint_size [--config configs/paper.yaml]

A checkpoint holds what its stage trains in float32 (4 bytes a parameter) and AdamW's two moments
(8 bytes a parameter), plus the scheduler, RNG states and counters (a few kB). Stage 1 trains LoRA,
stage 2 the reverse projection and the regression head; the frozen base is in neither. Nothing is
loaded or allocated: the parameters are counted on the meta device (``reo_core.model.paper``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reo_core.model.config import ReoConfig
from reo_core.model.paper import PAPER_CONFIG, paper_parameter_counts
from reo_core.train.config import load_train_config

BYTES_PER_TRAINED_PARAMETER = 4 + 2 * 4  # float32 weight + AdamW's exp_avg and exp_avg_sq
REPO_ROOT = Path(__file__).resolve().parents[2]


def checkpoint_bytes(trained_parameters: int) -> int:
    """Weights and optimiser state of ``trained_parameters`` (without the few kB of the rest)."""
    return trained_parameters * BYTES_PER_TRAINED_PARAMETER


def stage_parameters(config: ReoConfig) -> dict[int, int]:
    """Parameters each stage trains, for a LLaVA-1.5-7B base (the paper's)."""
    if config.lora_full_modules:
        raise ValueError("lora_full_modules are not counted here; the paper trains LoRA alone")
    counts = paper_parameter_counts(config)
    return {1: counts["lora"], 2: counts["reverse_projection"] + counts["regression_head"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "paper.yaml")
    args = parser.parse_args(argv)
    model = load_train_config(args.config, ["data=unused"]).model
    config = ReoConfig.from_dict({**PAPER_CONFIG.to_dict(), "bands": (), **model})
    print(
        f"{args.config.name}: modality {config.modality}, token strategy {config.token_strategy}, "
        f"LoRA r={config.lora_r}\n"
    )
    print("| stage | trained parameters | checkpoint (weights + AdamW) |\n|---|---|---|")
    for stage, parameters in stage_parameters(config).items():
        size = checkpoint_bytes(parameters)
        print(f"| {stage} | {parameters:,} | {size / 2**20:,.1f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
