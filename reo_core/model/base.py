"""The LLaVA base: built from a config (tests, demo, the paper's shape) or loaded from a folder.

Real checkpoints (``llava-hf/llava-1.5-7b-hf``) and the small models made here share one layout and
one loading path: ``LlavaForConditionalGeneration.from_pretrained`` on a folder with
``config.json``, safetensors weights, tokenizer files and ``preprocessor_config.json``. Nothing is
ever downloaded while loading (``reo_core.model.hub``; ``python -m reo_core.model.download`` fetches
a hub base).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoTokenizer,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    PreTrainedTokenizerBase,
)

from reo_core.errors import InputError
from reo_core.model.hub import IMAGE_SETTINGS_NAME, check_base_folder
from reo_core.model.tokenizer import IMAGE_TOKEN, build_tokenizer
from reo_core.model.weights import check_base_weights


@dataclass
class BaseSpec:
    """Shape of a LLaVA-1.5-style base: CLIP vision tower + 2-layer MLP projector + Llama LLM."""

    vision_hidden: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    vision_intermediate: int = 4096
    image_size: int = 336
    patch_size: int = 14
    text_hidden: int = 4096
    text_layers: int = 32
    text_heads: int = 32
    text_intermediate: int = 11008
    vocab_size: int = 32064  # llava-1.5-7b-hf: Llama's 32000 + <image> + <pad>, padded to 64
    max_positions: int = 4096
    image_token_index: int = 32000

    def llava_config(
        self,
        image_token_index: int | None = None,
        vocab_size: int | None = None,
        pad_token_id: int | None = None,
    ) -> LlavaConfig:
        vision = CLIPVisionConfig(
            hidden_size=self.vision_hidden,
            num_hidden_layers=self.vision_layers,
            num_attention_heads=self.vision_heads,
            intermediate_size=self.vision_intermediate,
            image_size=self.image_size,
            patch_size=self.patch_size,
            projection_dim=768,
            hidden_act="quick_gelu",
        )
        text = LlamaConfig(
            hidden_size=self.text_hidden,
            num_hidden_layers=self.text_layers,
            num_attention_heads=self.text_heads,
            num_key_value_heads=self.text_heads,
            intermediate_size=self.text_intermediate,
            vocab_size=vocab_size or self.vocab_size,
            max_position_embeddings=self.max_positions,
            rms_norm_eps=1e-5,
            pad_token_id=pad_token_id,
        )
        grid = self.image_size // self.patch_size
        return LlavaConfig(
            vision_config=vision,
            text_config=text,
            image_token_index=self.image_token_index
            if image_token_index is None
            else image_token_index,
            image_seq_length=grid * grid,
            vision_feature_layer=-2,
            vision_feature_select_strategy="default",
            projector_hidden_act="gelu",
        )


# A base small enough for unit tests on a CPU: 56 px images, 4 x 4 tokens, 4 vision layers.
TINY_BASE = BaseSpec(
    vision_hidden=32,
    vision_layers=4,
    vision_heads=4,
    vision_intermediate=64,
    image_size=56,
    patch_size=14,
    text_hidden=64,
    text_layers=2,
    text_heads=4,
    text_intermediate=128,
    max_positions=2048,
)


def build_base(
    folder: str | Path,
    spec: BaseSpec,
    corpus: list[str] | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    full_vocabulary: bool = False,
) -> Path:
    """Make a randomly initialised base and save it in the llava-hf folder layout.

    The tokenizer is trained offline on ``corpus`` (a byte-level BPE, so any text encodes). The
    weights are made in ``dtype`` on ``device`` (a 7B base: bf16 on a GPU takes seconds, float32
    on a CPU minutes). ``full_vocabulary``: the LM head as wide as ``spec.vocab_size`` (the real
    model's cost) rather than the tokenizer's size.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(corpus or [])
    vocab = max(spec.vocab_size, len(tokenizer)) if full_vocabulary else len(tokenizer)
    config = spec.llava_config(
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vocab_size=vocab,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlavaForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    (folder / IMAGE_SETTINGS_NAME).write_text(
        json.dumps(clip_preprocessor(spec.image_size), indent=2) + "\n"
    )
    return folder


def clip_preprocessor(size: int) -> dict:
    """The image-processor settings of llava-hf checkpoints (CLIP's), at ``size`` pixels."""
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": size},
        "resample": 3,
        "do_center_crop": True,
        "crop_size": {"height": size, "width": size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "do_convert_rgb": True,
    }


def load_base(
    folder: str | Path,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    attention: str | None = None,
) -> tuple[LlavaForConditionalGeneration, PreTrainedTokenizerBase]:
    """(model, tokenizer) of the llava-hf base in ``folder``; safetensors only, no remote code,
    no network (``reo_core.model.checkpoint.resolve_base`` finds the folder of a hub id).

    ``attention``: "sdpa" (torch's fused attention) or "eager"; None = transformers' default.
    """
    folder = Path(folder)
    check_base_folder(folder)
    check_base_weights(folder)
    extra = {} if attention is None else {"attn_implementation": attention}
    try:
        model = LlavaForConditionalGeneration.from_pretrained(
            str(folder),
            dtype=dtype,
            use_safetensors=True,
            trust_remote_code=False,
            local_files_only=True,
            **extra,
        )
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), trust_remote_code=False, local_files_only=True
        )
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        lines = [
            line for line in str(error).splitlines() if line.strip() and "weights_only" not in line
        ]
        raise InputError(
            f"The base model in {folder} cannot be loaded: "
            f"{lines[0] if lines else type(error).__name__}. "
            "Copy the base folder again (llava-hf layout: config.json, *.safetensors, tokenizer).",
            details="\n".join(lines),
        ) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return model.to(device), tokenizer
