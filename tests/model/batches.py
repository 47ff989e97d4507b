"""Seeded patches and batches for the tiny-model tests."""

from __future__ import annotations

import numpy as np

from reo_core.model.config import ReoConfig


def patches(config: ReoConfig, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Seeded reflectance patches (and PALSAR-2 dB for ms+sar)."""
    rng = np.random.default_rng(seed)
    s2 = rng.uniform(0.02, 0.45, size=(count, len(config.bands), 25, 25)).astype(np.float32)
    sar = (
        rng.uniform(-25, -5, size=(count, 2, 25, 25)).astype(np.float32)
        if config.modality == "ms+sar"
        else None
    )
    return s2, sar


QUESTION = {"role": "user", "content": "<image>\nWhat is the above-ground biomass of this patch?"}


def answer(text: str) -> list[dict]:
    return [QUESTION, {"role": "assistant", "content": text}]


def training_batch(loaded, count: int = 3, seed: int = 0):
    config, processor = loaded.model.config, loaded.processor
    s2, sar = patches(config, count, seed)
    encoded = [
        processor.encode_dialogue(answer(f"Mostly closed mixed forest, {i + 2} patches."))
        for i in range(count)
    ]
    pixels = processor.pixel_values(processor.images(s2, sar))
    agb = [50.0 + 40 * i for i in range(count)]
    return processor.collate(encoded, pixels, agb=agb, spectral=processor.spectral(s2, sar))


def prompt_batch(loaded, s2, sar=None):
    processor = loaded.processor
    encoded = [processor.encode_dialogue([QUESTION], generation=True) for _ in range(s2.shape[0])]
    pixels = processor.pixel_values(processor.images(s2, sar))
    spectral = processor.spectral(s2, sar)
    return processor.collate(encoded, pixels, padding_side="left", spectral=spectral)
