"""Two-stage training on the tiny preset: losses fall, checkpoints load, runs resume exactly."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from train_helpers import REPO_ROOT, TINY_PRESET, overrides

from reo_core.errors import InputError
from reo_core.instruct.torch_dataset import InstructDataset
from reo_core.model.checkpoint import load_checkpoint
from reo_core.tasks import Task
from reo_core.train.config import load_train_config
from reo_core.train.loop import train
from reo_core.train.state import CheckpointError, latest_checkpoint


def _losses(output, stage: str) -> list[float]:
    with (output / "metrics.csv").open() as handle:
        return [
            float(r["value"])
            for r in csv.DictReader(handle)
            if r["stage"] == stage and r["name"] == "loss"
        ]


def _weights(model_folder) -> dict[str, torch.Tensor]:
    weights = load_file(str(model_folder / "adapter_model.safetensors"))
    if (model_folder / "heads.safetensors").exists():
        weights.update(load_file(str(model_folder / "heads.safetensors")))
    return weights


def _assert_same_weights(a, b, atol=1e-6):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=atol, msg=key)


def test_two_stages_learn_and_the_final_model_predicts(instruct_folder, tiny_base_folder, tmp_path):
    output = tmp_path / "run"
    config = load_train_config(
        TINY_PRESET,
        overrides(
            instruct_folder, tiny_base_folder, output, steps=40, learning_rate=0.01, eval_every=20
        ),
    )
    final = train(config)
    stage1 = _losses(output, "1")
    assert np.mean(stage1[-10:]) < np.mean(stage1[:10])
    # Per-batch AGB losses swing with each batch's patches; the same dialogues before and after
    # stage 2 show whether the head learned.
    before = _agb_loss(output / "stage1-model", instruct_folder)
    assert _agb_loss(final, instruct_folder) < 0.9 * before
    for name in ("metrics.csv", "loss.png", "validation.png", "summary.json", "train_config.json"):
        assert (output / name).is_file(), name
    loaded = load_checkpoint(final)
    processor = loaded.processor
    rng = np.random.default_rng(0)
    s2 = rng.uniform(0.02, 0.4, size=(2, len(loaded.model.config.bands), 25, 25)).astype(np.float32)
    prompt = [
        {"role": "user", "content": "<image>\nEstimate the above-ground biomass of this patch."}
    ]
    batch = processor.collate(
        [processor.encode_dialogue(prompt, generation=True)] * 2,
        processor.pixel_values(processor.images(s2)),
        padding_side="left",
    )
    answer = loaded.model.generate(batch, max_new_tokens=8)
    assert answer.agb.shape == (2,) and torch.isfinite(answer.agb).all()


@torch.no_grad()
def _agb_loss(model_folder, instruct_folder, n: int = 128) -> float:
    """Mean AGB loss of a model on the first ``n`` training AGB dialogues."""
    loaded = load_checkpoint(model_folder)
    loaded.model.eval()
    dataset = InstructDataset(instruct_folder, "train", loaded.processor, tasks=(Task.AGB,))
    batches = [dataset.collate([dataset[i] for i in range(s, s + 16)]) for s in range(0, n, 16)]
    return float(np.mean([loaded.model(batch).agb_loss.item() for batch in batches]))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_match_one_process(instruct_folder, tiny_base_folder, tmp_path):
    settings = {"steps": 3, "stage": "both", "seed": 3}  # device auto: no GPU here, so gloo
    one, two = tmp_path / "one", tmp_path / "two"
    train(
        load_train_config(
            TINY_PRESET, overrides(instruct_folder, tiny_base_folder, one, **settings)
        )
    )
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file",
        str(REPO_ROOT / "configs" / "accelerate" / "cpu-2proc.yaml"), "--main_process_port", str(_free_port()), "-m", "reo_core.train",
        "--config", str(TINY_PRESET), *overrides(instruct_folder, tiny_base_folder, two, **settings),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "training on 2 process(es), MULTI_CPU" in result.stderr
    )  # really two processes, over gloo
    _assert_same_weights(one / "stage1-model", two / "stage1-model", atol=1e-5)
    _assert_same_weights(one / "model", two / "model", atol=1e-5)


def test_a_killed_run_resumes_to_the_same_weights(instruct_folder, tiny_base_folder, tmp_path):
    settings = {"steps": 40, "stage": 1, "save_every": 4, "seed": 5}
    straight = tmp_path / "straight"
    train(
        load_train_config(
            TINY_PRESET, overrides(instruct_folder, tiny_base_folder, straight, **settings)
        )
    )
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "reo_core.train", "--config", str(TINY_PRESET),
               *overrides(instruct_folder, tiny_base_folder, killed, **settings)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while (
        latest_checkpoint(killed) is None and time.monotonic() < deadline and process.poll() is None
    ):
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "stage1-model").exists(), "the run finished before it could be killed"
    resumed_from = latest_checkpoint(killed)
    assert resumed_from is not None
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resumed stage 1 from {resumed_from}" in result.stderr
    _assert_same_weights(straight / "stage1-model", killed / "stage1-model", atol=1e-6)


def test_unknown_setting_is_refused_with_the_known_ones(tmp_path):
    with pytest.raises(
        InputError, match=r"Unknown training setting\(s\) \['stepz'\]; known settings: .*'steps'"
    ):
        load_train_config(TINY_PRESET, ["stepz=3", f"data={tmp_path}"])
    with pytest.raises(InputError, match=r"Unknown model setting\(s\) \['lora_rank'\]"):
        load_train_config(TINY_PRESET, ["model.lora_rank=3", f"data={tmp_path}"])
    with pytest.raises(InputError, match="must look like key=value"):
        load_train_config(TINY_PRESET, ["steps"])


def test_stage_two_without_a_stage_one_model(instruct_folder, tmp_path):
    with pytest.raises(InputError, match="Stage 2 trains the regression head on a stage-1 model"):
        load_train_config(TINY_PRESET, [f"data={instruct_folder}", "stage=2"])
    config = load_train_config(
        TINY_PRESET, [f"data={instruct_folder}", "stage=2", f"stage1_checkpoint={tmp_path}"]
    )
    with pytest.raises(InputError, match="needs a stage-1 model folder"):
        train(config)


def test_data_built_for_other_bands_is_refused(instruct_folder, tiny_base_folder, tmp_path):
    import json
    import shutil

    other = tmp_path / "rgb-only"
    shutil.copytree(instruct_folder, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["band_order"] = ["B02", "B03", "B04"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    config = load_train_config(
        TINY_PRESET, overrides(other, tiny_base_folder, tmp_path / "run", steps=1)
    )
    with pytest.raises(
        InputError, match=r"was built for bands \['B02', 'B03', 'B04'\]; the model needs \['B05'"
    ):
        train(config)


def test_full_disk_while_checkpointing_keeps_the_previous_latest(
    instruct_folder, tiny_base_folder, tmp_path, monkeypatch
):
    from accelerate import Accelerator

    output = tmp_path / "run"
    real_save = Accelerator.save_state
    calls = {"n": 0}

    def save_then_fill_the_disk(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(28, "No space left on device")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Accelerator, "save_state", save_then_fill_the_disk)
    config = load_train_config(
        TINY_PRESET,
        overrides(instruct_folder, tiny_base_folder, output, steps=6, stage=1, save_every=2),
    )
    with pytest.raises(
        CheckpointError,
        match=r"No space left on device.*latest complete checkpoint is still stage1-step0000002",
    ):
        train(config)
    assert latest_checkpoint(output).name == "stage1-step0000002"
    leftovers = [p.name for p in (output / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []
