"""Estimate AGB over an extent: stream blocks through the engine into GeoTIFFs, a summary and a quicklook.

One process reads, predicts and writes block by block. Under ``accelerate launch`` each of k
processes predicts every k-th block into its own partial rasters; the main process then copies the
blocks in row-major order into the final files and computes the summary while doing so, exactly as
one process does, so the outputs are the same whatever the number of processes. Final files appear
only complete (``.partial`` names until renamed); ``summary.json`` is written last.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import rasterio

import reo_core
from reo_core.errors import ExtentError, InputError, ReoError
from reo_core.infer.batching import IsCanceled, check_canceled
from reo_core.infer.distributed import Ranks
from reo_core.infer.engine import InferenceEngine
from reo_core.infer.inputs import InputSpec, open_reader
from reo_core.infer.products import (
    IPCC_CARBON_FRACTION,
    PRODUCTS,
    QUICKLOOK_NAME,
    SUMMARY_NAME,
    ProductWriters,
    SummaryAccumulator,
    product_keys,
    product_paths,
    read_block_result,
    write_json_atomic,
)
from reo_core.infer.prompt import ESTIMATE_QUESTION
from reo_core.infer.quicklook import write_quicklook
from reo_core.raster import PatchReader
from reo_core.raster.grid import REFERENCE_RESOLUTION_M

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
PARTS_FOLDER = ".reo-parts"  # per-process partial results of a multi-process run


@dataclass(frozen=True)
class EstimateRequest:
    """An estimate: inputs, output folder and the carbon fraction of the summary."""

    inputs: InputSpec
    out: Path
    carbon_fraction: float = IPCC_CARBON_FRACTION
    quicklook: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if not 0.0 < self.carbon_fraction <= 1.0:
            raise InputError(
                f"The carbon fraction must be in (0, 1], got {self.carbon_fraction} "
                f"(IPCC's default is {IPCC_CARBON_FRACTION})."
            )


class _Tracker:
    """Turns per-batch counts into progress(fraction, message) over all patches of the run."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.base, self.predicted = progress, max(total, 1), 0, 0

    def on_batch(self, block_patches: int) -> Callable[[int, int], None]:
        def report(done: int, kept: int) -> None:
            if self.progress is not None:
                fraction = (self.base + block_patches * done / max(kept, 1)) / self.total
                self.progress(min(fraction, 1.0), f"{self.predicted + done} patches predicted")

        return report

    def block_done(self, block_patches: int, kept: int) -> None:
        self.base += block_patches
        self.predicted += kept
        if self.progress is not None and kept == 0:  # batches reported the others
            self.progress(min(self.base / self.total, 1.0), f"{self.predicted} patches predicted")


def run_estimate(
    engine: InferenceEngine,
    request: EstimateRequest,
    progress: Progress | None = None,
    is_canceled: IsCanceled | None = None,
    ranks: Ranks | None = None,
) -> dict | None:
    """Run an estimate; the summary (also written as summary.json), or None on non-main processes."""
    ranks = ranks or Ranks()
    started = time.perf_counter()
    name = f"The model {engine.name}"
    reader = open_reader(engine.config, request.inputs, name)  # checks the inputs first
    out = _output_folder(request.out)
    keys = product_keys(engine.has_uncertainty)
    writers = ProductWriters(out, reader.patch_grid.grid, keys, _tags(engine))
    if ranks.count == 1:
        summary = _one_process(engine, reader, writers, progress, is_canceled)
    else:
        summary = _several_processes(engine, reader, writers, progress, ranks)
        if summary is None:
            return None
    return _finish(engine, request, reader, summary, started, ranks, progress)


def _one_process(engine, reader: PatchReader, writers, progress, is_canceled) -> SummaryAccumulator:
    tracker = _Tracker(progress, reader.n_patches)
    summary = SummaryAccumulator(_cell_area_ha(reader), reader.n_patches)
    # engine.read_ahead: the next block is read and composited while the device answers this one
    with writers, closing(engine.read_ahead(reader.blocks())) as blocks:
        for block in blocks:
            check_canceled(is_canceled)
            block_patches = block.keep.size
            result = engine.predict_block(block, is_canceled, tracker.on_batch(block_patches))
            writers.write(result)
            summary.add(result)
            tracker.block_done(block_patches, int(block.keep.sum()))
        check_canceled(is_canceled)
    return summary


