"""Command line of the REO-Instruct builder.

    python -m reo_core.build_instruct --agbd FILE [FILE ...] --out DIR [--seed S]
                                      [--max-per-split N] [--alpha A] [--shard-size N] [--overwrite]

FILE: AGBD patch files, any mix of raw ``data_subset-*.h5`` (split by AGBD's tile split, and for
tiles beyond it by the sidecar ``<stem>.tile_splits.json`` beside the file),
``AGBD-Lite-{train,val,test}.h5`` and prs-eth/AGBD parquet (split from the file name; needs
pyarrow). DIR receives ``<split>/shard-NNNNN/{s2,sar,lc}.npy + meta.json``, ``<split>.jsonl``
dialogues, ``stats.json``, ``plots/`` and ``manifest.json`` (see ``reo_core.instruct.build``). The
same files and seed always give byte-identical output. Bad arguments and bad inputs (a file that is
not AGBD, truncated or damaged, NaN labels or coordinates, a split with no usable patch) exit with
status 2 and one line that names the file, tile and patch and says what to change; nothing is left
behind. Patches that cannot teach (labels outside 0-500 Mg/ha, no Sentinel-2 data, a repeated
footprint) are dropped and counted by reason in stats.json.

Splits: a split no file provides (e.g. only AGBD-Lite-train.h5 given) is left out with a warning;
a split whose files hold no usable patch is an error. Lite and parquet files must keep the split in
their name (AGBD-Lite-val.h5, validation-00000-of-00010.parquet).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from reo_core.errors import InputError, exit_status
from reo_core.instruct.build import BuildConfig, build_instruct
from reo_core.instruct.sampling import DEFAULT_ALPHA
from reo_core.instruct.store import DEFAULT_SHARD_SIZE

logger = logging.getLogger("reo_core.build_instruct")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.build_instruct",
        description="Build REO-Instruct dialogues and patch shards from AGBD files.",
    )
    parser.add_argument("--agbd", type=Path, nargs="+", required=True, help="AGBD files")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    parser.add_argument(
        "--max-per-split",
        type=int,
        default=None,
        help="draws per split, >= 1 (default: as many as the split has patches)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help="land-cover balancing: weight 1/count(class)**alpha, 0 (none) .. 1 (default 0.5)",
    )
    parser.add_argument(
        "--shard-size",
        type=int,
        default=DEFAULT_SHARD_SIZE,
        help=f"patches per shard folder (default {DEFAULT_SHARD_SIZE})",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return parser


def parse_args(argv: list[str] | None = None) -> BuildConfig:
    """Parse ``argv`` into a validated BuildConfig; argparse exits with status 2 on bad values."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return BuildConfig(
            agbd=tuple(ns.agbd),
            out=ns.out,
            seed=ns.seed,
            max_per_split=ns.max_per_split,
            alpha=ns.alpha,
            shard_size=ns.shard_size,
            overwrite=ns.overwrite,
        )
    except ValueError as error:  # InputError is a ValueError
        parser.error(str(error))
        raise  # unreachable: parser.error exits


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    start = time.perf_counter()
    try:
        stats = build_instruct(config)
    except InputError as error:
        return exit_status(error, logger)
    for split, values in stats.items():
        dropped = ", ".join(f"{n} {why}" for why, n in values["dropped"].items() if n) or "none"
        logger.info(
            "%s: %d patches, %d draws, %d dialogues; dropped: %s",
            split,
            values["patches"],
            values["draws"],
            sum(values["dialogues"].values()),
            dropped,
        )
    logger.info("built %s in %.1f s", config.out, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
