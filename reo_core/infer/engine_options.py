"""How an :class:`~reo_core.infer.engine.InferenceEngine` runs a model: device, precision, batch
size, answer length, token budget and the speed levers (docs/architecture.md, "The levers")."""

from __future__ import annotations

from dataclasses import dataclass, fields

from reo_core.errors import InputError, check_choice
from reo_core.model.checkpoint import ATTENTION_CHOICES
from reo_core.model.decoding import DECODERS, DecodeOptions

DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_NEW_TOKENS = 32


@dataclass(frozen=True)
class EngineOptions:
    """How to run a model: device, precision, batch size, answer length, token budget, levers."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto (bf16/fp16 on GPU, fp32 on CPU) | float32 | bfloat16 | float16
    # Patches per forward; None = from the free memory on a GPU, DEFAULT_BATCH_SIZE elsewhere.
    # Halves itself on GPU out-of-memory either way.
    batch_size: int | None = None
    # Longest generated answer of the map's question; None = the longest answer its grammar has
    # (+ EOS), or DEFAULT_MAX_NEW_TOKENS when answers are not constrained.
    max_new_tokens: int | None = None
    visual_token_pool: int | None = None  # override the checkpoint's token budget (speed/accuracy)
    threads: int | None = None  # torch CPU threads; None = 1 for small CPU models, else default
    decoder: str = "lean"  # lean (reo_core.model.decoding) | hf (transformers' generate)
    static_cache: bool = False  # pre-allocated KV cache (lean decoder)
    compile: bool = False  # CUDA graphs for the decode step (needs static_cache)
    float32_logits: bool = True  # LM head in float32 on bf16/fp16 models (lean decoder)
    min_new_tokens: int = 0  # no EOS before this many tokens (benchmarks: equal work per patch)
    attention: str = "sdpa"  # sdpa | eager
    constrained: bool = True  # answers follow the templates' answer grammar
    device_preprocessing: bool = True  # resize and normalise the composites on the device
    read_ahead: int = 1  # blocks read and composited ahead on the host (0: none)

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"The batch size must be at least 1, got {self.batch_size}.")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}.")
        if self.visual_token_pool is not None and self.visual_token_pool < 1:
            raise InputError(f"visual_token_pool must be >= 1, got {self.visual_token_pool}.")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads must be >= 1, got {self.threads}.")
        check_choice("decoder", self.decoder, DECODERS)
        check_choice("attention", self.attention, ATTENTION_CHOICES)
        if self.read_ahead < 0:
            raise InputError(f"read_ahead must be >= 0, got {self.read_ahead}.")
        try:
            self.decode_options()
        except ValueError as error:
            raise InputError(f"{error}.") from None

    def decode_options(self) -> DecodeOptions:
        return DecodeOptions(
            self.decoder, self.static_cache, self.compile, self.float32_logits, self.min_new_tokens
        )

    def replace(self, **changes: object) -> EngineOptions:
        return EngineOptions(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})
