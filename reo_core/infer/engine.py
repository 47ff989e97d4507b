"""The inference engine: patches -> REO-VLM on a device -> AGB, its spread, land cover and patch count.

Every patch gets one generation from the fixed AGB question (``prompt.ESTIMATE_QUESTION``), with the
KV cache. The generated domain text gives the land-cover class (``parse_land_cover``) and the patch
count (``parse_count``); the regression head reads the same text's hidden states for AGB, and the
uncertainty head, when the checkpoint has one, for its standard deviation. Batches halve themselves
on GPU out-of-memory; ``is_canceled()`` is checked before every batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reo_core.answers import parse_count, parse_land_cover
from reo_core.errors import InputError
from reo_core.infer.batching import BatchSizer, IsCanceled, check_canceled, map_batches
from reo_core.infer.device import choose_device, choose_dtype
from reo_core.infer.prompt import ESTIMATE_QUESTION, prompt_messages
from reo_core.model.checkpoint import LoadedModel, load_checkpoint
from reo_core.model.config import CONFIG_NAME, ReoConfig
from reo_core.model.processor import ReoProcessor
from reo_core.model.reo_vlm import GenerationOutput
from reo_core.raster.reader import PatchBlock

logger = logging.getLogger(__name__)

UNKNOWN_CLASS = 0  # CGLS-LC100 "Unknown": the answer named no class
COUNT_NODATA = 255  # no count in the answer (uint8 rasters)
MAX_COUNT = 254
DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_NEW_TOKENS = 32
# Below this many parameters a CPU model runs on one thread by default: its matrix products are too
# small for threads to pay off, and threads spin-waiting for cores that another process (QGIS, a
# training run) holds make it 5-30x slower (bench/predict.py).
SMALL_MODEL_PARAMETERS = 50_000_000


@dataclass(frozen=True)
class EngineOptions:
    """How to run a model: device, precision, batch size, answer length, token budget."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto (bf16/fp16 on GPU, fp32 on CPU) | float32 | bfloat16 | float16
    batch_size: int = DEFAULT_BATCH_SIZE  # patches per forward; halves itself on GPU OOM
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # longest generated answer
    visual_token_pool: int | None = None  # override the checkpoint's token budget (speed/accuracy)
    threads: int | None = (
        None  # torch CPU threads; None = 1 for small CPU models, else torch's default
    )

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InputError(f"The batch size must be at least 1, got {self.batch_size}.")
        if self.max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}.")
        if self.visual_token_pool is not None and self.visual_token_pool < 1:
            raise InputError(f"visual_token_pool must be >= 1, got {self.visual_token_pool}.")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads must be >= 1, got {self.threads}.")


@dataclass
class PatchPredictions:
    """Answers for N patches."""

    agb: np.ndarray  # (N,) float32 Mg/ha
    agb_std: np.ndarray | None  # (N,) float32 Mg/ha, with the uncertainty head
    land_cover: np.ndarray  # (N,) uint8 CGLS-LC100 code, UNKNOWN_CLASS when the text names none
    patch_count: np.ndarray  # (N,) uint8, COUNT_NODATA when the text states no count
    texts: list[str]

    @classmethod
    def concat(cls, parts: list[PatchPredictions], has_std: bool) -> PatchPredictions:
        if not parts:
            empty = np.zeros(0, dtype=np.float32)
            return cls(empty, empty if has_std else None, empty.astype(np.uint8),
                       empty.astype(np.uint8), [])  # fmt: skip
        return cls(
            agb=np.concatenate([p.agb for p in parts]),
            agb_std=np.concatenate([p.agb_std for p in parts]) if has_std else None,
            land_cover=np.concatenate([p.land_cover for p in parts]),
            patch_count=np.concatenate([p.patch_count for p in parts]),
            texts=[t for p in parts for t in p.texts],
        )


@dataclass
class BlockResult:
    """Answers of one block of the patch grid; skipped patches hold NaN / no-data."""

    row: int
    col: int
    keep: np.ndarray  # (R, C) bool: patches that were predicted
    agb: np.ndarray  # (R, C) float32 Mg/ha, NaN where skipped
    agb_std: np.ndarray | None  # (R, C) float32 Mg/ha, NaN where skipped
    land_cover: np.ndarray  # (R, C) uint8, 255 where skipped
    patch_count: np.ndarray  # (R, C) uint8, 255 where skipped or no count


