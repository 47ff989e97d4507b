"""Build REO-Instruct from AGBD files: patch shards, dialogues, statistics, plots, manifest.

Two streaming passes over the AGBD files (never a whole file in memory):

1. *Inventory*: land cover, labels and per-patch Sentinel-2 summaries (the readers decide each
   patch's BOA offset from its values, ``reo_core.agbd.offset``, and its share of valid pixels).
   Every LC code is checked (an unknown code is an InputError naming the file, tile and code), the
   facts of every patch are computed (dominant class, share, patch count, human activity, AGB),
   and the splits are checked to be disjoint: a tile in two splits, or one GEDI footprint (lat, lon)
   in two splits, is an InputError.
2. *Shards*: after land-cover-balanced sampling (``reo_core.instruct.sampling``; train with
   replacement, val/test distinct patches), the chosen patches are read again with their images and
   stored once each (``reo_core.instruct.store``). The train split's per-band statistics go to
   ``statistics.json``: models trained on the build scale their input with them.

Splits: raw files follow AGBD's tile split (and a sidecar ``<stem>.tile_splits.json`` for tiles
beyond it, ``reo_core.agbd.open.tile_splits``), Lite and parquet files the split of their file name.
A split no file provides data for is left out with a warning; a split that files provide but that
yields no patch (empty files, every patch dropped) is an InputError naming the split and files.

Dropped patches (``reo_core.agbd.quality``), counted by reason in stats.json: labels outside
0-500 Mg/ha (the GEDI fill value -9999, other negatives, above 500), no Sentinel-2 pixel with data,
an LC map of only no data, and a footprint already given earlier in the same split. NaN labels or
coordinates, and data the files cannot decode, are InputErrors naming file, tile and patch.

Output (built in a temporary folder beside ``out`` and renamed at the end, so an error leaves
nothing behind): ``<split>/shard-NNNNN/``, ``<split>.jsonl``, ``stats.json``, ``statistics.json``,
``plots/landcover_<split>.png``, ``plots/agb_<split>.png``, ``manifest.json``. The same inputs and
seed give byte-identical files.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reo_core import __version__
from reo_core.agbd import lite, parquet
from reo_core.agbd.offset import OFFSET_SOURCES, product_offsets
from reo_core.agbd.open import agbd_windows, detect_layout
from reo_core.agbd.quality import KEEP, REASON_CODE, count_reasons, patch_reasons
from reo_core.agbd.record import SPLITS, AgbdBatch, AgbdPatch
from reo_core.atomic import replace_folder, write_json
from reo_core.errors import InputError
from reo_core.instruct.dialogues import facts_arrays, facts_at, patch_dialogues
from reo_core.instruct.sampling import DEFAULT_ALPHA, balanced_sample, check_alpha
from reo_core.instruct.store import (
    ARRAY_INFO,
    DEFAULT_SHARD_SIZE,
    MANIFEST_NAME,
    STATISTICS_NAME,
    STATISTICS_SPLIT,
    ShardWriter,
    split_statistics,
)
from reo_core.instruct.templates import TEMPLATE_VERSION
from reo_core.landcover import CLASSES, check_codes
from reo_core.sensors.sentinel2 import BOA_ADD_OFFSET_DN
from reo_core.tasks import Task

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

AGB_BIN_EDGES = tuple(range(0, 525, 25))  # Mg/ha; values above 500 count in the last bin
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BuildConfig:
    """What to build, from what; validated on creation."""

    agbd: tuple[Path, ...]  # AGBD files: raw data_subset-*.h5, AGBD-Lite-*.h5 or parquet
    out: Path  # build folder; must not exist (or be empty) unless overwrite
    seed: int = 0  # sampling and template choice
    max_per_split: int | None = None  # draws per split; None: as many as the split has patches
    alpha: float = DEFAULT_ALPHA  # land-cover balancing strength, 0 (none) .. 1 (uniform classes)
    shard_size: int = DEFAULT_SHARD_SIZE  # patches per shard folder
    chunk_size: int = 256  # patches read at a time
    overwrite: bool = False  # replace an existing build at out

    def __post_init__(self) -> None:
        object.__setattr__(self, "agbd", tuple(Path(p) for p in self.agbd))
        object.__setattr__(self, "out", Path(self.out))
        if not self.agbd:
            raise InputError("No AGBD file given; pass one or more with --agbd.")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.max_per_split is not None and self.max_per_split < 1:
            raise InputError(
                f"--max-per-split must be at least 1, got {self.max_per_split}; leave it out to "
                "use as many draws as each split has patches."
            )
        check_alpha(self.alpha)
        for name in ("shard_size", "chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def command(self) -> str:
        """The command line that rebuilds this folder, given ``--out`` (left out: the output is
        the same wherever it is built)."""
        words = ["python", "-m", "reo_core.build_instruct", "--agbd", *map(str, self.agbd)]
        words += ["--seed", str(self.seed), "--alpha", repr(self.alpha)]
        if self.max_per_split is not None:
            words += ["--max-per-split", str(self.max_per_split)]
        if self.shard_size != DEFAULT_SHARD_SIZE:
            words += ["--shard-size", str(self.shard_size)]
        return shlex.join(words)


@dataclass
class Inventory:
    """Pass 1: per-patch facts of every file, in stream order (arrays of length M)."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    declared: dict[str, list[str]] = field(default_factory=dict)  # split -> files providing it
    tiles: dict[str, str] = field(default_factory=dict)  # tile -> split
    products: dict[tuple, int] = field(default_factory=dict)  # (file, tile, region, date) -> id
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # parts concatenated


