"""Two-stage training on the tiny preset: losses fall, checkpoints load, runs resume exactly."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from train_helpers import REPO_ROOT, TINY_PRESET, overrides, tiny_config

from reo_core.errors import InputError
from reo_core.model.checkpoint import load_checkpoint
from reo_core.train.__main__ import main
from reo_core.train.checkpoint_size import checkpoint_bytes
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


def _assert_checkpoint_size_is_as_computed(folder) -> None:
    """Weights and optimiser state take 12 bytes per trained parameter (docs/benchmarks.md
    computes the paper's checkpoint sizes so); the rest is a few kB."""
    with safe_open(str(folder / "model.safetensors"), framework="pt") as weights:
        names = weights.keys()  # a safetensors handle, not a dict: no iteration over it
        trained = sum(int(np.prod(weights.get_slice(k).get_shape())) for k in names)
    stored = (folder / "model.safetensors").stat().st_size + (
        folder / "optimizer.bin"
    ).stat().st_size
    expected = checkpoint_bytes(trained)
    assert expected <= stored <= expected + 64 * 1024, (stored, expected)


def _assert_same_weights(a, b, atol=1e-6):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=atol, msg=key)


@pytest.mark.slow
def test_two_stages_learn_and_the_final_model_predicts(
    small_instruct_folder, tiny_base_folder, tmp_path
):
    output = tmp_path / "run"
    config = tiny_config(
        small_instruct_folder,
        tiny_base_folder,
        output,
        steps=40,
        learning_rate=0.01,
        eval_every=20,
    )
    final = train(config)
    stage1, stage2 = _losses(output, "1"), _losses(output, "2")
    assert np.mean(stage1[-10:]) < np.mean(stage1[:10])
    assert np.mean(stage2[-10:]) < np.mean(stage2[:10])
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one_process(small_instruct_folder, tiny_base_folder, tmp_path):
    settings = {"steps": 3, "stage": "both", "seed": 3}  # device auto: no GPU here, so gloo
    one, two = tmp_path / "one", tmp_path / "two"
    train(tiny_config(small_instruct_folder, tiny_base_folder, one, **settings))
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO_ROOT / "configs" / "accelerate" / "cpu-2proc.yaml"),
        "--main_process_port",
        str(_free_port()),
        "-m",
        "reo_core.train",
        "--config",
        str(TINY_PRESET),
        *overrides(small_instruct_folder, tiny_base_folder, two, **settings),
    ]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es), MULTI_CPU" in result.stderr  # really two processes, over gloo
    _assert_same_weights(one / "stage1-model", two / "stage1-model", atol=1e-5)
    # Two processes sum the head's gradients in another order. Adam makes every step about the
    # learning rate (1e-3) long, so a weight whose gradient is rounding noise moves a little
    # differently (measured: one of 20k weights by 3e-5 after 3 steps, the rest under 2e-6); a
    # tenth of a step still catches any step that differs.
    _assert_same_weights(one / "model", two / "model", atol=1e-4)
    # Validation ran on both processes (each its share) and gathered every record.
    for stage in ("stage1", "stage2"):
        (single,) = (one / "validation").glob(f"{stage}-*.predictions.jsonl")
        (double,) = (two / "validation").glob(f"{stage}-*.predictions.jsonl")
        a = sorted(map(json.loads, single.read_text().splitlines()), key=lambda r: r["id"])
        b = sorted(map(json.loads, double.read_text().splitlines()), key=lambda r: r["id"])
        assert [r["id"] for r in a] == [r["id"] for r in b]
        for x, y in zip(a, b, strict=True):
            if isinstance(x["prediction"], float):
                assert abs(x["prediction"] - y["prediction"]) < 1e-3, x["id"]
            else:
                assert x["prediction"] == y["prediction"], x["id"]


class _Killed(BaseException):
    """Stands for SIGKILL in-process: nothing catches it, no clean-up runs."""


def _kill_after_checkpoint(monkeypatch, stage: int) -> None:
    """The run dies right after writing its first checkpoint of ``stage``: a fixed point, not a
    race against the clock."""
    import reo_core.train.loop as loop

    real = loop.save_training_state

    def save_then_die(accelerator, state, output, keep):
        folder = real(accelerator, state, output, keep)
        if state.stage == stage:
            raise _Killed(folder)
        return folder

    monkeypatch.setattr(loop, "save_training_state", save_then_die)