class InferenceEngine:
    """A loaded model on its device, answering batches of patches.

    Args:
        loaded: model and processor (``load_checkpoint``), already on ``device`` in ``dtype``.
        batch_size: patches per forward pass (halves itself on out-of-memory).
        max_new_tokens: longest generated answer.
        question: the question asked of every patch by :meth:`predict_patches`.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        device: torch.device,
        dtype: torch.dtype,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        question: str = ESTIMATE_QUESTION,
        folder: Path | None = None,
    ) -> None:
        self.loaded = loaded
        self.device, self.dtype = device, dtype
        self.sizer = BatchSizer(batch_size)
        self.max_new_tokens = max_new_tokens
        self.folder = folder
        self.question = question
        self._prompt = loaded.processor.encode_dialogue(prompt_messages(question), generation=True)

    @property
    def model(self):
        return self.loaded.model

    @property
    def processor(self) -> ReoProcessor:
        return self.loaded.processor

    @property
    def config(self) -> ReoConfig:
        return self.loaded.model.config

    @property
    def name(self) -> str:
        """A short name for messages: the folder and its parent ('demo-model/model')."""
        if self.folder is None:
            return "REO model"
        return "/".join(self.folder.resolve().parts[-2:])

    @property
    def has_uncertainty(self) -> bool:
        return self.config.uncertainty == "gaussian"

    def set_token_pool(self, pool: int) -> None:
        """Use another visual token budget from now on (see :func:`with_token_pool`)."""
        self.loaded = with_token_pool(self.loaded, pool)
        self._prompt = self.processor.encode_dialogue(
            prompt_messages(self.question), generation=True
        )

    # --- patches ---------------------------------------------------------------------------------
    def predict_patches(
        self,
        s2: np.ndarray,
        sar: np.ndarray | None = None,
        is_canceled: IsCanceled | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> PatchPredictions:
        """Answer the AGB question for N patches.

        Args:
            s2: reflectance (N, bands, 25, 25) in ``config.bands`` order, NaN = no data.
            sar: PALSAR-2 dB (N, 2, 25, 25) (HH, HV) for ms+sar models, else None.
            is_canceled: checked before every batch; True raises ``Canceled``.
            on_batch: told the number of patches done after every batch.
        """

        def forward(start: int, stop: int) -> PatchPredictions:
            chunk_sar = None if sar is None else sar[start:stop]
            return self._read(
                self._generate(s2[start:stop], chunk_sar, [self._prompt] * (stop - start))
            )

        parts = map_batches(forward, s2.shape[0], self.sizer, is_canceled, on_batch)
        return PatchPredictions.concat(parts, self.has_uncertainty)

    def answer(
        self, s2: np.ndarray, sar: np.ndarray | None, question: str, max_new_tokens: int
    ) -> GenerationOutput:
        """Free generation for N patches (N small: one batch) with any question."""
        encoded = self.processor.encode_dialogue(prompt_messages(question), generation=True)
        return self._generate(s2, sar, [encoded] * s2.shape[0], max_new_tokens)

    def predict_block(
        self,
        block: PatchBlock,
        is_canceled: IsCanceled | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> BlockResult:
        """Answer every kept patch of a streamed block; ``on_batch(done, kept)`` after each batch."""
        check_canceled(is_canceled)
        s2, sar = self.block_patches(block)
        kept = s2.shape[0]
        predictions = self.predict_patches(
            s2, sar, is_canceled, None if on_batch is None else lambda done: on_batch(done, kept)
        )
        return scatter(block, predictions)

    def block_patches(self, block: PatchBlock) -> tuple[np.ndarray, np.ndarray | None]:
        """The kept patches of a block in the model's band order: (K, bands, 25, 25), (K, 2, 25, 25)."""
        try:
            index = [block.band_order.index(band) for band in self.config.bands]
        except ValueError:
            raise InputError(
                f"The patches hold bands {list(block.band_order)}; the model reads "
                f"{list(self.config.bands)}. Open the input with the model's bands."
            ) from None
        s2 = block.s2[block.keep][:, index]
        wants_sar = self.config.modality == "ms+sar"
        sar = block.sar[block.keep] if wants_sar and block.sar is not None else None
        return s2, sar

    # --- model -----------------------------------------------------------------------------------
    def _generate(
        self,
        s2: np.ndarray,
        sar: np.ndarray | None,
        encoded: list[dict],
        max_new_tokens: int | None = None,
    ) -> GenerationOutput:
        pixels = self.processor.pixel_values(self.processor.images(s2, sar))
        batch = self.processor.collate(encoded, pixels, padding_side="left")
        batch = batch.to(self.device, self.dtype)
        with torch.inference_mode():
            return self.model.generate(batch, max_new_tokens=max_new_tokens or self.max_new_tokens)

    def _read(self, out: GenerationOutput) -> PatchPredictions:
        classes = [parse_land_cover(text) for text in out.texts]
        counts = [parse_count(text) for text in out.texts]
        return PatchPredictions(
            agb=out.agb.float().cpu().numpy().astype(np.float32),
            agb_std=None
            if out.agb_std is None
            else out.agb_std.float().cpu().numpy().astype(np.float32),
            land_cover=np.array(
                [UNKNOWN_CLASS if c is None else c for c in classes], dtype=np.uint8
            ),
            patch_count=np.array(
                [COUNT_NODATA if n is None else min(n, MAX_COUNT) for n in counts], dtype=np.uint8
            ),
            texts=list(out.texts),
        )


