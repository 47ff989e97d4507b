"""Estimate AGB, land cover and patch counts over an extent with a REO model.

    python -m reo_core.predict --s2 PRODUCT.SAFE|FOLDER|ZIP|FILE... [--sar PATH...]
        [--band B8A=FILE[:INDEX]]... [--band-order agbd|l1c|eurosat] [--boa-offset auto|0|1000]
        [--allow-l1c] [--cloud-mask FILE --cloud-mask-kind scl|fmask|binary|probability]
        [--extent XMIN YMIN XMAX YMAX --extent-crs CRS | --aoi FILE] [--stride 25]
        --model DIR --out DIR [--overwrite] [--device auto] [--batch-size 32]
        [--carbon-fraction 0.47]

    accelerate launch [--num_processes K] -m reo_core.predict ...   # k processes, one output

Writes agb.tif, land_cover.tif, patch_count.tif (and agb_std.tif for models with the uncertainty
head) on the patch grid, quicklook.png and summary.json into ``--out``, all at once when all are
complete (summary.json last), or nothing; the summary records how the Sentinel-2 input was read
(level, BOA offset and its source, units, band mapping, cloud source) and the skipped patches by
reason. A folder in use by another run, or holding an earlier run's results without
``--overwrite``, is refused. Exit status 2 for inputs or an output folder to change (the message
says what), 1 for other failures.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reo_core.errors import InputError, ReoError, exit_status
from reo_core.infer.inputs import add_imagery_arguments
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.raster.reader import DEFAULT_BLOCK_PATCHES, DEFAULT_MAX_NODATA_FRACTION

if TYPE_CHECKING:
    from reo_core.infer.estimate import Progress

logger = logging.getLogger("reo_core.predict")

PROGRESS_STEP = 0.1  # log progress every 10 %


@dataclass(frozen=True)
class PredictArgs:
    """The parsed command line."""

    s2: tuple[Path, ...]
    sar: tuple[Path, ...]
    band: list[str]
    band_order: str | None
    boa_offset: str
    allow_l1c: bool
    cloud_mask: Path | None
    cloud_mask_kind: str
    cloud_threshold: float | None
    cloud_screening: bool
    extent: tuple[float, float, float, float] | None
    extent_crs: str | None
    aoi: Path | None
    stride: int
    model: Path
    out: Path
    device: str
    dtype: str
    batch_size: int | None  # None: chosen from the free memory
    max_new_tokens: int | None
    visual_token_pool: int | None
    threads: int | None
    carbon_fraction: float
    max_nodata_fraction: float
    block_patches: int
    quicklook: bool
    overwrite: bool


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.predict",
        description="Estimate AGB (Mg/ha), land cover and patch counts on the 250 m patch grid.",
    )
    add = parser.add_argument
    add_imagery_arguments(parser)
    add("--extent", nargs=4, type=float, metavar=("XMIN", "YMIN", "XMAX", "YMAX"))
    add("--extent-crs", help="CRS of --extent, e.g. EPSG:4326")
    add("--aoi", type=Path, help="GeoJSON polygon(s) of the area of interest")
    add(
        "--stride",
        type=int,
        default=PATCH_SIZE,
        help=f"pixels between patches (default {PATCH_SIZE})",
    )
    add("--model", type=Path, required=True, help="REO model folder")
    add("--out", type=Path, required=True, help="output folder")
    add("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:N or mps")
    add("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    add(
        "--batch-size",
        type=_batch_size,
        default=None,
        metavar="N|auto",
        help="patches per forward pass (default auto: from free GPU memory, 32 on the CPU)",
    )
    add(
        "--max-new-tokens",
        type=int,
        default=None,
        help="longest generated answer (default: the longest answer the model's template has)",
    )
    add(
        "--visual-token-pool",
        type=int,
        help="override the model's token budget (faster, changes answers)",
    )
    add("--threads", type=int, help="torch CPU threads (default: 1 for small models, else all)")
    add("--carbon-fraction", type=float, default=0.47, help="carbon per dry biomass (IPCC: 0.47)")
    add("--max-nodata-fraction", type=float, default=DEFAULT_MAX_NODATA_FRACTION)
    add("--block-patches", type=int, default=DEFAULT_BLOCK_PATCHES, help="patches per block side")
    add("--no-quicklook", dest="quicklook", action="store_false", help="skip quicklook.png")
    add(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier run in --out (once this run has finished)",
    )
    return parser


def _batch_size(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a number of patches or 'auto'"
        ) from None


def parse_args(argv: list[str] | None = None) -> PredictArgs:
    ns = build_parser().parse_args(argv)
    values = vars(ns)
    values["s2"], values["sar"] = tuple(ns.s2), tuple(ns.sar)
    values["extent"] = tuple(ns.extent) if ns.extent else None
    return PredictArgs(**values)


def run(args: PredictArgs) -> dict | None:
    """Load the model and run the estimate; the summary (None on non-main processes)."""
    from reo_core.infer.distributed import ranks_from_environment
    from reo_core.infer.engine import EngineOptions, load_engine
    from reo_core.infer.estimate import EstimateRequest, run_estimate
    from reo_core.infer.inputs import input_spec_from_args, make_extent
    from reo_core.infer.output_folder import OutputFolder

    if args.extent is not None and not args.extent_crs:
        raise InputError("--extent needs --extent-crs (e.g. --extent-crs EPSG:4326).")
    inputs = input_spec_from_args(
        args,
        make_extent(args.extent, args.extent_crs, args.aoi),
        stride=args.stride,
        max_nodata_fraction=args.max_nodata_fraction,
        block_patches=args.block_patches,
    )
    request = EstimateRequest(
        inputs, args.out, args.carbon_fraction, args.quicklook, args.overwrite
    )
    ranks = ranks_from_environment()
    if ranks.is_main:
        OutputFolder(args.out, args.overwrite).check()  # before minutes of model loading
    device = ranks.device if ranks.count > 1 and args.device == "auto" else args.device
    options = EngineOptions(
        device,
        args.dtype,
        args.batch_size,
        args.max_new_tokens,
        args.visual_token_pool,
        args.threads,
    )
    try:
        engine = load_engine(args.model, options)
        return run_estimate(engine, request, _log_progress(), ranks=ranks)
    finally:
        ranks.close()


def _log_progress() -> Progress:
    state = {"next": PROGRESS_STEP}

    def report(fraction: float, message: str) -> None:
        if fraction >= state["next"] or fraction >= 1.0:
            logger.info("%3.0f%% %s", 100 * fraction, message)
            state["next"] = (int(fraction / PROGRESS_STEP) + 1) * PROGRESS_STEP

    return report


def report_lines(out: Path, summary: dict) -> list[str]:
    """The final lines: where the rasters, the quicklook and the summary are, and the totals."""
    from reo_core.infer.products import SUMMARY_NAME  # loads torch: only after a run

    files = summary["files"]
    rasters = ", ".join(str(out / files[k]) for k in files if k != "quicklook")
    lines = [f"GeoTIFFs: {rasters}"]
    if "quicklook" in files:
        lines.append(f"Quicklook: {out / files['quicklook']}")
    lines.append(f"Summary: {out / SUMMARY_NAME}")
    agb, patches = summary["agb"], summary["patches"]
    if agb["mean"] is not None:
        reasons = ", ".join(
            f"{count} {reason.replace('_', ' ')}"
            for reason, count in patches.get("skipped_by_reason", {}).items()
            if count
        )
        lines.append(
            f"{patches['done']} patches ({patches['skipped']} skipped"
            + (f": {reasons}" if reasons else "")
            + "): mean AGB "
            f"{agb['mean']:.1f} Mg/ha, total {agb['total_mg']:.0f} Mg, carbon "
            f"{summary['carbon']['total_mg']:.0f} Mg C over {summary['valid_area_ha']:.0f} ha"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("rasterio").setLevel(logging.WARNING)  # GDAL's chatter; REO says what failed
    args = parse_args(argv)
    try:
        summary = run(args)
    except ReoError as error:
        return exit_status(error, logger)
    if summary is not None:
        for line in report_lines(args.out, summary):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
