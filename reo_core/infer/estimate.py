"""Estimate AGB over an extent: stream blocks through the engine into GeoTIFFs, a summary and a
quicklook.

One process reads, predicts and writes block by block. Under ``accelerate launch`` each of k
processes predicts every k-th block into its own partial rasters; the main process then copies the
blocks in row-major order into the final files and computes the summary while doing so, exactly as
one process does, so the outputs are the same whatever the number of processes. Everything is
written into the run's private staging folder and published only when all of it is complete
(``output_folder``): a run's products appear together, summary.json last, or not at all.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

import reo_core
from reo_core.atomic import write_json
from reo_core.errors import InputError, OutputError, ReoError
from reo_core.infer.batching import IsCanceled, check_canceled
from reo_core.infer.distributed import Ranks
from reo_core.infer.engine import InferenceEngine
from reo_core.infer.inputs import InputSpec, open_reader
from reo_core.infer.output_folder import OutputFolder
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
)
from reo_core.infer.prompt import ESTIMATE_QUESTION
from reo_core.infer.quicklook import write_quicklook
from reo_core.patch_lattice import REFERENCE_RESOLUTION_M
from reo_core.raster import PatchReader
from reo_core.raster.reader import PatchBlock
from reo_core.raster.skips import SkipCounts
from reo_core.raster.writer import write_error

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
    overwrite: bool = False  # replace an earlier run's products in ``out`` (when this one is done)

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if not 0.0 < self.carbon_fraction <= 1.0:
            raise InputError(
                f"The carbon fraction must be in (0, 1], got {self.carbon_fraction} "
                f"(IPCC's default is {IPCC_CARBON_FRACTION})."
            )


@dataclass(frozen=True)
class _Run:
    """One estimate under way: what it runs, reads and writes, and whom it reports to."""

    engine: InferenceEngine
    request: EstimateRequest
    reader: PatchReader
    writers: ProductWriters
    progress: Progress | None
    is_canceled: IsCanceled | None
    ranks: Ranks
    started: float  # time.perf_counter() at the start


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
    """Run an estimate; the summary (also written as summary.json), or None on non-main processes.

    Raises:
        InputError for inputs to change (also a file that fails to read mid-run), OutputError for
        an output folder that cannot take the results (busy, holding earlier results without
        ``overwrite``, not writable, full); then nothing was published.
    """
    ranks = ranks or Ranks()
    started = time.perf_counter()
    name = f"The model {engine.name}"
    try:
        reader = open_reader(engine.config, request.inputs, name)  # checks the inputs first
    except (RasterioError, CPLE_BaseError) as error:  # e.g. a corrupt tile its checks sample
        raise _read_error(error) from None
    keys = product_keys(engine.has_uncertainty)
    folder = OutputFolder(request.out, request.overwrite) if ranks.is_main else None
    with _staging(folder, ranks) as staging:
        writers = ProductWriters(staging, reader.patch_grid.grid, keys, _tags(engine))
        run = _Run(engine, request, reader, writers, progress, is_canceled, ranks, started)
        if ranks.count == 1:
            accumulator = _one_process(run)
            skips = reader.skips
        else:
            accumulator, skips = _several_processes(run)
            if accumulator is None:
                return None
        summary = _finish(run, accumulator, skips, staging)
        folder.publish([*summary["files"].values(), SUMMARY_NAME])
    logger.info("results in %s", request.out)
    return summary


@contextmanager
def _staging(folder: OutputFolder | None, ranks: Ranks) -> Iterator[Path]:
    """The main process's staging folder, for every process; all raise if ``out`` is refused."""
    opened: tuple[str, str | None] = ("", None)  # (staging folder, or the refusal's message)
    if folder is not None:
        try:
            opened = (str(folder.open()), None)
        except OutputError as error:
            if ranks.count == 1:
                raise
            opened = ("", str(error))
    staging, refusal = ranks.gather(opened if folder is not None else None)[0]
    if refusal is not None:
        raise OutputError(refusal)
    try:
        yield Path(staging)
    finally:
        if folder is not None:
            folder.close()


def _read(reader: PatchReader, indices: Sequence[int] | None = None) -> Iterator[PatchBlock]:
    """The reader's blocks; a file that fails to read mid-run is an InputError naming it."""
    blocks = reader.blocks(indices)
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            return
        except (RasterioError, CPLE_BaseError) as error:
            raise _read_error(error) from None
        yield block


def _read_error(error: Exception) -> InputError:
    """The message for imagery GDAL fails to read (a corrupt or truncated file), naming the file."""
    cause = error.__cause__ or error  # rasterio's own is "Read failed. See previous exception"
    reason = (str(cause) or type(cause).__name__).splitlines()[0]
    return InputError(
        f"Reading the imagery failed ({reason}); the file may be truncated or corrupt: check it "
        "with gdalinfo -checksum, or download it again. Nothing was written."
    )


def _one_process(run: _Run) -> SummaryAccumulator:
    engine, reader, writers, is_canceled = run.engine, run.reader, run.writers, run.is_canceled
    tracker = _Tracker(run.progress, reader.n_patches)
    summary = SummaryAccumulator(_cell_area_ha(reader), reader.n_patches)
    # engine.read_ahead: the next block is read and composited while the device answers this one
    with writers, closing(engine.read_ahead(_read(reader))) as blocks:
        for block in blocks:
            check_canceled(is_canceled)
            block_patches = block.keep.size
            result = engine.predict_block(block, is_canceled, tracker.on_batch(block_patches))
            writers.write(result)
            summary.add(result)
            tracker.block_done(block_patches, int(block.keep.sum()))
        check_canceled(is_canceled)
    return summary