RESUME_SETTINGS = {"steps": 4, "stage2_steps": 4, "save_every": 2, "seed": 5, "eval_samples": 1}
# Float sums depend on torch's thread count, and this process's count depends on the tests run
# before (the inference engine takes one thread for small models): the runs compared with the
# straight run all train on this many threads, in this process and in the killed ones.
RESUME_THREADS = 1


@pytest.fixture(scope="module", autouse=True)
def _pinned_threads():
    """RESUME_THREADS for every run of this module (autouse: set up before straight_run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(RESUME_THREADS)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def straight_run(small_instruct_folder, tiny_base_folder, tmp_path_factory):
    """Both stages, never interrupted."""
    output = tmp_path_factory.mktemp("straight") / "run"
    settings = overrides(small_instruct_folder, tiny_base_folder, output, **RESUME_SETTINGS)
    train(load_train_config(TINY_PRESET, settings))
    return output


def test_a_run_killed_in_stage_two_resumes_stage_two(
    small_instruct_folder, tiny_base_folder, straight_run, tmp_path, monkeypatch, caplog
):
    killed = tmp_path / "killed"
    config = tiny_config(small_instruct_folder, tiny_base_folder, killed, **RESUME_SETTINGS)
    _kill_after_checkpoint(monkeypatch, stage=2)
    with pytest.raises(_Killed):
        train(config)
    checkpoint = latest_checkpoint(killed, 2)
    assert checkpoint.name == "stage2-step0000002"
    # A stage-2 checkpoint holds the head it trains (and the optimiser, scheduler, RNG states),
    # not the stage-1 model nor the frozen base.
    assert not list(checkpoint.glob("model_1*"))
    with safe_open(str(checkpoint / "model.safetensors"), framework="pt") as weights:
        assert all(k.startswith(HEAD_KEYS) for k in weights.keys())  # noqa: SIM118
    assert not list((killed / "checkpoints").glob("stage1-*")), "stage 1 is done: its go"
    _assert_checkpoint_size_is_as_computed(checkpoint)

    monkeypatch.undo()
    caplog.set_level("INFO")
    final = train(config)
    assert f"stage 1 finished earlier: {killed / 'stage1-model'}" in caplog.text
    assert f"resumed stage 2 from {checkpoint} at step 2" in caplog.text
    _assert_same_weights(straight_run / "stage1-model", killed / "stage1-model", atol=0)
    _assert_same_weights(straight_run / "model", final, atol=1e-6)


def test_a_finished_run_says_so_and_force_starts_over(
    small_instruct_folder, tiny_base_folder, straight_run, tmp_path, caplog
):
    # A copy: --force below trains again where it runs, and other tests compare with straight_run.
    straight_run = Path(shutil.copytree(straight_run, tmp_path / "run"))
    caplog.set_level("INFO")
    settings = overrides(small_instruct_folder, tiny_base_folder, straight_run, **RESUME_SETTINGS)
    before = (straight_run / "model" / "heads.safetensors").stat().st_mtime_ns
    assert main(["--config", str(TINY_PRESET), *settings]) == 0
    assert f"The run in {straight_run} is finished" in caplog.text
    assert "Add --force to train again" in caplog.text
    assert (straight_run / "model" / "heads.safetensors").stat().st_mtime_ns == before

    changed = overrides(
        small_instruct_folder, tiny_base_folder, straight_run, **{**RESUME_SETTINGS, "steps": 7}
    )
    caplog.clear()
    assert main(["--config", str(TINY_PRESET), *changed]) == 2
    assert "holds a run with other settings (steps: 4 -> 7)" in caplog.text

    caplog.clear()
    (straight_run / "notes.txt").write_text("mine")
    assert main(["--config", str(TINY_PRESET), "--force", *settings, "stage=1"]) == 0
    assert "--force: removed the earlier run" in caplog.text
    assert not (straight_run / "model").exists() and (straight_run / "stage1-model").is_dir()
    assert (straight_run / "notes.txt").read_text() == "mine"  # not the run's: left alone


@pytest.mark.slow
def test_a_sigkilled_run_resumes_to_the_same_weights(
    small_instruct_folder, tiny_base_folder, straight_run, tmp_path
):
    """The same with a real SIGKILL in a separate process (the kill point is fixed, not timed)."""
    killed = tmp_path / "killed"
    settings = overrides(small_instruct_folder, tiny_base_folder, killed, **RESUME_SETTINGS)
    die = (
        "import os, signal, sys\n"
        "import reo_core.train.loop as loop\n"
        "real = loop.save_training_state\n"
        "def save_then_die(accelerator, state, output, keep):\n"
        "    folder = real(accelerator, state, output, keep)\n"
        "    if state.stage == 2: os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return folder\n"
        "loop.save_training_state = save_then_die\n"
        "from reo_core.train.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    arguments = ["--config", str(TINY_PRESET), *settings]
    threads_env = {**os.environ, "OMP_NUM_THREADS": str(RESUME_THREADS)}

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *command, *arguments],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=threads_env,
        )

    first = run("-c", die)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    resumed_from = latest_checkpoint(killed, 2)
    assert resumed_from is not None
    second = run("-m", "reo_core.train")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resumed stage 2 from {resumed_from}" in second.stderr
    _assert_same_weights(straight_run / "model", killed / "model", atol=1e-6)


def test_a_bad_value_is_one_line_and_exit_two(tmp_path, caplog):
    command = [
        sys.executable,
        "-m",
        "reo_core.train",
        "--config",
        str(TINY_PRESET),
        f"data={tmp_path}",
        "steps=ten",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ERROR reo_core.train: steps must be an integer, got 'ten'."
    ]
    for setting, message in (
        ("learning_rate=fast", "learning_rate must be a number, got 'fast'."),
        (
            "gradient_checkpointing=maybe",
            "gradient_checkpointing must be true or false, got 'maybe'.",
        ),
        ("model.lora_r=[1", "model.lora_r must be an integer, got '[1'."),
        ("model.token_strategy=7", "model.token_strategy must be a text, got 7."),
        ("micro_batch_size=-1", "micro_batch_size must be >= 0, got -1."),
    ):
        caplog.clear()
        assert main(["--config", str(TINY_PRESET), f"data={tmp_path}", setting]) == 2
        assert [r.getMessage() for r in caplog.records] == [message]


def test_unknown_setting_is_refused_with_the_known_ones(tmp_path):
    with pytest.raises(
        InputError, match=r"Unknown training setting\(s\) \['stepz'\]; known settings: .*'steps'"
    ):
        load_train_config(TINY_PRESET, ["stepz=3", f"data={tmp_path}"])
    with pytest.raises(InputError, match=r"Unknown model setting\(s\) \['lora_rank'\]"):
        load_train_config(TINY_PRESET, ["model.lora_rank=3", f"data={tmp_path}"])
    with pytest.raises(InputError, match="must look like key=value"):
        load_train_config(TINY_PRESET, ["steps"])


def test_stage_two_without_a_stage_one_model(small_instruct_folder, tmp_path):
    with pytest.raises(InputError, match="Stage 2 trains the regression head on a stage-1 model"):
        load_train_config(TINY_PRESET, [f"data={small_instruct_folder}", "stage=2"])
    config = load_train_config(
        TINY_PRESET,
        [
            f"data={small_instruct_folder}",
            "stage=2",
            f"stage1_checkpoint={tmp_path}",
            f"output={tmp_path / 'run'}",
        ],
    )
    with pytest.raises(InputError, match="needs a stage-1 model folder"):
        train(config)


def test_data_built_for_other_bands_is_refused(small_instruct_folder, tiny_base_folder, tmp_path):
    import json
    import shutil

    other = tmp_path / "rgb-only"
    shutil.copytree(small_instruct_folder, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["band_order"] = ["B02", "B03", "B04"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    config = tiny_config(other, tiny_base_folder, tmp_path / "run", steps=1)
    with pytest.raises(
        InputError, match=r"was built for bands \['B02', 'B03', 'B04'\]; the model needs \['B05'"
    ):
        train(config)


HEAD_KEYS = ("model.reverse_projection.", "model.regression_head.")


def test_full_disk_while_checkpointing_keeps_the_previous_latest(
    small_instruct_folder, tiny_base_folder, tmp_path, monkeypatch
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
    config = tiny_config(
        small_instruct_folder, tiny_base_folder, output, steps=6, stage=1, save_every=2
    )
    with pytest.raises(
        CheckpointError,
        match=r"No space left on device.*latest complete checkpoint is still stage1-step0000002",
    ):
        train(config)
    assert latest_checkpoint(output).name == "stage1-step0000002"
    # A stage-1 checkpoint holds what trains (LoRA), not the frozen base.
    with safe_open(str(latest_checkpoint(output) / "model.safetensors"), framework="pt") as saved:
        keys = list(saved.keys())
    assert keys and all("lora_" in k for k in keys)
    _assert_checkpoint_size_is_as_computed(latest_checkpoint(output))
    leftovers = [p.name for p in (output / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []
