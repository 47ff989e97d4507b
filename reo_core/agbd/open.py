"""Open any AGBD file: detect its layout (raw, Lite, parquet) and stream its patches.

    for patch in open_agbd("AGBD-Lite-val.h5"):
        patch.reflectance()  # (25, 25, 12)

Layouts (notes/AGBD_FORMAT.md): ``raw`` = one HDF5 group per Sentinel-2 tile, split by AGBD's
official tile split (:func:`read_splits`), and for tiles beyond it (REO's simulated boreal tiles,
your own extracts of other places) by a sidecar ``<file stem>.tile_splits.json`` beside the file,
in the same form as AGBD's table (:func:`tile_splits`); ``lite`` = flat HDF5, split from the file
name;
``parquet`` = Hugging Face prs-eth/AGBD v1.0 rows (needs pyarrow; lossy, see
``reo_core.agbd.parquet``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path

import h5py

from reo_core.agbd.lite import lite_windows
from reo_core.agbd.parquet import parquet_windows
from reo_core.agbd.raw import DEFAULT_CHUNK, TILE_NAME, open_h5, raw_windows
from reo_core.agbd.record import SPLITS, AgbdPatch, AgbdWindow
from reo_core.errors import InputError, check_choice

LAYOUTS: tuple[str, ...] = ("raw", "lite", "parquet")
SPLITS_RESOURCE = "agbd_tile_splits.json"
TILE_SPLITS_SUFFIX = ".tile_splits.json"  # a raw file's sidecar: the split of tiles beyond AGBD


@cache
def _split_table() -> dict[str, str]:
    document = json.loads((resources.files("reo_core.resources") / SPLITS_RESOURCE).read_text())
    table: dict[str, str] = {}
    for split, tiles in document["splits"].items():
        for tile in tiles:
            table[tile] = split
    return table


def read_splits() -> dict[str, str]:
    """AGBD's official split: Sentinel-2 tile name -> ``"train"``, ``"val"`` or ``"test"``.

    From ``reo_core/resources/agbd_tile_splits.json`` (306 / 67 / 106 tiles; CC BY-NC 4.0).
    """
    return dict(_split_table())


def tile_splits_path(raw: str | Path) -> Path:
    """Where a raw file's sidecar of tile splits lies: ``<stem>.tile_splits.json`` beside it."""
    raw = Path(raw)
    return raw.with_name(raw.stem + TILE_SPLITS_SUFFIX)


def tile_splits(raw: str | Path) -> dict[str, str]:
    """The split of every tile a raw file may hold: AGBD's table, and the tiles its sidecar
    (:func:`tile_splits_path`) adds. A sidecar that moves one of AGBD's tiles to another split,
    or that is not a table of splits, is an InputError."""
    table = read_splits()
    sidecar = tile_splits_path(raw)
    if not sidecar.is_file():
        return table
    added = _split_document(sidecar)
    moved = sorted(tile for tile, split in added.items() if table.get(tile, split) != split)
    if moved:
        raise InputError(
            f"{sidecar.name} puts {', '.join(moved)} in another split than AGBD's table does; "
            "AGBD's own tiles keep their split: remove them from the sidecar."
        )
    return table | added


def _split_document(path: Path) -> dict[str, str]:
    """tile -> split from a JSON document ``{"splits": {"train": [tiles], ...}}``."""
    try:
        splits = json.loads(path.read_text(encoding="utf-8"))["splits"]
        pairs = [(tile, split) for split, tiles in splits.items() for tile in tiles]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(
            f"{path.name} is not a table of tile splits ({error}); it must be "
            '{"splits": {"train": ["35VPK", ...], "val": [...], "test": [...]}}.'
        ) from None
    table: dict[str, str] = {}
    for tile, split in pairs:
        if not isinstance(tile, str) or not TILE_NAME.match(tile):
            raise InputError(
                f"{path.name}: {tile!r} is not a Sentinel-2 tile name such as '35VPK'."
            )
        check_choice(f"the split of tile {tile} in {path.name}", split, SPLITS)
        if table.setdefault(tile, split) != split:
            raise InputError(f"{path.name} puts tile {tile} in two splits; give it one.")
    return table


def detect_layout(path: str | Path) -> str:
    """``"raw"``, ``"lite"`` or ``"parquet"``; anything else is an InputError naming the file.

    Parquet is told by its ``.parquet`` suffix; an HDF5 file with ``S2_bands`` at its root is Lite,
    one whose top-level members are all groups named like MGRS tiles ("32TNN") is raw.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return "parquet"
    with open_h5(path) as h5:
        if "S2_bands" in h5:
            return "lite"
        members = list(h5.keys())
        if members and all(isinstance(h5[m], h5py.Group) and TILE_NAME.match(m) for m in members):
            return "raw"  # raw_windows names any key a tile group lacks
        found = ", ".join(members[:8]) or "nothing"
    raise InputError(
        f"{path.name} is an HDF5 file but not AGBD: no key 'S2_bands' at its root (AGBD-Lite) "
        f"and no per-tile groups such as '32TNN' (raw AGBD); it holds {found}."
    )


def agbd_windows(
    path: str | Path,
    chunk_size: int = DEFAULT_CHUNK,
    split: str | None = None,
    layout: str | None = None,
) -> Iterator[AgbdWindow]:
    """Windows of ``chunk_size`` patches over one AGBD file of any layout, in file order.

    Args:
        split: the split of a Lite or parquet file (default: from its name); ignored for raw
            files, whose split comes from each tile (:func:`tile_splits`) and cannot be
            overridden.
        layout: one of :data:`LAYOUTS`; default: :func:`detect_layout`.
    """
    layout = layout or detect_layout(path)
    check_choice("layout", layout, LAYOUTS)
    if layout == "raw":
        if split is not None:
            raise InputError(
                f"{Path(path).name} is a raw AGBD file: its split comes from AGBD's tile split; "
                "drop the split argument."
            )
        return raw_windows(path, chunk_size, tile_splits(path))
    if layout == "lite":
        return lite_windows(path, chunk_size, split)
    return parquet_windows(path, chunk_size, split)


def open_agbd(
    path: str | Path, split: str | None = None, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[AgbdPatch]:
    """Every patch of an AGBD file (raw, Lite or parquet), streamed ``chunk_size`` at a time.

    Args:
        path: an AGBD file.
        split: for Lite and parquet files, their split if the file name does not say it.
    """
    if split is not None:
        check_choice("split", split, SPLITS)
    for window in agbd_windows(path, chunk_size, split):
        yield from window.read(images=True).patches()
