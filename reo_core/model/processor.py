"""Patches and dialogues -> model inputs: composite images, pixel values, token ids and masks.


Images: a patch becomes the composite images of its modality (reo_core.sensors.composites), each
resized and normalised as the base model's image processor says (its preprocessor_config.json).
Text: the LLaVA-1.5 conversation format, ``USER: <image>\\n{question} ASSISTANT: {answer}</s>``,
where ``<image>`` expands to every image's tokens. Only assistant answers are learned (labels);
the last answer's tokens are the domain text the regression head reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from reo_core.model.config import ReoConfig
from reo_core.model.hub import IMAGE_SETTINGS_NAME
from reo_core.model.spectral import band_statistics, standardised_reflectance
from reo_core.model.weights import read_json
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.sensors.composites import modality_images, reads_sar
from reo_core.sensors.statistics import DatasetStatistics, load_statistics

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IMAGE_PLACEHOLDER = "<image>"
IGNORE_INDEX = -100
_RESAMPLE_MODES = {2: "bilinear", 3: "bicubic"}  # PIL codes used in image processor configs


@dataclass
class ImageSpec:
    """What the base model's vision tower expects: read from its preprocessor_config.json."""

    size: int = 336
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    resample: str = "bicubic"

    @classmethod
    def from_folder(cls, folder: str | Path) -> ImageSpec:
        values = read_json(Path(folder) / IMAGE_SETTINGS_NAME, "the image settings")
        crop = values.get("crop_size") or values.get("size") or {}
        size = crop.get("height") or crop.get("shortest_edge") if isinstance(crop, dict) else crop
        return cls(
            size=int(size or cls.size),
            mean=tuple(values.get("image_mean", cls.mean)),
            std=tuple(values.get("image_std", cls.std)),
            resample=_RESAMPLE_MODES.get(values.get("resample", 3), "bicubic"),
        )


@dataclass
class ReoBatch:
    """Model inputs for B patches with ``n_images`` images each and L text positions."""

    pixel_values: torch.Tensor  # (B * n_images, 3, S, S)
    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    labels: torch.Tensor | None = None  # (B, L), IGNORE_INDEX outside assistant answers
    context_mask: torch.Tensor | None = None  # (B, L) bool: the domain-text tokens for the head
    agb: torch.Tensor | None = None  # (B,) Mg/ha, NaN where a sample has no AGB target
    spectral: torch.Tensor | None = None  # (B, F) float32 band statistics (spectral channel)
    reflectance: torch.Tensor | None = None  # (B, bands, 25, 25) float32 (spectral_conv)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> ReoBatch:
        moved = {
            name: None if value is None else value.to(device) for name, value in vars(self).items()
        }
        if dtype is not None:
            moved["pixel_values"] = moved["pixel_values"].to(dtype)
        return ReoBatch(**moved)


