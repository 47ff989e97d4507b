"""Files and folders that appear complete or not at all.

Every file REO writes for a user or a later run goes through here: it is written under a hidden
temporary name beside its target and renamed over it only once complete, so a full disk, an
exception or a kill never leaves a truncated file under the final name, and the previous version
stays readable until the new one is complete. Folders are staged the same way and swapped in.

JSON is always strict (RFC 8259): NaN and infinities, which JSON cannot spell, are written as
``null`` by ``json_safe``, the one place that decides it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None, recursively.

    Tuples become lists and non-string keys strings, as JSON writes them anyway.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):  # keys as JSON writes them, so sorting never compares 1 with "a"
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def json_text(document: Any, indent: int | None = 2, sort_keys: bool = True) -> str:
    """Strict JSON text of ``document`` (NaN and inf as null), UTF-8 characters kept as they are.

    ``indent=None`` gives one line (the worker's protocol); sorted keys make files reproducible.
    """
    return json.dumps(
        json_safe(document), indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False
    )


def hidden_sibling(path: Path, purpose: str) -> Path:
    """A unique hidden name beside ``path`` (same folder, so a rename never crosses file
    systems)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.{purpose}")


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content into; renamed onto ``path`` on success.

    For writers that want a file name (matplotlib, GDAL). On an exception the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    temporary = hidden_sibling(path, "partial")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    path = Path(path)
    with replacing(path) as temporary, open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(
    path: str | Path, document: Any, indent: int | None = 2, sort_keys: bool = True
) -> Path:
    """Write ``document`` as strict JSON (NaN and inf as null) with a final newline, atomically."""
    return write_text(path, json_text(document, indent, sort_keys) + "\n")


def replace_folder(staging: Path, folder: Path) -> None:
    """Move the complete folder ``staging`` to ``folder``, replacing any folder there.

    The old folder stays in place until ``staging`` is complete and renamed; if that rename fails
    the old folder is put back. The old one is deleted only after the new one is in place.
    """
    staging, folder = Path(staging), Path(folder)
    if not folder.exists():
        os.replace(staging, folder)
        return
    retired = hidden_sibling(folder, "retired")
    os.replace(folder, retired)
    try:
        os.replace(staging, folder)
    except BaseException:
        os.replace(retired, folder)
        raise
    shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Yield a new empty folder to fill; it replaces ``folder`` when the block ends without error.

    On an exception the staging folder is deleted and ``folder`` is untouched.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = hidden_sibling(folder, "staging")
    staging.mkdir()
    try:
        yield staging
        replace_folder(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