def scatter(block: PatchBlock, predictions: PatchPredictions) -> BlockResult:
    """Put the answers of a block's kept patches back on the block's (R, C) grid."""
    shape, keep = block.keep.shape, block.keep

    def filled(values: np.ndarray, fill, dtype) -> np.ndarray:
        grid = np.full(shape, fill, dtype=dtype)
        grid[keep] = values
        return grid

    return BlockResult(
        row=block.row,
        col=block.col,
        keep=keep.copy(),
        agb=filled(predictions.agb, np.nan, np.float32),
        agb_std=None
        if predictions.agb_std is None
        else filled(predictions.agb_std, np.nan, np.float32),
        land_cover=filled(predictions.land_cover, 255, np.uint8),
        patch_count=filled(predictions.patch_count, COUNT_NODATA, np.uint8),
    )


def load_engine(
    folder: str | Path, options: EngineOptions | None = None, question: str = ESTIMATE_QUESTION
) -> InferenceEngine:
    """Load a checkpoint folder onto the chosen device, ready to answer patches."""
    options = options or EngineOptions()
    folder = check_model_folder(folder)
    device = choose_device(options.device)
    dtype = choose_dtype(device, options.dtype)
    logger.info("loading %s on %s (%s)", folder, device, str(dtype).replace("torch.", ""))
    loaded = load_checkpoint(folder, device=device, dtype=dtype)
    _set_threads(options.threads, device, loaded.model)
    if hasattr(loaded.model.base, "merge_adapter"):
        loaded.model.base.merge_adapter()  # LoRA folded into the weights: ~20% faster, same answers
    if options.visual_token_pool is not None:
        loaded = with_token_pool(loaded, options.visual_token_pool)
    return InferenceEngine(
        loaded, device, dtype, options.batch_size, options.max_new_tokens, question, folder
    )


def _set_threads(threads: int | None, device: torch.device, model) -> None:
    """torch's CPU threads: as asked, else one for small models on the CPU, else torch's default."""
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMETERS
    if threads is None and device.type == "cpu" and small:
        threads = 1
    if threads is not None:
        torch.set_num_threads(threads)
        logger.info("torch uses %d CPU thread(s)", threads)


def check_model_folder(folder: str | Path) -> Path:
    """``folder`` if it is a REO model folder; an error that says what to give otherwise."""
    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file():
        hint = "it does not exist" if not folder.exists() else f"it has no {CONFIG_NAME}"
        raise InputError(
            f"The model folder {folder} cannot be used: {hint}. Give a REO model folder "
            "(e.g. resources/demo-model/model, or the output of python -m reo_core.train)."
        )
    return folder


def with_token_pool(loaded: LoadedModel, pool: int) -> LoadedModel:
    """The same model with another visual token budget (``visual_token_pool``): faster when larger,
    but a budget the model was not trained with changes its answers; measure accuracy before use."""
    model = loaded.model
    if pool == model.config.visual_token_pool:
        return loaded
    trained = getattr(model, "trained_visual_token_pool", model.config.visual_token_pool)
    model.trained_visual_token_pool = trained
    previous = model.config.visual_token_pool
    model.config.visual_token_pool = pool
    try:
        tokens = model.tokens_per_image
    except ValueError as error:
        model.config.visual_token_pool = previous
        raise InputError(f"visual_token_pool {pool} does not fit this model: {error}") from None
    if pool != trained:
        logger.warning("visual_token_pool %d overrides the trained %d", pool, trained)
    old = loaded.processor
    processor = ReoProcessor(
        model.config, old.tokenizer, old.image_spec, tokens, old.image_token_id
    )
    return LoadedModel(model, processor)