def _several_processes(run: _Run) -> tuple[SummaryAccumulator | None, SkipCounts]:
    """Each process predicts its blocks into partial rasters; the main process assembles them."""
    engine, reader, writers, ranks = run.engine, run.reader, run.writers, run.ranks
    layout = reader.block_layout()
    mine = [i for i in range(len(layout)) if ranks.owns(i)]
    parts = writers.paths["agb"].parent / PARTS_FOLDER
    part_writers = ProductWriters(parts / f"rank-{ranks.index}", writers.grid, writers.keys)
    tracker = _Tracker(
        run.progress if ranks.is_main else None,
        sum(layout[i].n_rows * layout[i].n_cols for i in mine),
    )
    failure = None
    try:
        with part_writers, closing(engine.read_ahead(_read(reader, mine))) as blocks:
            for block in blocks:
                result = engine.predict_block(block, None, tracker.on_batch(block.keep.size))
                part_writers.write(result)
                tracker.block_done(block.keep.size, int(block.keep.sum()))
    except Exception as error:  # reported to every process below, then raised here
        failure = error
    failures = [f for f in ranks.gather(None if failure is None else str(failure)) if f]
    skips = SkipCounts()
    for counts in ranks.gather(reader.skips.to_dict()):  # every process skipped some patches
        skips.merge(counts)
    try:
        if failure is not None:
            raise failure
        if failures:
            raise ReoError(f"Another process failed: {failures[0]}")
        if not ranks.is_main:
            return None, skips
        return _assemble(reader, writers, parts, ranks.count, skips), skips
    finally:
        if ranks.is_main:
            shutil.rmtree(parts, ignore_errors=True)


def _assemble(
    reader: PatchReader, writers: ProductWriters, parts: Path, count: int, skips: SkipCounts
) -> SummaryAccumulator:
    summary = SummaryAccumulator(_cell_area_ha(reader), reader.n_patches)
    with ExitStack() as stack, writers:
        datasets = [
            {
                key: stack.enter_context(rasterio.open(path))
                for key, path in product_paths(parts / f"rank-{rank}", writers.keys).items()
            }
            for rank in range(count)
        ]
        for index, (row, col, n_rows, n_cols) in enumerate(reader.block_layout()):
            result = read_block_result(datasets[index % count], row, col, n_rows, n_cols)
            writers.write(result)
            summary.add(result)
        if summary.done == 0:
            raise reader.no_usable_patch(skips.counts)
    return summary


def _finish(run: _Run, accumulator: SummaryAccumulator, skips: SkipCounts, out: Path) -> dict:
    """Draw the quicklook and write summary.json into ``out`` (the staging folder); the summary."""
    engine, request, reader, progress = run.engine, run.request, run.reader, run.progress
    paths = product_paths(out, product_keys(engine.has_uncertainty))
    totals = accumulator.summary(request.carbon_fraction)
    totals["patches"]["skipped_by_reason"] = skips.to_dict()
    grid = reader.patch_grid.grid
    if request.quicklook:
        if progress is not None:
            progress(1.0, "drawing the quicklook")
        title = (
            f"{engine.name}: {totals['patches']['done']} patches, mean AGB "
            f"{totals['agb']['mean'] or 0:.1f} Mg/ha ({grid.crs.to_string()})"
        )
        try:
            write_quicklook(out / QUICKLOOK_NAME, paths["agb"], paths["land_cover"], title)
        except OSError as error:
            raise write_error(out / QUICKLOOK_NAME, error) from None
    seconds = time.perf_counter() - run.started
    summary = {
        "software": {"reo_core": reo_core.__version__},
        "model": _model_info(engine),
        "question": ESTIMATE_QUESTION,
        "inputs": _input_info(request.inputs) | {"sentinel2": reader.s2.decision.to_dict()},
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
            "processes": run.ranks.count,
            "device": str(engine.device),
            "dtype": str(engine.dtype).replace("torch.", ""),
            "batch_size": engine.sizer.size,
            "seconds": round(seconds, 3),
            "patches_per_s": round(accumulator.done / seconds, 2) if seconds > 0 else None,
        },
    }
    try:
        write_json(out / SUMMARY_NAME, summary, sort_keys=False)
    except OSError as error:
        raise write_error(out / SUMMARY_NAME, error) from None
    logger.info("estimate done: %d patches in %.1f s", accumulator.done, seconds)
    return summary


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
    """The request's inputs as given; with ``sentinel2`` (the decision) a run can be redone."""
    extent = spec.extent
    return {
        "s2": [str(p) for p in spec.s2],
        "band_mapping": {b: [str(p), i] for b, (p, i) in spec.band_mapping.items()},
        "band_order": spec.band_order,
        "boa_offset": "auto" if spec.boa_offset is None else spec.boa_offset,
        "allow_l1c": spec.allow_l1c,
        "cloud_mask": None if spec.clouds.mask is None else str(spec.clouds.mask),
        "cloud_mask_kind": spec.clouds.kind,
        "cloud_threshold": spec.clouds.threshold,
        "cloud_screening": spec.clouds.screening,
        "sar": [str(p) for p in spec.sar],
        "extent": None
        if extent is None
        else {"bounds": list(extent.bounds), "crs": extent.crs.to_string(), "box": extent.is_box},
        "stride": spec.stride,
        "max_nodata_fraction": spec.max_nodata_fraction,
    }


__all__ = ["PRODUCTS", "EstimateRequest", "Progress", "run_estimate"]
