"""Command line of the scene simulator.

    python -m reo_core.synth --out DIR [--size-km 10] [--seed 0] [--per-band-files]
                             [--agbd-h5 N_PATCHES] [--cloud-fraction 0.05] [--biome temperate]
                             [--day-of-year DAY]

The same arguments always write byte-identical files. Bad arguments exit with status 2 and a
message that says what to change.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from reo_core.errors import InputError
from reo_core.synth.agbd_h5 import check_patch_count, write_agbd
from reo_core.synth.biomes import BIOMES
from reo_core.synth.geotiff import write_scene
from reo_core.synth.scene import simulate_scene

logger = logging.getLogger("reo_core.synth")


@dataclass(frozen=True)
class SynthArgs:
    """Parsed command line."""

    out: Path  # output folder (created)
    size_km: float  # scene side length
    seed: int  # everything follows from it
    per_band_files: bool  # Sentinel-2 as one file per band at native resolution
    agbd_h5: int | None  # also write AGBD-format HDF5 with this many patches
    cloud_fraction: float  # share of the scene under cloud
    biome: str  # class mix of the GeoTIFF scene
    day_of_year: int | None = None  # acquisition date of the GeoTIFF scene; None: growing season


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.synth",
        description="Simulate a Sentinel-2 L2A + PALSAR-2 scene with known AGB and land cover.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--size-km", type=float, default=10.0, help="scene side in km (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    parser.add_argument(
        "--per-band-files",
        action="store_true",
        help="write Sentinel-2 as one GeoTIFF per band at its native 10/20/60 m resolution",
    )
    parser.add_argument(
        "--agbd-h5",
        type=int,
        metavar="N_PATCHES",
        help="also write AGBD-format HDF5 files with this many patches in total",
    )
    parser.add_argument(
        "--cloud-fraction", type=float, default=0.05, help="cloud cover, 0..0.9 (default 0.05)"
    )
    parser.add_argument(
        "--biome", choices=sorted(BIOMES), default="temperate", help="landscape of the scene"
    )
    parser.add_argument(
        "--day-of-year",
        type=int,
        default=None,
        help="acquisition date of the scene, 1..365 (default: the biome's growing season); "
        "winter brings leaf-off forests and snow, dry seasons dry grass",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> SynthArgs:
    """Parse ``argv``; argparse exits with status 2 on malformed arguments."""
    ns = build_parser().parse_args(argv)
    return SynthArgs(
        ns.out,
        ns.size_km,
        ns.seed,
        ns.per_band_files,
        ns.agbd_h5,
        ns.cloud_fraction,
        ns.biome,
        ns.day_of_year,
    )


def run(args: SynthArgs) -> dict:
    """Simulate and write everything the arguments ask for; return the scene.json content."""
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out} is a file; give a folder.")
    if args.agbd_h5 is not None:
        check_patch_count(args.agbd_h5)  # before minutes of simulation, not after
    start = time.perf_counter()
    scene = simulate_scene(
        args.size_km,
        args.seed,
        biome=args.biome,
        cloud_fraction=args.cloud_fraction,
        day_of_year=args.day_of_year,
    )
    logger.info("simulated %.2f km scene in %.1f s", scene.size_km, time.perf_counter() - start)
    extra = {}
    if args.agbd_h5 is not None:
        extra["agbd"] = write_agbd(args.out / "agbd", args.agbd_h5, args.seed, args.cloud_fraction)
    manifest = write_scene(scene, args.out, per_band_files=args.per_band_files, extra=extra)
    logger.info("done in %.1f s: %s", time.perf_counter() - start, args.out)
    return manifest


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parse_args(argv)
    try:
        run(args)
    except InputError as error:
        parser.error(str(error))  # exits with status 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