def _declared_split(path: Path, layout: str) -> str | None:
    if layout == "lite":
        return lite.split_from_name(path)
    if layout == "parquet":
        return parquet.split_from_name(path)
    return None


def _check_tile(inventory: Inventory, tile: str | None, split: str, name: str) -> None:
    previous = inventory.tiles.setdefault(tile, split) if tile is not None else split
    if previous != split:
        raise InputError(
            f"{name}: tile {tile} is in split '{split}' but an earlier file put it in "
            f"'{previous}'; AGBD's splits are tile-disjoint, so no tile may be in two splits."
        )


def _inventory_file(inventory: Inventory, file_index: int, path: Path, chunk_size: int) -> None:
    layout = detect_layout(path)
    named = _declared_split(path, layout)
    if named is not None:
        inventory.declared.setdefault(named, []).append(path.name)
    count = 0
    for window in agbd_windows(path, chunk_size, layout=layout):
        batch = window.read(images=False)
        where = f"{path.name}" + (f" (tile {batch.tile})" if batch.tile else "")
        check_codes(batch.lc, f"{where}, key 'LC', patches {window.start}-{window.stop - 1},")
        _check_tile(inventory, batch.tile, batch.split, path.name)
        if path.name not in inventory.declared.setdefault(batch.split, []):
            inventory.declared[batch.split].append(path.name)
        part = facts_arrays(batch.lc, batch.agbd)
        part.update(
            split=np.full(len(batch), SPLITS.index(batch.split), dtype=np.int8),
            file=np.full(len(batch), file_index, dtype=np.int32),
            lat=batch.lat,
            lon=batch.lon,
            boa_offset=batch.boa_offset,
            boa_source=batch.boa_offset_source,
            boa_metadata=batch.boa_offset_metadata,
            product=_product_ids(inventory, file_index, batch),
            reason=patch_reasons(batch.agbd, batch.s2_valid, part["land_cover"]),
        )
        inventory.parts.append(part)
        count += len(batch)
    inventory.sources.append(
        {"name": path.name, "path": str(path.resolve()), "layout": layout, "patches": count}
    )
    logger.info("inventory: %s (%s layout), %d patches", path.name, layout, count)


def _product_ids(inventory: Inventory, file_index: int, batch: AgbdBatch) -> np.ndarray:
    """Per patch: the id of its Sentinel-2 product (file, tile or region, acquisition date)."""
    n = len(batch)
    region = batch.region if batch.region is not None else np.full(n, -1)
    date = batch.s2_date if batch.s2_date is not None else np.full(n, -1)
    pairs, inverse = np.unique(np.stack([region, date], axis=1), axis=0, return_inverse=True)
    ids = [
        inventory.products.setdefault(
            (file_index, batch.tile, int(r), int(d)), len(inventory.products)
        )
        for r, d in pairs
    ]
    return np.asarray(ids, dtype=np.int64)[inverse.ravel()]