class ReoProcessor:
    """Turns patch arrays and dialogues into a :class:`ReoBatch` for one REO-VLM."""

    def __init__(
        self,
        config: ReoConfig,
        tokenizer: PreTrainedTokenizerBase,
        image_spec: ImageSpec,
        tokens_per_image: int,
        image_token_id: int,
    ) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.image_spec = image_spec
        self.tokens_per_image = tokens_per_image
        self.image_token_id = image_token_id
        self.statistics: DatasetStatistics = (
            DatasetStatistics.from_dict(config.statistics)
            if isinstance(config.statistics, dict)
            else load_statistics(config.statistics)
        )
        if tokenizer.pad_token_id is None:
            raise ValueError(
                "the tokenizer has no pad token; set one before building the processor"
            )

    @property
    def image_tokens(self) -> int:
        """Placeholder tokens one patch puts into the LLM's sequence: every image's tokens, then
        the spectral channel's LLM tokens (``llm_spectral_tokens``)."""
        return self.tokens_per_image * len(self.config.images) + self.config.llm_spectral_tokens

    # --- images --------------------------------------------------------------------------------
    def images(self, s2: np.ndarray, sar_db: np.ndarray | None = None) -> np.ndarray:
        """Composite images of B patches.

        Args:
            s2: reflectance (B, bands, 25, 25) in ``config.bands`` order, NaN for no data.
            sar_db: gamma-naught dB (B, 2, 25, 25) ordered HH, HV, for modality ms+sar.
        Returns:
            uint8 (B, n_images, 3, 25, 25).
        """
        self._check_patches(s2, sar_db)
        by_name = modality_images(
            self.config.modality, s2, self.config.bands, self.statistics, sar_db
        )
        return np.stack([by_name[name] for name in self.config.images], axis=1)

    def pixel_values(
        self,
        images: np.ndarray,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """uint8 (B, n_images, 3, h, w) -> normalised (B * n_images, 3, S, S).

        With ``device``, the uint8 images travel there first and are resized and normalised on
        it: 25 x 25 x 3 bytes per image cross the bus instead of 336 x 336 x 3 floats (x 720).
        Resizing runs in float32 wherever it runs; ``dtype`` is the result's.
        """
        tensor = torch.from_numpy(np.ascontiguousarray(images))
        if device is not None:
            tensor = tensor.to(device)
        tensor = tensor.flatten(0, 1).float() / 255.0
        size = self.image_spec.size
        resized = F.interpolate(
            tensor, size=(size, size), mode=self.image_spec.resample, align_corners=False
        )
        resized = resized.clamp(0.0, 1.0)
        mean = torch.tensor(self.image_spec.mean, device=resized.device).view(1, 3, 1, 1)
        std = torch.tensor(self.image_spec.std, device=resized.device).view(1, 3, 1, 1)
        values = (resized - mean) / std
        return values if dtype is None else values.to(dtype)

    def _check_patches(self, s2: np.ndarray, sar_db: np.ndarray | None) -> None:
        expected_bands = len(self.config.bands)
        if s2.ndim != 4 or s2.shape[1] != expected_bands:
            raise ValueError(
                f"Sentinel-2 patches must be (B, {expected_bands}, 25, 25) "
                f"for bands {list(self.config.bands)}; got {tuple(s2.shape)}"
            )
        if s2.shape[2:] != (PATCH_SIZE, PATCH_SIZE):
            raise ValueError(
                f"patches must be {PATCH_SIZE} x {PATCH_SIZE} pixels, "
                f"got {s2.shape[2]} x {s2.shape[3]}"
            )
        wants_sar = reads_sar(self.config.modality)
        if wants_sar and sar_db is None:
            raise ValueError(
                "this model reads modality 'ms+sar' and needs PALSAR-2 patches (B, 2, 25, 25)"
            )
        if not wants_sar and sar_db is not None:
            raise ValueError(
                f"this model reads modality '{self.config.modality}' and takes no PALSAR-2 patches"
            )
        if sar_db is not None and sar_db.shape != (s2.shape[0], 2, *s2.shape[2:]):
            raise ValueError(
                f"PALSAR-2 patches must be {(s2.shape[0], 2, *s2.shape[2:])}, "
                f"got {tuple(sar_db.shape)}"
            )

    def spectral(self, s2: np.ndarray, sar_db: np.ndarray | None = None) -> dict | None:
        """Inputs of the spectral channels (head, LLM) of B patches; None when the model has none.

        Returns:
            ``{"spectral": (B, F) float32}`` and, with a convolution (``spectral_conv``,
            ``llm_spectral_conv``), ``"reflectance": (B, bands, 25, 25) float32``
            (``reo_core.model.spectral``).
        """
        config = self.config
        if not config.reads_spectral:
            return None
        self._check_patches(s2, sar_db)
        inputs = {"spectral": band_statistics(s2, config.bands, self.statistics, sar_db)}
        if config.reads_reflectance:
            inputs["reflectance"] = standardised_reflectance(s2, config.bands, self.statistics)
        return inputs

    # --- text ----------------------------------------------------------------------------------
    def encode_dialogue(self, messages: list[dict], generation: bool = False) -> dict[str, list]:
        """Token ids, labels and domain-text mask of one dialogue.

        ``messages`` alternate user / assistant, starting with the user, whose first message holds
        one ``<image>``. With ``generation=True`` the dialogue ends with a user message and the ids
        end with the ``ASSISTANT:`` cue.
        """
        _check_roles(messages, generation)
        bos = self.tokenizer.bos_token_id
        ids = [bos] if bos is not None else []
        labels, context = [IGNORE_INDEX] * len(ids), [False] * len(ids)
        last_answer = len(messages) - 1 if not generation else -1
        for index, message in enumerate(messages):
            if message["role"] == "user":
                piece = self._user_ids(message["content"], first=index == 0)
                ids += piece
                labels += [IGNORE_INDEX] * len(piece)
                context += [False] * len(piece)
            else:
                answer = self._text_ids(" " + message["content"].strip())
                eos = [self.tokenizer.eos_token_id]
                ids += answer + eos
                labels += answer + eos
                if index == last_answer:
                    context[-1] = True  # the "ASSISTANT:" cue: its state starts the answer
                context += [index == last_answer] * len(answer) + [False]
        if generation:
            context[-1] = True  # the cue; generated tokens follow it
        text_tokens = len(ids) - self.image_tokens
        if text_tokens > self.config.max_text_tokens:
            raise ValueError(
                f"the dialogue has {text_tokens} text tokens, "
                f"more than max_text_tokens={self.config.max_text_tokens}"
            )
        return {"input_ids": ids, "labels": labels, "context_mask": context}

    def _user_ids(self, content: str, first: bool) -> list[int]:
        count = content.count(IMAGE_PLACEHOLDER)
        if count != (1 if first else 0):
            where = "the first user message" if first else "a later user message"
            raise ValueError(
                f"{where} must hold {1 if first else 0} '{IMAGE_PLACEHOLDER}', found {count}"
            )
        before, _, after = content.partition(IMAGE_PLACEHOLDER) if first else ("", "", content)
        ids = self._text_ids("USER: " + before)
        if first:
            ids += [self.image_token_id] * self.image_tokens
        return ids + self._text_ids(after.rstrip() + " ASSISTANT:")

    def _text_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def collate(
        self,
        encoded: list[dict[str, list]],
        pixel_values: torch.Tensor,
        agb: list[float] | None = None,
        padding_side: str = "right",
        spectral: dict | list[dict | None] | None = None,
    ) -> ReoBatch:
        """Pad encoded dialogues into a batch (left padding for generation).

        ``spectral``: :meth:`spectral` of the batch's patches, or a list of one per item.
        """
        length = max(len(e["input_ids"]) for e in encoded)
        pad = self.tokenizer.pad_token_id

        def padded(values: list, fill: int | bool) -> list:
            gap = [fill] * (length - len(values))
            return gap + values if padding_side == "left" else values + gap

        input_ids = torch.tensor([padded(e["input_ids"], pad) for e in encoded])
        attention = torch.tensor([padded([1] * len(e["input_ids"]), 0) for e in encoded])
        labels = torch.tensor([padded(e["labels"], IGNORE_INDEX) for e in encoded])
        context = torch.tensor(
            [padded(e["context_mask"], False) for e in encoded], dtype=torch.bool
        )
        targets = (
            None
            if agb is None
            else torch.tensor([np.nan if a is None else a for a in agb], dtype=torch.float32)
        )
        extra = _spectral_tensors(spectral)
        return ReoBatch(pixel_values, input_ids, attention, labels, context, targets, **extra)


def _check_roles(messages: list[dict], generation: bool) -> None:
    if not messages:
        raise ValueError("a dialogue needs at least one message")
    for index, message in enumerate(messages):
        expected = "user" if index % 2 == 0 else "assistant"
        if message.get("role") != expected:
            raise ValueError(
                f"message {index} must have role '{expected}', got '{message.get('role')}'"
            )
    if generation and messages[-1]["role"] != "user":
        raise ValueError("for generation the dialogue must end with a user message")
    if not generation and messages[-1]["role"] != "assistant":
        raise ValueError("for training the dialogue must end with an assistant answer")


def _spectral_tensors(spectral: dict | list[dict | None] | None) -> dict[str, torch.Tensor]:
    """Batch tensors of the spectral inputs (one dict, or one per item to stack)."""
    if isinstance(spectral, list):
        if all(item is None for item in spectral):
            return {}
        if any(item is None for item in spectral):
            raise ValueError("some items of the batch have spectral inputs and others not")
        spectral = {key: np.concatenate([item[key] for item in spectral]) for key in spectral[0]}
    if not spectral:
        return {}
    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in spectral.items()}