def _several_processes(
    engine, reader, writers, progress, ranks: Ranks
) -> SummaryAccumulator | None:
    """Each process predicts its blocks into partial rasters; the main process assembles them."""
    layout = reader.block_layout()
    mine = [i for i in range(len(layout)) if ranks.owns(i)]
    parts = writers.paths["agb"].parent / PARTS_FOLDER
    part_writers = ProductWriters(parts / f"rank-{ranks.index}", writers.grid, writers.keys)
    tracker = _Tracker(
        progress if ranks.is_main else None, sum(layout[i][2] * layout[i][3] for i in mine)
    )
    failure = None
    try:
        with part_writers, closing(engine.read_ahead(reader.blocks(mine))) as blocks:
            for block in blocks:
                result = engine.predict_block(block, None, tracker.on_batch(block.keep.size))
                part_writers.write(result)
                tracker.block_done(block.keep.size, int(block.keep.sum()))
    except Exception as error:  # reported to every process below, then raised here
        failure = error
    failures = [f for f in ranks.gather(None if failure is None else str(failure)) if f]
    try:
        if failure is not None:
            raise failure
        if failures:
            raise ReoError(f"Another process failed: {failures[0]}")
        if not ranks.is_main:
            return None
        return _assemble(reader, writers, parts, ranks.count)
    finally:
        if ranks.is_main:
            shutil.rmtree(parts, ignore_errors=True)


def _assemble(
    reader: PatchReader, writers: ProductWriters, parts: Path, count: int
) -> SummaryAccumulator:
    summary = SummaryAccumulator(_cell_area_ha(reader), reader.n_patches)
    with ExitStack() as stack, writers:
        datasets = [
            {key: stack.enter_context(rasterio.open(path)) for key, path in
             product_paths(parts / f"rank-{rank}", writers.keys).items()}
            for rank in range(count)
        ]  # fmt: skip
        for index, (row, col, n_rows, n_cols) in enumerate(reader.block_layout()):
            result = read_block_result(datasets[index % count], row, col, n_rows, n_cols)
            writers.write(result)
            summary.add(result)
        if summary.done == 0:
            raise ExtentError(
                "No patch in the extent has enough valid pixels: it is all no-data (or clouds) in "
                "the input. Choose an extent over valid imagery, or allow more no-data per patch "
                f"(max_nodata_fraction is {reader.max_nodata_fraction})."
            )
    return summary


def _finish(engine, request, reader, accumulator, started, ranks, progress) -> dict:
    out = request.out
    paths = product_paths(out, product_keys(engine.has_uncertainty))
    totals = accumulator.summary(request.carbon_fraction)
    grid = reader.patch_grid.grid
    if request.quicklook:
        if progress is not None:
            progress(1.0, "drawing the quicklook")
        title = (f"{engine.name}: {totals['patches']['done']} patches, mean AGB "
                 f"{totals['agb']['mean'] or 0:.1f} Mg/ha ({grid.crs.to_string()})")  # fmt: skip
        write_quicklook(out / QUICKLOOK_NAME, paths["agb"], paths["land_cover"], title)
    seconds = time.perf_counter() - started
    summary = {
        "software": {"reo_core": reo_core.__version__},
        "model": _model_info(engine),
        "question": ESTIMATE_QUESTION,
        "inputs": _input_info(request.inputs),
        "grid": {
            "crs": grid.crs.to_string(),
            "transform": list(grid.transform)[:6],
            "width": grid.width,
            "height": grid.height,
            "stride": reader.patch_grid.stride,
        },
        **totals,
        "files": {key: path.name for key, path in paths.items()}
        | ({"quicklook": QUICKLOOK_NAME} if request.quicklook else {}),
        "run": {
            "processes": ranks.count,
            "device": str(engine.device),
            "dtype": str(engine.dtype).replace("torch.", ""),
            "batch_size": engine.sizer.size,
            "seconds": round(seconds, 3),
            "patches_per_s": round(accumulator.done / seconds, 2) if seconds > 0 else None,
        },
    }
    write_json_atomic(out / SUMMARY_NAME, summary)
    logger.info("estimate done: %d patches in %.1f s", accumulator.done, seconds)
    return summary


def _output_folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError(f"The output {out} is a file; give a folder for the results.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"Cannot create the output folder {out}: {error.strerror}.") from None
    return out


def _cell_area_ha(reader: PatchReader) -> float:
    side_m = reader.patch_grid.stride * REFERENCE_RESOLUTION_M
    return side_m * side_m / 10_000.0


def _tags(engine: InferenceEngine) -> dict[str, str]:
    return {
        "REO_VERSION": reo_core.__version__,
        "REO_MODEL": engine.name,
        "REO_QUESTION": ESTIMATE_QUESTION,
    }


def _model_info(engine: InferenceEngine) -> dict:
    config = engine.config
    return {
        "folder": str(engine.folder) if engine.folder else None,
        "modality": config.modality,
        "bands": list(config.bands),
        "visual_token_pool": config.visual_token_pool,
        "uncertainty": config.uncertainty,
        "max_new_tokens": engine.max_new_tokens,
    }


def _input_info(spec: InputSpec) -> dict:
    extent = spec.extent
    return {
        "s2": [str(p) for p in spec.s2],
        "sar": [str(p) for p in spec.sar],
        "extent": None
        if extent is None
        else {"bounds": list(extent.bounds), "crs": extent.crs.to_string(), "box": extent.is_box},
        "stride": spec.stride,
        "max_nodata_fraction": spec.max_nodata_fraction,
    }


__all__ = ["PRODUCTS", "EstimateRequest", "Progress", "run_estimate"]
