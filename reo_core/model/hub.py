"""Where a base model named by a Hugging Face hub id lives on this machine; loading never downloads.

A base is a folder (the llava-hf layout). A hub id (``llava-hf/llava-1.5-7b-hf``) is looked up, in
this order, in REO's bases folder (``$REO_BASES``, default ``~/.cache/reo/bases``, one folder per
model named ``<owner>--<name>``) and in the Hugging Face cache, both without any network request.
A model found in neither is an :class:`InputError` that names the folder to put it in and the one
command that downloads it (``python -m reo_core.model.download <id>``): loading a model never
touches the network, whatever ``HF_HUB_OFFLINE`` says.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from reo_core.errors import InputError

BASES_ENV = "REO_BASES"
BASE_CONFIG_NAME = "config.json"  # transformers' model config: a folder with it is a base
IMAGE_SETTINGS_NAME = "preprocessor_config.json"  # transformers' image processor settings
# The files of a llava-hf base REO needs (no pickles: *.bin and *.pt are never fetched).
BASE_FILES = ("*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_base_folder(folder: Path, name: object = None) -> None:
    """InputError unless ``folder`` holds a transformers base (``name``: how the user named it)."""
    if not (Path(folder) / BASE_CONFIG_NAME).is_file():
        raise InputError(
            f"The base model folder {name or folder} has no {BASE_CONFIG_NAME}; it is not a "
            "llava-hf base."
        )


def bases_folder() -> Path:
    """REO's folder of downloaded bases: ``$REO_BASES`` or ``~/.cache/reo/bases``."""
    configured = os.environ.get(BASES_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "reo" / "bases"


def download_folder(repo_id: str) -> Path:
    """Where ``python -m reo_core.model.download <repo_id>`` puts a base by default."""
    return bases_folder() / repo_id.replace("/", "--")


def download_command(repo_id: str) -> str:
    return f"python -m reo_core.model.download {repo_id}"


def is_hub_id(name: str) -> bool:
    """True for ``owner/name`` (not a path: no leading ``.``, ``/`` or ``~``, one slash)."""
    return bool(_HUB_ID.match(name)) and not name.startswith((".", "/", "~"))


def local_copy(repo_id: str) -> Path | None:
    """The folder of ``repo_id`` on this machine (REO's bases folder, then the Hugging Face
    cache), found without a network request; None when it is in neither."""
    folder = download_folder(repo_id)
    if (folder / BASE_CONFIG_NAME).is_file():
        return folder
    try:
        from huggingface_hub import snapshot_download

        cached = Path(
            snapshot_download(repo_id, local_files_only=True, allow_patterns=list(BASE_FILES))
        )
    except Exception:  # not cached (LocalEntryNotFoundError) or an unreadable cache: not here
        return None
    return cached if (cached / BASE_CONFIG_NAME).is_file() else None


def missing_base_error(repo_id: str, model: str) -> InputError:
    """The message for a hub base that is not on this machine."""
    return InputError(
        f"{model} needs the base model {repo_id} (a Hugging Face model), which is not on this "
        f"machine; REO never downloads while loading. Download it once with: "
        f"{download_command(repo_id)}  (it goes to {download_folder(repo_id)}), or put a "
        "llava-hf copy of it in that folder."
    )
