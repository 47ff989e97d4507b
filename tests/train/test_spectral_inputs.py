"""The spectral channel's inputs come from the same processor call in training and at inference."""

from __future__ import annotations

import numpy as np
import torch

from reo_core.instruct.store import s2_reflectance
from reo_core.instruct.torch_dataset import InstructDataset
from reo_core.model.base import TINY_BASE, build_base
from reo_core.model.checkpoint import create_model
from reo_core.model.config import ReoConfig
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER
from reo_core.tasks import Task


def test_training_batches_carry_the_patches_band_statistics(instruct_folder, tmp_path):
    base = build_base(tmp_path / "base", TINY_BASE)
    config = ReoConfig(
        base_model=str(base),
        modality="ms",
        head_token_hidden=8,
        lora_r=2,
        lora_alpha=4,
        spectral_tokens=2,
        spectral_conv=True,
    )
    loaded = create_model(config)
    dataset = InstructDataset(instruct_folder, "train", loaded.processor, tasks=(Task.AGB,))
    items = [dataset[i] for i in range(3)]
    batch = dataset.collate(items)
    for row, item in enumerate(items):
        ref = item["record"]["patch"]
        arrays = dataset.store.get(ref["split"], ref["shard"], ref["index"])
        index = [AGBD_BAND_ORDER.index(b) for b in config.bands]
        s2 = s2_reflectance(np.asarray(arrays["s2"])[index])[None]
        expected = loaded.processor.spectral(s2)
        np.testing.assert_array_equal(batch.spectral[row].numpy(), expected["spectral"][0])
        np.testing.assert_array_equal(batch.reflectance[row].numpy(), expected["reflectance"][0])
    loaded.model.set_stage(2)
    loss = loaded.model(batch).agb_loss
    loss.backward()
    assert loaded.model.spectral_encoder.project.weight.grad.abs().sum() > 0
    assert torch.isfinite(loss)
