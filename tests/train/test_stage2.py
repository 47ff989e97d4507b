"""Stage 2 learns from what inference feeds the head: recorded inputs, head settings, dropout
off."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import tiny_config

from reo_core.infer.engine import EngineOptions, load_engine
from reo_core.instruct.torch_dataset import InstructDataset
from reo_core.model.checkpoint import load_checkpoint, save_checkpoint
from reo_core.model.config import ReoConfig
from reo_core.tasks import Task
from reo_core.train.distributed import make_accelerator
from reo_core.train.head_inputs import HeadInputRecorder
from reo_core.train.loop import train
from reo_core.train.stage2 import HeadStage, load_stage2_model, stage2_datasets, with_new_heads

ITEMS = (0, 4, 7)  # training dialogues from different recording chunks (chunks of 3)


def _stage2_setup(small_instruct_folder, tiny_base_folder, stage1_model, output, **settings):
    config = tiny_config(
        small_instruct_folder,
        tiny_base_folder,
        output,
        stage=2,
        stage1_checkpoint=stage1_model,
        eval_batch_size=3,
        max_new_tokens=16,
        **settings,
    )
    accelerator = make_accelerator(config)
    loaded = load_stage2_model(config, Path(stage1_model), accelerator)
    train_set, _ = stage2_datasets(config, loaded, Path(stage1_model), accelerator)
    return config, loaded, train_set


@pytest.fixture(scope="module")
def recorded(small_instruct_folder, tiny_base_folder, stage1_model, tmp_path_factory):
    """Stage 2 set up on the stage-1 model: its config, model and recorded training samples."""
    output = tmp_path_factory.mktemp("stage2") / "run"
    return _stage2_setup(small_instruct_folder, tiny_base_folder, stage1_model, output)


def _inference_inputs(loaded, config, items, folder):
    """What inference feeds the head for the items' patches: the model saved, loaded by
    ``load_engine`` as predict and the plugin load it (default answer length, whatever the
    training config's ``max_new_tokens``), asked in batches of 2."""
    dataset = InstructDataset(config.data, "train", loaded.processor, tasks=(Task.AGB,))
    s2 = np.stack([dataset.patch_arrays(i)[0] for i in items])
    save_checkpoint(loaded, folder)
    threads = torch.get_num_threads()
    options = EngineOptions(device="cpu", batch_size=2)
    engine = load_engine(folder, options)
    try:
        with HeadInputRecorder(engine.model) as recorder:
            predictions = engine.predict_patches(s2)
    finally:
        torch.set_num_threads(threads)
    return recorder.samples(), predictions


def _answer_states(sample: dict) -> torch.Tensor:
    """The text states the head pools: those under the mask, in order."""
    return sample["text_states"][sample["context_mask"]]


def test_stage_two_head_inputs_are_what_inference_feeds_the_head(
    small_instruct_folder, tiny_base_folder, stage1_model, recorded, tmp_path
):
    config, loaded, train_set = recorded
    assert not any(m.training for m in loaded.model.modules()), "dropout must be off in stage 2"
    batch = train_set.collate([train_set[i] for i in ITEMS])  # padded across chunks
    head = HeadStage(loaded.model)  # the head as it starts stage 2 (same weights as the model's)
    prediction, _ = head(batch.inputs)
    trained_agb, _ = loaded.model.to_agb(prediction)

    inference, predictions = _inference_inputs(loaded, config, ITEMS, tmp_path / "saved")
    torch.testing.assert_close(trained_agb, torch.from_numpy(predictions.agb), rtol=0, atol=1e-3)
    for row, sample in enumerate(inference):
        recorded = train_set[ITEMS[row]]["inputs"]
        assert recorded.keys() == sample.keys()
        torch.testing.assert_close(
            recorded["head_visual"], sample["head_visual"], rtol=0, atol=1e-5
        )
        torch.testing.assert_close(
            _answer_states(recorded), _answer_states(sample), rtol=0, atol=1e-5
        )

    # The earlier recipe (the dialogue's true answer) feeds the head other states: the check above
    # can tell them apart.
    _, _, reference = _stage2_setup(
        small_instruct_folder,
        tiny_base_folder,
        stage1_model,
        tmp_path / "reference",
        stage2_text="reference",
    )
    teacher = reference[ITEMS[0]]["inputs"]
    assert _answer_states(teacher).shape != _answer_states(
        inference[0]
    ).shape or not torch.allclose(_answer_states(teacher), _answer_states(inference[0]), atol=1e-3)


def test_stage_two_alone_takes_head_settings_and_keeps_stage_one(
    small_instruct_folder, tiny_base_folder, stage1_model, tmp_path, caplog
):
    caplog.set_level("INFO")
    output = tmp_path / "ablation"
    settings = {
        "stage": 2,
        "stage1_checkpoint": stage1_model,
        "steps": 2,
        "model.token_strategy": "last_layer",
        "model.head_depth": 2,
        "model.lora_r": 9,
    }
    final = train(tiny_config(small_instruct_folder, tiny_base_folder, output, **settings))
    saved = json.loads((final / "reo_config.json").read_text())
    assert saved["token_strategy"] == "last_layer" and saved["head_depth"] == 2
    assert saved["lora_r"] == json.loads((stage1_model / "reo_config.json").read_text())["lora_r"]
    assert "stage 2 keeps the stage-1 model's" in caplog.text and "lora_r=4" in caplog.text
    model = load_checkpoint(final).model
    assert model.head_layers == [model.llava.config.vision_config.num_hidden_layers]
    assert len(model.regression_head.blocks) == 2
    adapter = (final / "adapter_model.safetensors").read_bytes()
    assert adapter == (stage1_model / "adapter_model.safetensors").read_bytes()
    assert not (output / "stage2-inputs").exists(), "the recorded inputs go when stage 2 is done"


def test_recorded_inputs_are_reused_when_nothing_changed(
    small_instruct_folder, tiny_base_folder, stage1_model, recorded, caplog
):
    config, _, train_set = recorded
    caplog.set_level("INFO")
    output = Path(config.output)
    _, _, again = _stage2_setup(small_instruct_folder, tiny_base_folder, stage1_model, output)
    assert "recording head inputs" not in caplog.text
    torch.testing.assert_close(again[3]["inputs"], train_set[3]["inputs"], rtol=0, atol=0)
    _stage2_setup(
        small_instruct_folder, tiny_base_folder, stage1_model, output, **{"model.head_grid": 1}
    )
    assert "recording head inputs" in caplog.text  # other visual tokens: recorded anew


@pytest.mark.parametrize("uncertainty", ["none", "gaussian"])
def test_stage_two_loss_is_mse_or_gaussian_nll(recorded, uncertainty):
    _, loaded, train_set = recorded
    head_config = ReoConfig.from_dict({**loaded.model.config.to_dict(), "uncertainty": uncertainty})
    loaded = with_new_heads(loaded, head_config)  # the inputs do not depend on the loss
    batch = train_set.collate([train_set[i] for i in ITEMS])
    prediction, loss = HeadStage(loaded.model)(batch.inputs, batch.agb)
    cfg = loaded.model.config
    target = (batch.agb - cfg.agb_mean) / cfg.agb_std
    if uncertainty == "none":
        expected = torch.nn.functional.mse_loss(prediction.mean, target)
    else:
        expected = torch.nn.functional.gaussian_nll_loss(
            prediction.mean, target, prediction.log_variance.exp(), eps=1e-6
        )
    torch.testing.assert_close(loss, expected)


def test_the_head_learns_from_recorded_inputs(recorded):
    """Fast stand-in for the slow two-stage learning test: the stage-2 loss falls."""
    _, loaded, train_set = recorded
    batch = train_set.collate([train_set[i] for i in range(8)])
    head = HeadStage(loaded.model)
    optimizer = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for step in range(30):
        _, loss = head(batch.inputs, batch.agb)
        loss.backward()
        if step == 0:  # everything stage 2 trains sits behind the head entry that was recorded
            silent = [n for n, p in head.named_parameters() if p.requires_grad and p.grad is None]
            assert not silent, silent
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0], losses
