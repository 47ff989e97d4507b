"""Checking weight files before they are loaded: one clear message for a missing, damaged or pickled
file.

REO loads weights from safetensors only. A file that is missing, truncated, or not safetensors
(a ``torch.save`` pickle under a safetensors name, a half-copied download) becomes an
:class:`InputError` naming the file, what it is for and what to do, before torch or transformers
can raise a traceback or suggest loading a pickle.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from reo_core.errors import InputError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# torch.save writes a zip archive; plain pickles of protocol >= 2 start with 0x80.
_PICKLE_STARTS = (b"PK\x03\x04", b"\x80")
COPY_AGAIN = "copy the model folder again from where it came from"


def check_safetensors(path: Path, what: str) -> None:
    """``path`` is a readable safetensors file, or an InputError says what is wrong with it."""
    if not path.is_file():
        pickle = next((p for p in _pickles_beside(path)), None)
        if pickle is not None:
            raise _pickle_error(pickle, what)
        raise InputError(
            f"{path} ({what}) is missing: the model folder is incomplete; {COPY_AGAIN}."
        )
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt"):
            pass
    except Exception as error:  # SafetensorError: truncated, empty, not safetensors
        if _looks_pickled(path):
            raise _pickle_error(path, what) from None
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{path} ({what}) is damaged ({reason}): it is truncated or not a safetensors file; "
            f"{COPY_AGAIN}."
        ) from None


def check_base_weights(folder: Path) -> None:
    """Every weight file of a base folder is readable safetensors (sharded or not)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise _pickle_error(folder / pickles[0], "base model weights")
        raise InputError(
            f"The base model folder {folder} holds no *.safetensors weights; {COPY_AGAIN}."
        )
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(
            read_json(index, "the base model's shard index").get("weight_map", {}).values()
        )
        for shard in sorted(shards):
            check_safetensors(folder / shard, "a shard of the base model's weights")
    for path in files:
        check_safetensors(path, "base model weights")


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``, or an InputError naming the file."""
    if not path.is_file():
        raise InputError(
            f"{path} ({what}) is missing: the model folder is incomplete; {COPY_AGAIN}."
        )
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} ({what}) is not valid JSON ({error}); {COPY_AGAIN}.") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} ({what}) holds no JSON object; {COPY_AGAIN}.")
    return value


def _pickles_beside(path: Path) -> Iterator[Path]:
    stem = path.with_suffix("")
    return (stem.with_suffix(s) for s in PICKLE_SUFFIXES if stem.with_suffix(s).is_file())


def _looks_pickled(path: Path) -> bool:
    with path.open("rb") as handle:
        start = handle.read(4)
    return start.startswith(_PICKLE_STARTS)


def _pickle_error(path: Path, what: str) -> InputError:
    return InputError(
        f"{path} ({what}) is a pickle (torch.save), not safetensors. REO never loads pickles, "
        "which can run code: save the weights with safetensors (save_pretrained with "
        "safe_serialization=True) where they were made, or use a safetensors copy of the model."
    )
