"""Streaming reader of AGBD-Lite: flat HDF5 files, one per split, no tile groups.

Layout (notes/AGBD_FORMAT.md, section B; ``AGBD-Lite-{train,val,test}.h5``): the datasets of a raw
tile group (``S2_bands``, ``ALOS_bands``, ``DEM``, ``LC``, ``GEDI/*``, ``Sentinel_metadata/*``) at
the file root, plus ``region`` (N,) uint8, AGBD's alphabetical region index. Lite keeps no tile
names, so its patches carry ``tile=None`` and their split comes from the file name or the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from reo_core.agbd.raw import DEFAULT_CHUNK, check_group, group_windows, open_h5
from reo_core.agbd.record import SPLITS, AgbdWindow
from reo_core.errors import InputError, check_choice

LITE_NAME = re.compile(r"AGBD-Lite-(train|val|test)\b", re.IGNORECASE)


def split_from_name(path: str | Path) -> str | None:
    """``"train"``, ``"val"`` or ``"test"`` from a name like ``AGBD-Lite-val.h5``; None
    otherwise."""
    match = LITE_NAME.search(Path(path).name)
    return match.group(1).lower() if match else None


def lite_split(path: Path, split: str | None) -> str:
    """The split of a Lite file: ``split`` if given, else from its name; they must agree."""
    if split is not None:
        check_choice("split", split, SPLITS)
    named = split_from_name(path)
    if split is not None and named is not None and split != named:
        raise InputError(
            f"{path.name} is named for the '{named}' split but was given split '{split}'; "
            "rename the file or drop the split argument."
        )
    if split is None and named is None:
        raise InputError(
            f"Cannot tell the split of {path.name}; name it AGBD-Lite-{{train,val,test}}.h5 "
            "or give the split."
        )
    return split or named  # type: ignore[return-value]


def lite_windows(
    path: str | Path, chunk_size: int = DEFAULT_CHUNK, split: str | None = None
) -> Iterator[AgbdWindow]:
    """Windows of ``chunk_size`` patches over an AGBD-Lite file, in file order.

    Args:
        path: an ``AGBD-Lite-{train,val,test}.h5`` file (or any flat AGBD file, with ``split``).
        chunk_size: patches per window.
        split: the file's split; default: from the file name.
    """
    path = Path(path)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    with open_h5(path) as h5:
        file_split = lite_split(path, split)
        n = check_group(h5, path.name)
        yield from group_windows(
            h5, n, chunk_size, source=path.name, tile=None, split=file_split, where=path.name
        )