def _check_footprints(inventory: Inventory) -> None:
    """A GEDI footprint (lat, lon to 1e-6 degrees) in two splits is an InputError; a footprint
    repeated within one split is dropped after its first usable occurrence (reason
    ``duplicate_footprint``)."""
    arrays = inventory.arrays
    keys = np.rint(arrays["lat"] * 1e6).astype(np.int64) * 1_000_000_000 + np.rint(
        arrays["lon"] * 1e6
    ).astype(np.int64)
    seen: dict[int, np.ndarray] = {}
    for s, split in enumerate(SPLITS):
        members = np.flatnonzero(arrays["split"] == s)
        seen[s] = np.unique(keys[members])
        _drop_repeats(arrays, members, keys, split)
        for t in range(s):
            shared = np.intersect1d(seen[s], seen[t])
            if shared.size:
                i = int(np.flatnonzero(keys == shared[0])[0])
                raise InputError(
                    f"{shared.size} GEDI footprint(s) are in both split '{SPLITS[t]}' and "
                    f"'{split}' (e.g. lat {arrays['lat'][i]:.6f}, lon {arrays['lon'][i]:.6f}); "
                    "the splits must be disjoint: do not give the same AGBD data in two layouts "
                    "or rename a Lite file to another split."
                )


def _drop_repeats(
    arrays: dict[str, np.ndarray], members: np.ndarray, keys: np.ndarray, split: str
) -> None:
    """Mark every usable patch of ``members`` whose footprint an earlier usable one had."""
    usable = members[arrays["reason"][members] == KEEP]
    _, first = np.unique(keys[usable], return_index=True)
    repeats = np.setdiff1d(usable, usable[first])
    arrays["reason"][repeats] = REASON_CODE["duplicate_footprint"]
    if repeats.size:
        logger.warning(
            "%d patch(es) of split '%s' repeat a footprint given earlier in it (the same data "
            "given twice?): dropped",
            repeats.size,
            split,
        )


def take_inventory(config: BuildConfig) -> Inventory:
    """Pass 1 over every file: facts, land-cover code checks, split checks."""
    inventory = Inventory()
    for file_index, path in enumerate(config.agbd):
        _inventory_file(inventory, file_index, path, config.chunk_size)
    if inventory.parts:
        inventory.arrays = {
            key: np.concatenate([p[key] for p in inventory.parts]) for key in inventory.parts[0]
        }
        arrays = inventory.arrays
        arrays["boa_offset"], arrays["boa_source"] = product_offsets(
            arrays["product"], arrays["boa_offset"], arrays["boa_source"]
        )
    inventory.parts = []
    _check_footprints(inventory)
    return inventory


@dataclass
class SplitPlan:
    """Pass 1's outcome for one split: eligible patches, draws, the patches to store."""

    split: str
    members: np.ndarray  # (M,) global indices of every patch of the split, ascending
    eligible: np.ndarray  # (E,) global patch indices not dropped, ascending
    draws: np.ndarray  # (D,) global patch indices, ascending, repeats allowed
    stored: np.ndarray  # (S,) distinct global indices of the draws, ascending


def plan_splits(config: BuildConfig, inventory: Inventory) -> dict[str, SplitPlan]:
    """Balanced draws per split; empty splits are errors or warnings (see the module doc)."""
    arrays, plans = inventory.arrays, {}
    if not inventory.declared:
        raise InputError("The AGBD files hold no patches; check the --agbd files.")
    for s, split in enumerate(SPLITS):
        if split not in inventory.declared:
            logger.warning("no AGBD file provides the '%s' split: it is left out", split)
            continue
        members = np.flatnonzero(arrays["split"] == s) if arrays else np.zeros(0, np.int64)
        eligible = members[arrays["reason"][members] == KEEP] if arrays else members
        if eligible.size == 0:
            dropped = count_reasons(arrays["reason"][members]) if arrays else {}
            why = ", ".join(f"{n} {r}" for r, n in dropped.items() if n) or "no patches"
            raise InputError(
                f"Split '{split}' has no usable patch: {', '.join(inventory.declared[split])} "
                f"hold(s) none that can be used (dropped: {why}); give files with data for it or "
                "leave them out."
            )
        n = min(config.max_per_split or eligible.size, eligible.size)
        rng = np.random.default_rng([config.seed, s, 0])
        picks = balanced_sample(
            arrays["land_cover"][eligible], n, rng, config.alpha, replace=split == "train"
        )
        draws = eligible[picks]
        plans[split] = SplitPlan(split, members, eligible, draws, np.unique(draws))
    return plans


def _patch_meta(patch: AgbdPatch, facts: dict[str, np.ndarray], g: int) -> dict[str, Any]:
    return {
        "key": patch.key,
        "source": patch.source,
        "tile": patch.tile,
        "index": patch.index,
        "region": patch.region,
        "agb": round(patch.agbd, 3),
        "lat": round(patch.lat, 6),
        "lon": round(patch.lon, 6),
        "s2_date": patch.s2_date,
        "boa_offset": int(facts["boa_offset"][g]),
        "boa_offset_source": OFFSET_SOURCES[int(facts["boa_source"][g])],
        "s2_valid": round(patch.s2_valid, 4),
        "has_sar": patch.alos_dn is not None,
        "land_cover": int(facts["land_cover"][g]),
        "patch_count": int(facts["count"][g]),
    }


