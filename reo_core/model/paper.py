"""The paper's model (LLaVA-1.5-7B base) built on the meta device: parameters and FLOPs per patch.

    python -m reo_core.model.paper [--modality ms] [--text-tokens 64] [--new-tokens 16]

No weights are loaded or allocated; the table it prints is in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging

import torch
from transformers import LlavaForConditionalGeneration

from reo_core.model.base import BaseSpec
from reo_core.model.config import ReoConfig
from reo_core.model.cost import patch_cost, token_budgets
from reo_core.model.regression_head import RegressionHead
from reo_core.model.visual_tokens import select_layers
from reo_core.sensors.composites import MODALITIES

PAPER_BASE = BaseSpec()  # CLIP ViT-L/14-336 + Vicuna-7B, as llava-hf/llava-1.5-7b-hf
LLAVA_15_7B_PARAMETERS = 7_063_427_072  # llava-hf/llava-1.5-7b-hf, model.safetensors index
# LLaVA-1.5's own LoRA recipe (scripts/v1_5/finetune_lora.sh): r=128, alpha=256.
PAPER_CONFIG = ReoConfig(
    base_model="llava-hf/llava-1.5-7b-hf",
    modality="ms",
    token_strategy="half_layers",
    lora_r=128,
    lora_alpha=256,
)


def paper_parameter_counts(
    config: ReoConfig = PAPER_CONFIG, spec: BaseSpec = PAPER_BASE
) -> dict[str, int]:
    """Parameters of the base (by part), the LoRA adapters and the REO heads, counted on meta."""
    with torch.device("meta"):
        base = LlavaForConditionalGeneration(spec.llava_config(pad_token_id=32001))
        layers = select_layers(config.token_strategy, spec.vision_layers)
        tokens = (
            len(layers) * len(config.images) * (1 + config.head_grid**2) + config.head_text_tokens
        )
        width = config.head_width or spec.vision_hidden
        head = RegressionHead(
            tokens,
            spec.vision_hidden,
            width,
            config.head_depth,
            config.head_channel_hidden or 2 * width,
            config.head_token_hidden,
        )
    vision = _count(base.model.vision_tower)
    projector = _count(base.model.multi_modal_projector)
    total = _count(base)
    return {
        "base": total,
        "vision_tower": vision,
        "projector": projector,
        "llm_and_lm_head": total - vision - projector,
        "lora": _lora_parameters(config, spec),
        "reverse_projection": spec.text_hidden * spec.vision_hidden + spec.vision_hidden,
        "regression_head": _count(head),
    }


def _lora_parameters(config: ReoConfig, spec: BaseSpec) -> int:
    """r x (in + out) per adapted matrix, for each targeted projection of every LLM layer."""
    width, inner = spec.text_hidden, spec.text_intermediate
    shapes = {
        "q_proj": (width, width),
        "k_proj": (width, width),
        "v_proj": (width, width),
        "o_proj": (width, width),
        "gate_proj": (width, inner),
        "up_proj": (width, inner),
        "down_proj": (inner, width),
    }
    per_layer = sum(config.lora_r * (shapes[t][0] + shapes[t][1]) for t in config.lora_targets)
    return spec.text_layers * per_layer


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def cost_table(
    config: ReoConfig = PAPER_CONFIG,
    spec: BaseSpec = PAPER_BASE,
    text_tokens: int = 64,
    new_tokens: int = 16,
) -> str:
    """Markdown table of forward FLOPs per patch for every visual token budget."""
    rows = [
        "| pool | tokens / image | LLM prefill tokens | vision GFLOP | LLM prefill GFLOP "
        "| decode GFLOP | total TFLOP |",
        "|---|---|---|---|---|---|---|",
    ]
    for pool in token_budgets(spec):
        cost = patch_cost(spec, len(config.images), pool, text_tokens, new_tokens)
        rows.append(
            f"| {pool}x{pool} | {cost.tokens_per_image} | {cost.llm_tokens} "
            f"| {cost.vision / 1e9:,.0f} | {cost.llm_prefill / 1e9:,.0f} "
            f"| {cost.llm_decode / 1e9:,.0f} | {cost.total / 1e12:.2f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modality", default="ms", choices=MODALITIES)
    parser.add_argument("--text-tokens", type=int, default=64, help="prompt text tokens per patch")
    parser.add_argument("--new-tokens", type=int, default=16, help="generated tokens per patch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config = ReoConfig(**{**PAPER_CONFIG.to_dict(), "modality": args.modality, "bands": ()})
    counts = paper_parameter_counts(config)
    print(
        f"REO-VLM paper configuration, modality {args.modality} "
        f"({len(config.images)} images per patch)\n"
    )
    print("| part | parameters |\n|---|---|")
    for name, count in counts.items():
        print(f"| {name} | {count:,} |")
    ratio = counts["base"] / LLAVA_15_7B_PARAMETERS
    print(f"\nbase / llava-1.5-7b-hf ({LLAVA_15_7B_PARAMETERS:,}): {ratio:.4f}\n")
    print(cost_table(config, text_tokens=args.text_tokens, new_tokens=args.new_tokens))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
