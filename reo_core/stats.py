"""Per-band statistics of a REO-Instruct build: what a model trained on it scales its input with.

    python -m reo_core.stats --data DIR [--split train] [--out FILE]

``python -m reo_core.build_instruct`` already writes ``statistics.json`` (its train split) into
every build, and training copies it into the model's config. This command recomputes them, for
builds made before that file existed or for another split, writes them (default:
``DIR/statistics.json``) and prints p1 / p99 per band beside AGBD's published numbers. Sentinel-2
values are offset-free L2A reflectance (the builder removed each patch's offset), PALSAR-2 values
gamma0 in dB; no data is left out; percentiles are exact. Bad input exits with status 2 and one line
saying what to do.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from reo_core.agbd.record import SPLITS
from reo_core.atomic import write_json
from reo_core.errors import InputError, exit_status
from reo_core.instruct.store import (
    MANIFEST_NAME,
    STATISTICS_NAME,
    STATISTICS_SPLIT,
    split_statistics,
)
from reo_core.sensors.statistics import DEFAULT_STATISTICS, DatasetStatistics, load_statistics

logger = logging.getLogger("reo_core.stats")


def comparison(ours: DatasetStatistics, reference: DatasetStatistics) -> str:
    """A Markdown table of p1 / p99 per Sentinel-2 band: these statistics and the reference."""
    lines = [
        f"| band | p1 / p99 ({ours.name}) | p1 / p99 ({reference.name}) |",
        "|---|---|---|",
    ]
    for band, stats in ours.s2.items():
        ref = reference.s2.get(band)
        theirs = f"{ref.p1:.4f} / {ref.p99:.4f}" if ref else "-"
        lines.append(f"| {band} | {stats.p1:.4f} / {stats.p99:.4f} | {theirs} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.stats", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="a REO-Instruct build folder")
    parser.add_argument("--split", choices=SPLITS, default=STATISTICS_SPLIT)
    parser.add_argument("--out", type=Path, help=f"JSON to write (default DATA/{STATISTICS_NAME})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if not (args.data / MANIFEST_NAME).is_file():
            raise InputError(
                f"--data {args.data} is not a REO-Instruct build (no {MANIFEST_NAME}); make one "
                "with python -m reo_core.build_instruct."
            )
        statistics = split_statistics(args.data, args.split)
        out = args.out or args.data / STATISTICS_NAME
        write_json(out, statistics.to_dict())
    except InputError as error:
        return exit_status(error, logger)
    print(comparison(statistics, load_statistics(DEFAULT_STATISTICS)))
    logger.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