def write_shards(
    config: BuildConfig, inventory: Inventory, plans: dict[str, SplitPlan], root: Path
) -> None:
    """Pass 2: store every drawn patch once, in stream order (rank r -> shard r // shard_size)."""
    wanted = np.unique(np.concatenate([p.stored for p in plans.values()]))
    writers = {split: ShardWriter(root, split, config.shard_size) for split in plans}
    offset = 0
    for path in config.agbd:
        for window in agbd_windows(path, config.chunk_size):
            lo, hi = np.searchsorted(wanted, [offset, offset + len(window)])
            if hi > lo:
                batch = window.read(images=True)
                for g in wanted[lo:hi].tolist():
                    patch = batch.patch(g - offset)
                    meta = _patch_meta(patch, inventory.arrays, g)
                    writers[patch.split].add(patch, meta, meta["boa_offset"])
            offset += len(window)
    for split, writer in writers.items():
        writer.close()
        if writer.count != plans[split].stored.size:  # the second pass must see the first's data
            raise InputError(
                f"The AGBD files changed while building: split '{split}' had "
                f"{plans[split].stored.size} patches to store, "
                f"the second reading gave {writer.count}."
            )
        logger.info("stored %d '%s' patches in %d shards", writer.count, split, writer.shards)


def patch_reference(plan: SplitPlan, g: int, shard_size: int) -> dict[str, Any]:
    """``{"split", "shard", "index"}`` of global patch ``g`` among the split's stored patches."""
    rank = int(np.searchsorted(plan.stored, g))
    return {"split": plan.split, "shard": rank // shard_size, "index": rank % shard_size}


def write_dialogues(
    config: BuildConfig, inventory: Inventory, plan: SplitPlan, root: Path
) -> dict[str, Any]:
    """``<split>.jsonl``: one dialogue per family per draw; return counts for stats.json."""
    rng = np.random.default_rng([config.seed, SPLITS.index(plan.split), 1])
    per_task: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    with (root / f"{plan.split}.jsonl").open("w", encoding="utf-8") as out:
        for d, g in enumerate(plan.draws.tolist()):
            facts = facts_at(inventory.arrays, g)
            ref = patch_reference(plan, g, config.shard_size)
            for item in patch_dialogues(facts, ref, f"{plan.split}-{d:08d}", rng):
                out.write(json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n")
                per_task[item["task"]] += 1
                if item["task"] == Task.HUMAN_ACTIVITY.value:
                    answers[item["target"]["answer"]] += 1
    return {
        "dialogues": {t.value: per_task[t.value] for t in Task},
        "human_activity_answers": dict(answers),
    }


def _class_counts(codes: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(codes, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def _agb_histogram(agb: np.ndarray) -> list[int]:
    clipped = np.clip(agb.astype(np.float64), AGB_BIN_EDGES[0], AGB_BIN_EDGES[-1])
    return np.histogram(clipped, bins=AGB_BIN_EDGES)[0].tolist()


def offset_counts(arrays: dict[str, np.ndarray], members: np.ndarray) -> dict[str, Any]:
    """How the BOA offset of a split's patches was decided: by source and offset, and how often
    the values overruled the metadata."""
    offset, source = arrays["boa_offset"][members], arrays["boa_source"][members]
    counts: dict[str, Any] = {
        name: {
            str(value): int(np.count_nonzero((source == code) & (offset == value)))
            for value in (0, BOA_ADD_OFFSET_DN)
        }
        for code, name in enumerate(OFFSET_SOURCES)
    }
    counts["data_against_metadata"] = int(
        np.count_nonzero(offset != arrays["boa_metadata"][members])
    )
    return counts


def split_stats(inventory: Inventory, plan: SplitPlan, dialogue_counts: dict) -> dict[str, Any]:
    """Patches, drops, offsets, draws, dialogues, land-cover counts and AGB histogram of a split."""
    lc, agb = inventory.arrays["land_cover"], inventory.arrays["agb"]
    return {
        "source_patches": int(plan.members.size),
        "dropped": count_reasons(inventory.arrays["reason"][plan.members]),
        "usable_patches": int(plan.eligible.size),
        "boa_offset": offset_counts(inventory.arrays, plan.members),
        "draws": int(plan.draws.size),
        "patches": int(plan.stored.size),
        **dialogue_counts,
        "land_cover": {
            "source": _class_counts(lc[plan.eligible]),
            "sampled": _class_counts(lc[plan.draws]),
        },
        "agb_histogram": {
            "edges_mg_ha": list(AGB_BIN_EDGES),
            "source": _agb_histogram(agb[plan.eligible]),
            "sampled": _agb_histogram(agb[plan.draws]),
        },
    }


def _manifest(config: BuildConfig, inventory: Inventory, stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "reo-instruct",
        "format_version": FORMAT_VERSION,
        "reo_core": __version__,
        "template_version": TEMPLATE_VERSION,
        "seed": config.seed,
        "alpha": config.alpha,
        "max_per_split": config.max_per_split,
        "shard_size": config.shard_size,
        "sources": inventory.sources,
        "arrays": ARRAY_INFO,
        "band_order": ARRAY_INFO["s2"]["bands"],
        "sar_order": ARRAY_INFO["sar"]["bands"],
        "splits": {
            s: {"dialogues": f"{s}.jsonl", "patches": v["patches"]} for s, v in stats.items()
        },
        "statistics": STATISTICS_NAME if STATISTICS_SPLIT in stats else None,
        "command": config.command(),
    }


def _prepare_out(config: BuildConfig) -> Path:
    out = config.out
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder.")
    if out.is_dir() and any(out.iterdir()) and not config.overwrite:
        raise InputError(f"--out {out} exists and is not empty; remove it or pass --overwrite.")
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    return temporary


def build_instruct(config: BuildConfig) -> dict[str, Any]:
    """Build REO-Instruct into ``config.out``; return the stats.json content."""
    temporary = _prepare_out(config)
    try:
        inventory = take_inventory(config)
        plans = plan_splits(config, inventory)
        write_shards(config, inventory, plans, temporary)
        stats = {}
        for split, plan in plans.items():
            counts = write_dialogues(config, inventory, plan, temporary)
            stats[split] = split_stats(inventory, plan, counts)
            write_plots(split, stats[split], temporary / "plots")
        write_json(
            temporary / "stats.json", {"template_version": TEMPLATE_VERSION, "splits": stats}
        )
        if STATISTICS_SPLIT in plans:
            write_json(temporary / STATISTICS_NAME, split_statistics(temporary).to_dict())
        write_json(temporary / MANIFEST_NAME, _manifest(config, inventory, stats))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    replace_folder(temporary, config.out)
    logger.info("REO-Instruct built in %s", config.out)
    return stats


def _save(figure: Figure, path: Path) -> None:
    """PNG without a Software tag or dates, so that builds are byte-identical."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, metadata={"Software": None})


def write_plots(split: str, stats: dict[str, Any], folder: Path) -> None:
    """``landcover_<split>.png`` (class shares, source vs sampled) and ``agb_<split>.png``."""
    from matplotlib.figure import Figure  # imported here: only builds need matplotlib

    source, sampled = stats["land_cover"]["source"], stats["land_cover"]["sampled"]
    codes = sorted({*source, *sampled}, key=int)
    y = np.arange(len(codes))
    share = {
        name: np.array([counts.get(c, 0) for c in codes], float) / max(sum(counts.values()), 1)
        for name, counts in (("source", source), ("sampled", sampled))
    }
    figure = Figure(figsize=(7, 0.35 * len(codes) + 1.5))
    axes = figure.add_subplot()
    axes.barh(y - 0.2, 100 * share["source"], 0.4, color="0.7", label="AGBD (source)")
    colours = [CLASSES[int(c)].color for c in codes]
    axes.barh(y + 0.2, 100 * share["sampled"], 0.4, color=colours, edgecolor="k", label="sampled")
    axes.set_yticks(y, [CLASSES[int(c)].short_name for c in codes], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("share of patches (%)")
    axes.set_title(f"REO-Instruct {split}: dominant land cover")
    axes.legend(fontsize=8)
    figure.tight_layout()
    _save(figure, folder / f"landcover_{split}.png")

    histogram = stats["agb_histogram"]
    edges = np.array(histogram["edges_mg_ha"], float)
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    for name, colour in (("source", "0.6"), ("sampled", "tab:green")):
        axes.stairs(histogram[name], edges, color=colour, linewidth=2, label=name)
    axes.set_xlabel("AGB (Mg/ha; values above 500 in the last bin)")
    axes.set_ylabel("patches")
    axes.set_title(f"REO-Instruct {split}: GEDI AGB")
    axes.legend(fontsize=8)
    figure.tight_layout()
    _save(figure, folder / f"agb_{split}.png")
