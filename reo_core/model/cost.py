"""What a patch costs: parameter counts and forward FLOPs per patch for each visual token budget.

FLOPs count multiply-adds as 2, attention over the full (not causally halved) score matrix, as
torch's FlopCounterMode does; the vision part is checked against it in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from reo_core.model.base import BaseSpec


@dataclass(frozen=True)
class PatchCost:
    """Forward FLOPs of one patch, by part."""

    tokens_per_image: int
    llm_tokens: int  # image tokens + text tokens in the prefill
    vision: float
    projector: float
    llm_prefill: float
    llm_decode: float  # all generated tokens, each attending to the whole context

    @property
    def total(self) -> float:
        return self.vision + self.projector + self.llm_prefill + self.llm_decode


def vision_flops(spec: BaseSpec, images: int) -> float:
    """CLIP ViT forward over ``images`` images (all layers, CLS token included)."""
    grid = spec.image_size // spec.patch_size
    tokens, width = grid * grid + 1, spec.vision_hidden
    patch_embedding = 2 * grid * grid * (3 * spec.patch_size**2) * width
    per_layer = (
        8 * tokens * width * width  # q, k, v, o projections
        + 4 * tokens * width * spec.vision_intermediate  # two MLP matrices
        + 4 * tokens * tokens * width  # scores and weighted sum
    )
    return float(images * (patch_embedding + spec.vision_layers * per_layer))


def projector_flops(spec: BaseSpec, images: int) -> float:
    """Two-layer MLP projector over every patch token (pooling comes after it)."""
    grid = spec.image_size // spec.patch_size
    per_token = 2 * (spec.vision_hidden * spec.text_hidden + spec.text_hidden * spec.text_hidden)
    return float(images * grid * grid * per_token)


def llm_flops(spec: BaseSpec, tokens: int, context: int | None = None) -> float:
    """Llama decoder over ``tokens`` new positions attending to ``context`` positions in all."""
    context = tokens if context is None else context
    width = spec.text_hidden
    per_layer = (
        8 * tokens * width * width  # q, k, v, o (as many KV heads as heads)
        + 6 * tokens * width * spec.text_intermediate  # gate, up, down
        + 4 * tokens * context * width  # scores and weighted sum
    )
    return float(spec.text_layers * per_layer)


def patch_cost(
    spec: BaseSpec, images: int, pool: int, text_tokens: int = 64, new_tokens: int = 16
) -> PatchCost:
    """FLOPs of one patch at visual token pool ``pool`` (1 = the paper's 576 tokens per image)."""
    grid = spec.image_size // spec.patch_size
    tokens_per_image = (grid // pool) ** 2
    prefill_tokens = images * tokens_per_image + text_tokens
    lm_head = 2 * spec.text_hidden * spec.vocab_size
    decode = sum(llm_flops(spec, 1, prefill_tokens + k + 1) + lm_head for k in range(new_tokens))
    return PatchCost(
        tokens_per_image=tokens_per_image,
        llm_tokens=prefill_tokens,
        vision=vision_flops(spec, images),
        projector=projector_flops(spec, images),
        llm_prefill=llm_flops(spec, prefill_tokens) + lm_head,
        llm_decode=decode,
    )


def token_budgets(spec: BaseSpec) -> list[int]:
    """Every pool factor that divides the token grid (24 x 24 for 336 px / 14 px patches)."""
    grid = spec.image_size // spec.patch_size
    return [pool for pool in range(1, grid + 1) if grid % pool == 0]
