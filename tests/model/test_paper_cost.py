"""The paper configuration on the meta device: parameter counts and FLOPs per patch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import LlavaForConditionalGeneration

from reo_core.model.base import TINY_BASE
from reo_core.model.cost import patch_cost, token_budgets, vision_flops
from reo_core.model.paper import (
    LLAVA_15_7B_PARAMETERS,
    PAPER_BASE,
    cost_table,
    paper_parameter_counts,
)


def test_paper_base_has_llava_15_7b_parameter_count():
    counts = paper_parameter_counts()
    assert abs(counts["base"] / LLAVA_15_7B_PARAMETERS - 1) < 0.01
    assert counts["vision_tower"] == pytest.approx(303.5e6, rel=0.01)  # CLIP ViT-L/14-336
    assert counts["lora"] > 0 and counts["regression_head"] > 0
    assert counts["reverse_projection"] == 4096 * 1024 + 1024  # 4096 -> 1024, as in the paper


@pytest.mark.parametrize("spec", [TINY_BASE, PAPER_BASE], ids=["tiny", "paper"])
def test_vision_flops_match_torch_flop_counter(spec):
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(spec.llava_config(pad_token_id=0))
        pixels = torch.empty(2, 3, spec.image_size, spec.image_size)
        counter = FlopCounterMode(display=False)
        with counter:
            model.model.vision_tower(pixels)
    assert counter.get_total_flops() == pytest.approx(vision_flops(spec, 2), rel=1e-6)


def test_pooling_cuts_llm_cost_by_the_token_ratio():
    full = patch_cost(PAPER_BASE, images=6, pool=1, text_tokens=64)
    pooled = patch_cost(PAPER_BASE, images=6, pool=4, text_tokens=64)
    assert full.llm_tokens == 6 * 576 + 64 == 3520  # the paper's cost per patch
    assert pooled.llm_tokens == 6 * 36 + 64
    assert full.vision == pooled.vision  # pooling happens after the vision tower
    assert full.llm_prefill / pooled.llm_prefill > 10
    assert token_budgets(PAPER_BASE) == [1, 2, 3, 4, 6, 8, 12, 24]
    assert "| 4x4 | 36 |" in cost_table()
