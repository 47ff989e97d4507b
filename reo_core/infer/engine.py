"""The inference engine: patches -> REO-VLM on a device -> AGB, its spread, land cover and patch
count.

Every patch gets one generation from the fixed AGB question (``prompt.ESTIMATE_QUESTION``), with the
KV cache. The generated domain text gives the land-cover class (``parse_land_cover``) and the patch
count (``parse_count``); the regression head reads the same text's hidden states for AGB, and the
uncertainty head, when the checkpoint has one, for its standard deviation. Batches halve themselves
on GPU out-of-memory; ``is_canceled()`` is checked before every batch.

What makes it fast (issue 14; each is an :class:`EngineOptions` field, each tested to give the
answers of the plain path, tests/infer/test_levers.py):

- the 25 px composites travel to the device as uint8 and are resized and normalised there;
- the lean greedy decoder (``reo_core.model.decoding``): only the last layer's state of the newest
  position, the LM head on one position; optional static KV cache and CUDA graphs;
- the answer follows the template's grammar (``constrained``), and the map's answers are never
  longer than the longest answer of that grammar;
- the vision tower runs only up to the deepest layer anything reads (``ReoVLM.vision_depth``);
- SDPA attention; the batch size from the free GPU memory (``batch_size=None``);
- the next block is read and composited on the host while the device answers this one
  (:meth:`InferenceEngine.read_ahead`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from reo_core.answers import parse_count, parse_land_cover
from reo_core.errors import InputError
from reo_core.infer.answer_types import answer_grammar, question_type
from reo_core.infer.batching import (
    BatchSizer,
    IsCanceled,
    batch_size_for_memory,
    check_canceled,
    map_batches,
)
from reo_core.infer.device import choose_device, choose_dtype
from reo_core.infer.engine_options import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_NEW_TOKENS,
    EngineOptions,
)
from reo_core.infer.predictions import (
    COUNT_NODATA,
    MAX_COUNT,
    UNKNOWN_CLASS,
    BlockResult,
    PatchPredictions,
    PreparedBlock,
    scatter,
)
from reo_core.infer.prefetch import read_ahead
from reo_core.infer.prompt import ESTIMATE_QUESTION, prompt_messages
from reo_core.instruct.templates import TEMPLATE_VERSION
from reo_core.model.checkpoint import (
    LoadedModel,
    base_parameter_count,
    load_checkpoint,
)
from reo_core.model.config import CONFIG_NAME, ReoConfig
from reo_core.model.constrained import GrammarConstraint, VocabularyTrie, longest_answer_tokens
from reo_core.model.processor import ReoProcessor
from reo_core.model.reo_vlm import GenerationOutput, ReoVLM
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.raster.reader import PatchBlock
from reo_core.sensors.composites import reads_sar

logger = logging.getLogger(__name__)

# Below this many parameters a CPU model runs on one thread by default: its matrix products are too
# small for threads to pay off, and threads spin-waiting for cores that another process (QGIS, a
# training run) holds make it 5-30x slower (bench/predict.py). On a GPU such a model runs in
# float32 unless a dtype is asked for.
SMALL_MODEL_PARAMETERS = 50_000_000


class InferenceEngine:
    """A loaded model on its device, answering batches of patches.

    Args:
        loaded: model and processor (``load_checkpoint``), already on ``device`` in ``dtype``.
        options: batch size, answer length and the levers (:class:`EngineOptions`).
        question: the question asked of every patch by :meth:`predict_patches`.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        device: torch.device,
        dtype: torch.dtype,
        options: EngineOptions | None = None,
        question: str = ESTIMATE_QUESTION,
        folder: Path | None = None,
    ) -> None:
        self.checkpoint = loaded  # as loaded: its own token budget
        self.options = options or EngineOptions()
        pool = self.options.visual_token_pool
        self.loaded = loaded if pool is None else with_token_pool(loaded, pool)
        self.device, self.dtype = device, dtype
        self.sizer = BatchSizer(self.options.batch_size or DEFAULT_BATCH_SIZE)
        self.requested_new_tokens = self.options.max_new_tokens
        self.folder = folder
        self.question = question
        self._prompt = self.processor.encode_dialogue(prompt_messages(question), generation=True)
        self._vocabulary: VocabularyTrie | None = None
        self._constraints: dict[int, GrammarConstraint] = {}  # by grammar, so caches persist
        self._longest: dict[int, int] = {}

    @property
    def model(self) -> ReoVLM:
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
        self.loaded = with_token_pool(self.checkpoint, pool)
        self._prompt = self.processor.encode_dialogue(
            prompt_messages(self.question), generation=True
        )

    # --- answers that follow the templates --------------------------------------------------------
    @property
    def constrains(self) -> bool:
        """Whether answers are held to the templates' grammar (the model learned these
        templates)."""
        trained = self.config.template_version
        return self.options.constrained and (not trained or trained == TEMPLATE_VERSION)

    def constraint_for(self, question: str) -> GrammarConstraint | None:
        """The grammar constraint of ``question``'s answer type; None for free questions."""
        if not self.constrains:
            return None
        grammar = answer_grammar(question_type(question), self.config.class_codes)
        if grammar is None:
            return None
        key = id(grammar)  # grammars are cached by answer_grammar, so one object per kind
        if key not in self._constraints:
            if self._vocabulary is None:
                self._vocabulary = VocabularyTrie(self.processor.tokenizer)
            eos = self.processor.tokenizer.eos_token_id
            self._constraints[key] = GrammarConstraint(grammar, self._vocabulary, eos)
        return self._constraints[key]

    @property
    def max_new_tokens(self) -> int:
        """Answer length of the map's question: the longest answer its grammar has (+ EOS), past
        which nothing more could be parsed, or less when asked for (``options.max_new_tokens``)."""
        longest = self._longest_answer(self.question)
        requested = self.requested_new_tokens
        if longest is None:
            return requested or DEFAULT_MAX_NEW_TOKENS
        return longest if requested is None else min(requested, longest)

    @max_new_tokens.setter
    def max_new_tokens(self, value: int | None) -> None:
        self.requested_new_tokens = value

    def _longest_answer(self, question: str) -> int | None:
        """Tokens of the longest answer (+ EOS) ``question`` may get; None when unconstrained."""
        constraint = self.constraint_for(question)
        if constraint is None:
            return None
        key = id(constraint)
        if key not in self._longest:
            tokenizer = self.processor.tokenizer
            self._longest[key] = longest_answer_tokens(constraint.answers, tokenizer) + 1
        return self._longest[key]

    # --- patches ---------------------------------------------------------------------------------
    def predict_patches(
        self,
        s2: np.ndarray,
        sar: np.ndarray | None = None,
        is_canceled: IsCanceled | None = None,
        on_batch: Callable[[int], None] | None = None,
        prepared: tuple[np.ndarray, dict | None] | None = None,
    ) -> PatchPredictions:
        """Answer the AGB question for N patches.

        Args:
            s2: reflectance (N, bands, 25, 25) in ``config.bands`` order, NaN = no data.
            sar: PALSAR-2 dB (N, 2, 25, 25) (HH, HV) for ms+sar models, else None.
            is_canceled: checked before every batch; True raises ``Canceled``.
            on_batch: told the number of patches done after every batch.
            prepared: the patches' composites and spectral inputs when already made
                (``prepare_block``); ``s2`` and ``sar`` are then not read.
        """
        images, spectral = prepared if prepared is not None else self._inputs(s2, sar)
        constraint = self.constraint_for(self.question)
        new_tokens = self.max_new_tokens

        def forward(start: int, stop: int) -> PatchPredictions:
            prompts = [self._prompt] * (stop - start)
            part = _rows(spectral, start, stop)
            out = self._generate(images[start:stop], prompts, new_tokens, constraint, part)
            return self._read(out)

        parts = map_batches(forward, images.shape[0], self.sizer, is_canceled, on_batch)
        return PatchPredictions.concat(parts, self.has_uncertainty)

    def answer(
        self,
        s2: np.ndarray,
        sar: np.ndarray | None,
        question: str,
        max_new_tokens: int,
        constrained: bool = True,
    ) -> GenerationOutput:
        """Generation for N patches (N small: one batch) with any question; the answer follows
        the grammar of the question's answer type unless ``constrained`` is False."""
        encoded = self.processor.encode_dialogue(prompt_messages(question), generation=True)
        constraint = self.constraint_for(question) if constrained else None
        images, spectral = self._inputs(s2, sar)
        prompts = [encoded] * s2.shape[0]
        return self._generate(images, prompts, max_new_tokens, constraint, spectral)

    def predict_block(
        self,
        block: PatchBlock,
        is_canceled: IsCanceled | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> BlockResult:
        """Answer every kept patch of a streamed block; ``on_batch(done, kept)`` after each
        batch."""
        check_canceled(is_canceled)
        if not isinstance(block, PreparedBlock):
            block = self.prepare_block(block)
        kept = block.images.shape[0]
        predictions = self.predict_patches(
            None,
            None,
            is_canceled,  # the inputs are made
            None if on_batch is None else lambda done: on_batch(done, kept),
            prepared=(block.images, block.spectral),
        )
        return scatter(block, predictions)

    def prepare_block(self, block: PatchBlock) -> PreparedBlock:
        """The host's work on a block: its kept patches in the model's bands, as composites."""
        images, spectral = self._inputs(*self.block_patches(block))
        return PreparedBlock(**vars(block), images=images, spectral=spectral)

    def read_ahead(self, blocks: Iterable[PatchBlock]) -> Iterator[PreparedBlock]:
        """``blocks`` prepared (read and composited) ``options.read_ahead`` blocks ahead, in a
        background thread, while the device answers the current one."""
        return read_ahead((self.prepare_block(b) for b in blocks), self.options.read_ahead)

    def block_patches(self, block: PatchBlock) -> tuple[np.ndarray, np.ndarray | None]:
        """The kept patches of a block in the model's band order: (K, bands, 25, 25),
        (K, 2, 25, 25)."""
        try:
            index = [block.band_order.index(band) for band in self.config.bands]
        except ValueError:
            raise InputError(
                f"The patches hold bands {list(block.band_order)}; the model reads "
                f"{list(self.config.bands)}. Open the input with the model's bands."
            ) from None
        s2 = block.s2[block.keep][:, index]
        wants_sar = reads_sar(self.config.modality)
        sar = block.sar[block.keep] if wants_sar and block.sar is not None else None
        return s2, sar

    # --- model -----------------------------------------------------------------------------------
    def _inputs(self, s2: np.ndarray, sar: np.ndarray | None) -> tuple[np.ndarray, dict | None]:
        """The host's inputs of N patches: uint8 composites (N, n_images, 3, 25, 25) and the
        spectral channel's full-precision inputs (None when the model has none)."""
        if s2.shape[0] == 0:
            empty = np.zeros((0, len(self.config.images), 3, PATCH_SIZE, PATCH_SIZE), np.uint8)
            return empty, None
        return self.processor.images(s2, sar), self.processor.spectral(s2, sar)

    def _generate(
        self,
        images: np.ndarray,
        encoded: list[dict],
        max_new_tokens: int,
        constraint: GrammarConstraint | None = None,
        spectral: dict | None = None,
    ) -> GenerationOutput:
        on_device = self.options.device_preprocessing
        pixels = self.processor.pixel_values(
            images, device=self.device if on_device else None, dtype=self.dtype
        )
        batch = self.processor.collate(encoded, pixels, padding_side="left", spectral=spectral)
        batch = batch.to(self.device, self.dtype)
        with torch.inference_mode():
            return self.model.generate(
                batch,
                max_new_tokens=max_new_tokens,
                options=self.options.decode_options(),
                constraint=constraint,
            )

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

    # --- batch size from memory ------------------------------------------------------------------
    def auto_batch_size(self) -> int:
        """The batch size that fits the free memory of the GPU (DEFAULT_BATCH_SIZE elsewhere)."""
        if self.device.type != "cuda":
            return DEFAULT_BATCH_SIZE
        free, _ = torch.cuda.mem_get_info(self.device)
        size = batch_size_from_probes(self._peak_memory, free)
        logger.info("batch size %d from %.1f GB of free GPU memory", size, free / 2**30)
        return size

    def _peak_memory(self, patches: int) -> int:
        """Peak bytes above the idle model while answering ``patches`` patches (CUDA)."""
        torch.cuda.synchronize(self.device)
        idle = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        s2 = np.full((patches, len(self.config.bands), PATCH_SIZE, PATCH_SIZE), 0.1, np.float32)
        sar = (
            np.full((patches, 2, PATCH_SIZE, PATCH_SIZE), -12.0, np.float32)
            if reads_sar(self.config.modality)
            else None
        )
        images, spectral = self._inputs(s2, sar)
        self._generate(images, [self._prompt] * patches, self.max_new_tokens, None, spectral)
        torch.cuda.synchronize(self.device)
        return torch.cuda.max_memory_allocated(self.device) - idle


def _rows(inputs: dict | None, start: int, stop: int) -> dict | None:
    return None if inputs is None else {k: v[start:stop] for k, v in inputs.items()}


PROBE_PATCHES = 4  # the second batch the memory probe runs (the first has one patch)


def batch_size_from_probes(peak_memory: Callable[[int], int], free_bytes: int) -> int:
    """Batch size from the peak memory of a 1-patch and a PROBE_PATCHES-patch batch."""
    one, many = peak_memory(1), peak_memory(PROBE_PATCHES)
    return batch_size_for_memory(free_bytes, one, max(many, one), PROBE_PATCHES)


def load_engine(
    folder: str | Path, options: EngineOptions | None = None, question: str = ESTIMATE_QUESTION
) -> InferenceEngine:
    """Load a checkpoint folder onto the chosen device, ready to answer patches."""
    options = options or EngineOptions()
    folder = check_model_folder(folder)
    device = choose_device(options.device)
    dtype = choose_dtype(device, options.dtype)
    small = dtype != torch.float32 and base_parameter_count(folder) < SMALL_MODEL_PARAMETERS
    if options.dtype == "auto" and small:
        # A small model gains nothing from half precision on a GPU, and in float32 the GPU's
        # answers are the CPU's (bf16 changed 4.4 % of the demo's classes, issue 14).
        dtype = torch.float32
    loaded = load_merged(folder, device, dtype, options.attention)
    _set_threads(options.threads, device, loaded.model)
    engine = InferenceEngine(loaded, device, dtype, options, question, folder)
    if options.batch_size is None:
        engine.sizer = BatchSizer(engine.auto_batch_size())
    return engine


def load_merged(
    folder: Path, device: torch.device, dtype: torch.dtype, attention: str | None = None
) -> LoadedModel:
    """A checkpoint loaded as inference uses it: its LoRA folded into the weights (about 20 %
    faster, the same answers). Stage 2 trains its head on the stage-1 model loaded this way."""
    logger.info("loading %s on %s (%s)", folder, device, str(dtype).replace("torch.", ""))
    loaded = load_checkpoint(folder, device=device, dtype=dtype, attention=attention)
    if hasattr(loaded.model.base, "merge_adapter"):
        loaded.model.base.merge_adapter()
    return loaded


def _set_threads(threads: int | None, device: torch.device, model: ReoVLM) -> None:
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
    """The model as loaded (``loaded`` is left as it is) with another visual token budget
    (``visual_token_pool``): faster when larger, but a budget the model was not trained with
    changes its answers; measure accuracy before use."""
    trained = loaded.model.config.visual_token_pool
    if pool == trained:
        return loaded
    try:
        model = loaded.model.with_token_pool(pool)
    except ValueError as error:
        raise InputError(f"visual_token_pool {pool} does not fit this model: {error}") from None
    logger.warning("visual_token_pool %d overrides the trained %d", pool, trained)
    old = loaded.processor
    processor = ReoProcessor(
        model.config, old.tokenizer, old.image_spec, model.tokens_per_image, old.image_token_id
    )
    return LoadedModel(model, processor)
