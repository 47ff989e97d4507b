"""Base shapes that training can build itself when its base folder is missing (``build_base``)."""

from __future__ import annotations

from reo_core.model.base import TINY_BASE, BaseSpec

# The built-in demo model's base: small enough for fast CPU inference, big enough to learn the
# synthetic scenes. 56 px images (4 x 4 tokens), 6 vision layers, a 4-layer 128-wide LLM.
DEMO_BASE = BaseSpec(
    vision_hidden=64,
    vision_layers=6,
    vision_heads=4,
    vision_intermediate=128,
    image_size=56,
    patch_size=14,
    text_hidden=128,
    text_layers=4,
    text_heads=4,
    text_intermediate=256,
    max_positions=1024,
)

BASE_SPECS: dict[str, BaseSpec] = {"tiny": TINY_BASE, "demo": DEMO_BASE}
