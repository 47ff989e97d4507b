"""Damaged or incomplete model folders and absent hub bases: one line that says what to do, exit 2.

Issue 12, items 7 and 9: corrupt or truncated safetensors (adapter, heads, base), a missing
heads.safetensors, a model copied without its ../base, a reo_config.json that is not JSON or has an
unknown key, a pickle where weights should be (torch's advice to set weights_only=False must never
reach a user), and a hub id as base that is not on this machine (no network request, ever).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import subprocess
import sys

import pytest
import torch
from infer_helpers import REPO_ROOT, cli_args, make_model, scene_s2

from reo_core import ask, predict
from reo_core.errors import InputError
from reo_core.model import download as download_module
from reo_core.model.checkpoint import load_checkpoint
from reo_core.model.hub import BASES_ENV, download_folder

HUB_ID = "llava-hf/llava-1.5-7b-hf"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_base):
    """A model shipped beside its base: <bundle>/model (base_model "../base") and <bundle>/base."""
    root = tmp_path_factory.mktemp("bundle")
    shutil.copytree(tiny_base, root / "base")
    make_model(root / "model", root / "base", modality="rgb")
    assert json.loads((root / "model" / "reo_config.json").read_text())["base_model"] == "../base"
    return root


@pytest.fixture
def copy(bundle, tmp_path):
    """A fresh copy of the bundle to damage."""
    target = tmp_path / "bundle"
    shutil.copytree(bundle, target)
    return target


def run_predict(model, scene, tmp_path, caplog) -> tuple[int, str]:
    out = tmp_path / "out"
    argv = cli_args(model, scene_s2(scene), "--no-quicklook", out=out)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        code = predict.main(argv)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not out.exists() or not any(out.glob("*.tif")), "no product may be written"
    return code, "\n".join(errors)


def truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def pickle_into(path) -> None:
    torch.save({"weight": torch.zeros(2)}, path)


DAMAGES = {
    "heads truncated": (
        lambda b: truncate(b / "model" / "heads.safetensors"),
        r"heads.safetensors \(the regression head.*\) is damaged",
    ),
    "heads missing": (
        lambda b: (b / "model" / "heads.safetensors").unlink(),
        r"heads.safetensors \(the regression head.*\) is missing",
    ),
    "heads a pickle": (
        lambda b: pickle_into(b / "model" / "heads.safetensors"),
        r"heads.safetensors \(the regression head.*\) is a pickle",
    ),
    "adapter truncated": (
        lambda b: truncate(b / "model" / "adapter_model.safetensors"),
        r"adapter_model.safetensors \(the LoRA adapter\) is damaged",
    ),
    "adapter as .bin": (
        lambda b: (
            (b / "model" / "adapter_model.safetensors").unlink(),
            pickle_into(b / "model" / "adapter_model.bin"),
        ),
        r"adapter_model.bin \(the LoRA adapter\) is a pickle",
    ),
    "base truncated": (
        lambda b: truncate(b / "base" / "model.safetensors"),
        r"model.safetensors \(base model weights\) is damaged",
    ),
    "base as .bin": (
        lambda b: (
            (b / "base" / "model.safetensors").unlink(),
            pickle_into(b / "base" / "pytorch_model.bin"),
        ),
        r"pytorch_model.bin \(base model weights\) is a pickle",
    ),
    "base not copied": (
        lambda b: shutil.rmtree(b / "base"),
        r"needs its base model folder ../base, which is missing",
    ),
    "config not JSON": (
        lambda b: (b / "model" / "reo_config.json").write_text("{'modality': "),
        r"reo_config.json is not valid JSON",
    ),
    "config unknown key": (
        lambda b: _add_key(b / "model" / "reo_config.json", "colour", "red"),
        r"key\(s\) \['colour'\] that this REO does not know",
    ),
    "tokenizer damaged": (
        lambda b: (b / "model" / "tokenizer.json").write_text("{"),
        r"tokenizer.json \(the tokenizer\) cannot be used",
    ),
}


def _add_key(path, key, value) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), key: value}))


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_model_folder_is_one_message_and_exit_2(copy, scene, tmp_path, caplog, damage):
    spoil, message = DAMAGES[damage]
    spoil(copy)
    code, errors = run_predict(copy / "model", scene, tmp_path, caplog)
    assert code == 2, errors
    assert len(errors.splitlines()) <= 2, errors  # the message, and at most one line of details
    assert re.search(message, errors), errors
    assert "weights_only" not in errors and "Traceback" not in errors


def test_ask_says_the_same_in_a_fresh_process(copy, scene):
    pickle_into(copy / "model" / "adapter_model.safetensors")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reo_core.ask",
            *cli_args(copy / "model", scene_s2(scene), "--point", 0, 0, "--crs", "EPSG:32632"),
            *("--question", "AGB?"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 2, result.stderr
    assert "adapter_model.safetensors (the LoRA adapter) is a pickle" in result.stderr
    assert "Traceback" not in result.stderr and "weights_only" not in result.stderr
    assert ask.main is not None


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """The hub reachable as far as the libraries know, but every connection attempt recorded."""
    import huggingface_hub.constants as hub_constants

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network use in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv(BASES_ENV, str(tmp_path / "reo-bases"))
    return attempts


def test_a_hub_base_not_on_this_machine_names_the_folder_and_the_command(copy, no_network):
    _set_base(copy / "model", HUB_ID)
    with pytest.raises(InputError) as raised:
        load_checkpoint(copy / "model")
    message = str(raised.value)
    assert f"python -m reo_core.model.download {HUB_ID}" in message
    assert str(download_folder(HUB_ID)) in message and "never downloads" in message
    assert no_network == []


def test_a_hub_base_in_reos_folder_loads_without_the_network(copy, no_network):
    _set_base(copy / "model", HUB_ID)
    shutil.copytree(copy / "base", download_folder(HUB_ID))
    loaded = load_checkpoint(copy / "model")
    assert loaded.model.config.base_model == HUB_ID  # saved again, it still names the hub model
    assert no_network == []


def test_the_download_command_is_the_only_way_and_says_when_it_cannot(copy, monkeypatch, tmp_path):
    monkeypatch.setenv(BASES_ENV, str(tmp_path / "bases"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download_module.main([HUB_ID]) == 2
    monkeypatch.delenv("HF_HUB_OFFLINE")
    fetched = []

    def fake_snapshot(repo_id, local_dir, allow_patterns):  # what the hub would send
        fetched.append((repo_id, allow_patterns))
        shutil.copytree(copy / "base", local_dir)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    assert download_module.main([HUB_ID]) == 0
    assert fetched[0][0] == HUB_ID and not any(".bin" in p for p in fetched[0][1])
    _set_base(copy / "model", HUB_ID)
    assert load_checkpoint(copy / "model").model.config.base_model == HUB_ID
    assert download_module.main(["../not-an-id"]) == 2
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", lambda repo_id, local_dir, allow_patterns: None
    )
    with pytest.raises(InputError, match=r"from owner/other .* has no config\.json; it is not a"):
        download_module.download("owner/other", tmp_path / "other")


def _set_base(model, base_model: str) -> None:
    path = model / "reo_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "base_model": base_model}))
