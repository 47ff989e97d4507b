"""REO-VLM: a LLaVA base with visual token selection, reverse projection and a regression head.

One vision pass per batch feeds both the LLM (through the projector, tokens pooled to the
configured budget) and the regression head (hidden states of the selected layers). The LLM's
hidden states over the domain text (the assistant's answer, and the ``ASSISTANT:`` cue before it)
are pooled, mapped back to the vision width by the reverse projection, and read with the visual
tokens by the head. Generation uses the LLM's LM head with the KV cache.

Beyond the paper, the spectral channel (``reo_core.model.spectral``) can feed the patch's
full-precision band statistics to the head (``spectral_tokens``, trained in stage 2) and to the
LLM (``llm_spectral_tokens``: input tokens after the image tokens, trained in stage 1).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from reo_core.model.config import ReoConfig
from reo_core.model.decoding import Constraint, DecodeOptions, LeanDecoder, answer_mask
from reo_core.model.processor import IGNORE_INDEX, ReoBatch
from reo_core.model.regression_head import HeadOutput, RegressionHead
from reo_core.model.spectral import SpectralEncoder, feature_names
from reo_core.model.visual_tokens import (
    head_tokens,
    pool_patch_tokens,
    pool_sequence,
    select_layers,
)
from reo_core.sensors.composites import reads_sar

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

GAUSSIAN_NLL_EPS = 1e-6
# What stage 2 trains, by parameter-name prefix.
HEAD_MODULES = ("reverse_projection.", "spectral_encoder.", "regression_head.")
# REO's modules before the LLM, trained in stage 1 with LoRA: the spectral channel into the LLM.
PROMPT_MODULES = ("spectral_prompt.",)
# What a checkpoint's heads.safetensors holds: every REO module outside the base.
REO_MODULES = HEAD_MODULES + PROMPT_MODULES


@dataclass
class ReoOutput:
    """What one forward pass gives; losses are None when their targets were not given."""

    loss: torch.Tensor | None
    lm_loss: torch.Tensor | None
    agb_loss: torch.Tensor | None
    logits: torch.Tensor  # (B, L, vocab)
    agb: torch.Tensor | None  # (B,) Mg/ha
    agb_std: torch.Tensor | None  # (B,) Mg/ha, with the uncertainty head


@dataclass
class GenerationOutput:
    """Generated answers and the regression head's AGB read from them."""

    token_ids: torch.Tensor  # (B, n_new)
    texts: list[str]
    agb: torch.Tensor  # (B,) Mg/ha
    agb_std: torch.Tensor | None  # (B,) Mg/ha


def _spectral_channel(
    config: ReoConfig, tokens: int, width: int, conv: bool
) -> SpectralEncoder | None:
    """A spectral channel of ``tokens`` tokens of ``width`` (None for 0 tokens): the model's band
    statistics, and with ``conv`` a convolution over its bands' reflectances."""
    if not tokens:
        return None
    features = len(feature_names(config.bands, reads_sar(config.modality)))
    return SpectralEncoder(features, tokens, width, len(config.bands) if conv else 0)


class ReoVLM(nn.Module):
    """The whole model. ``base`` is a ``LlavaForConditionalGeneration``, possibly wrapped by
    peft."""

    def __init__(
        self, config: ReoConfig, base: nn.Module, tokenizer: PreTrainedTokenizerBase
    ) -> None:
        super().__init__()
        self.config = config
        self.base = base
        self.tokenizer = tokenizer
        llava = self.llava
        vision_config, text_config = llava.config.vision_config, llava.config.text_config
        self.head_layers = select_layers(config.token_strategy, vision_config.num_hidden_layers)
        vision_width, text_width = vision_config.hidden_size, text_config.hidden_size
        tokens_per_layer = len(config.images) * (1 + config.head_grid**2)  # CLIP has a CLS token
        width = config.head_width or vision_width
        self.reverse_projection = nn.Linear(text_width, vision_width)
        self.spectral_encoder = _spectral_channel(
            config, config.spectral_tokens, vision_width, config.spectral_conv
        )
        self.spectral_prompt = _spectral_channel(
            config, config.llm_spectral_tokens, text_width, config.llm_spectral_conv
        )
        self.regression_head = RegressionHead(
            num_tokens=len(self.head_layers) * tokens_per_layer
            + config.head_text_tokens
            + config.spectral_tokens,
            in_width=vision_width,
            width=width,
            depth=config.head_depth,
            channel_hidden=config.head_channel_hidden or 2 * width,
            token_hidden=config.head_token_hidden,
            uncertainty=config.uncertainty == "gaussian",
        )
        for module in (llava.model.vision_tower, llava.model.multi_modal_projector):
            module.requires_grad_(False)
        # Run the vision tower only up to the deepest layer read (False: all layers, for tests).
        self.truncate_vision = True

    # --- the parts of the base ------------------------------------------------------------------
    @property
    def llava(self) -> nn.Module:
        """The LlavaForConditionalGeneration inside (peft wraps it as base_model.model)."""
        base = self.base
        return base.get_base_model() if hasattr(base, "get_base_model") else base

    @property
    def grid(self) -> int:
        vision = self.llava.config.vision_config
        return vision.image_size // vision.patch_size

    @property
    def feature_layer(self) -> int:
        """The vision layer the projector reads (1 = first), from LLaVA's
        ``vision_feature_layer``."""
        layer = self.llava.config.vision_feature_layer
        if not isinstance(layer, int):
            raise ValueError(f"vision_feature_layer must be one layer, got {layer}")
        return (
            layer if layer >= 0 else self.llava.config.vision_config.num_hidden_layers + 1 + layer
        )

    @property
    def vision_depth(self) -> int:
        """The deepest vision layer anything reads: the projector's and the head's layers."""
        return max([self.feature_layer, *self.head_layers])

    @property
    def tokens_per_image(self) -> int:
        if self.grid % self.config.visual_token_pool:
            raise ValueError(
                f"visual_token_pool {self.config.visual_token_pool} does not divide "
                f"the {self.grid} x {self.grid} token grid"
            )
        return (self.grid // self.config.visual_token_pool) ** 2

    def with_token_pool(self, pool: int) -> ReoVLM:
        """This model reading its images with another visual token budget: a new module over the
        same submodules and weights, its own config; this one is left as it is. ValueError if
        ``pool`` does not divide the token grid."""
        view = copy.copy(self)  # a new object; submodules and parameters are shared, not copied
        view.config = dataclasses.replace(self.config, visual_token_pool=pool)
        _ = view.tokens_per_image  # raises if the budget does not fit the grid
        return view

    # --- encoding -------------------------------------------------------------------------------
    def encode_images(
        self, pixel_values: torch.Tensor, batch_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One vision pass: LLM image embeddings and the head's visual tokens.

        Args:
            pixel_values: (B * n_images, 3, S, S)
        Returns:
            image_embeds (B, n_images * tokens_per_image, text width),
            head_visual (B, n_layers * n_images * (1 + head_grid^2), vision width)
        """
        llava = self.llava
        expected = batch_size * len(self.config.images)
        size = llava.config.vision_config.image_size
        if pixel_values.shape[0] != expected or tuple(pixel_values.shape[1:]) != (3, size, size):
            raise ValueError(
                f"pixel_values must be ({expected}, 3, {size}, {size}) for {batch_size} patches, "
                f"got {tuple(pixel_values.shape)}"
            )
        depth = self.vision_depth if self.truncate_vision else None
        with torch.no_grad(), _encoder_depth(llava.model.vision_tower, depth):  # frozen tower
            vision = llava.model.vision_tower(
                pixel_values, output_hidden_states=True, return_dict=True
            )
        hidden = vision.hidden_states  # embeddings + one entry per layer, each (N, 1 + G*G, Dv)
        feature = hidden[self.feature_layer]
        if llava.config.vision_feature_select_strategy == "default":
            feature = feature[:, 1:]
        projector = llava.model.multi_modal_projector
        trains_projector = any(p.requires_grad for p in projector.parameters())
        with torch.set_grad_enabled(trains_projector and torch.is_grad_enabled()):
            projected = projector(feature)  # (N, G*G, Dt); frozen unless lora_full_modules names it
        pooled = pool_patch_tokens(projected, self.config.visual_token_pool)
        image_embeds = pooled.reshape(batch_size, -1, pooled.shape[-1])
        layers = [head_tokens(hidden[layer], self.config.head_grid) for layer in self.head_layers]
        head_visual = torch.cat([t.reshape(batch_size, -1, t.shape[-1]) for t in layers], dim=1)
        return image_embeds, head_visual

    def patch_embeds(self, batch: ReoBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """What fills a patch's placeholder tokens, and the head's visual tokens.

        Returns:
            embeds (B, n_images * tokens_per_image + llm_spectral_tokens, text width): the image
            embeddings, then the spectral channel's LLM tokens; head_visual as ``encode_images``.
        """
        batch_size = batch.input_ids.shape[0]
        image_embeds, head_visual = self.encode_images(batch.pixel_values, batch_size)
        if self.spectral_prompt is None:
            return image_embeds, head_visual
        if batch.spectral is None:
            raise ValueError(
                "this model's LLM reads the patches' band statistics (llm_spectral_tokens "
                f"{self.config.llm_spectral_tokens}); "
                "make the batch with ReoProcessor.spectral inputs"
            )
        weight = self.spectral_prompt.project.weight
        reflectance = batch.reflectance if self.config.llm_spectral_conv else None
        spectral = self.spectral_prompt(
            batch.spectral.to(weight), None if reflectance is None else reflectance.to(weight)
        )  # (B, llm_spectral_tokens, text width)
        return torch.cat([image_embeds, spectral.to(image_embeds.dtype)], dim=1), head_visual

    def _head_spectral(self, batch: ReoBatch) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The head's spectral inputs of the batch: the reflectances only if its channel
        convolves them (so stage 2 records no input the head does not read)."""
        if self.spectral_encoder is None:
            return None, None
        return batch.spectral, batch.reflectance if self.config.spectral_conv else None

    def embed(self, input_ids: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        """Token embeddings with every image placeholder replaced by its image embedding."""
        image_mask = input_ids == self.llava.config.image_token_index  # (B, L)
        found, expected = int(image_mask.sum()), image_embeds.shape[0] * image_embeds.shape[1]
        if found != expected:
            raise ValueError(
                f"the text holds {found} image tokens but the images give {expected} embeddings"
            )
        embeds = self.llava.get_input_embeddings()(input_ids.masked_fill(image_mask, 0))
        return embeds.masked_scatter(image_mask[..., None], image_embeds.to(embeds.dtype))

    # --- training forward -----------------------------------------------------------------------
    def forward(self, batch: ReoBatch) -> ReoOutput:
        image_embeds, head_visual = self.patch_embeds(batch)
        wants_agb = batch.context_mask is not None and batch.agb is not None
        out = self.base(
            inputs_embeds=self.embed(batch.input_ids, image_embeds),
            attention_mask=batch.attention_mask,
            output_hidden_states=wants_agb,
            return_dict=True,
        )
        lm_loss = _lm_loss(out.logits, batch.labels) if batch.labels is not None else None
        agb = agb_std = agb_loss = None
        if wants_agb:
            states = out.hidden_states[-1]
            prediction = self.regress(
                head_visual, states, batch.context_mask, *self._head_spectral(batch)
            )
            agb, agb_std = self.to_agb(prediction)
            agb_loss = self._agb_loss(prediction, batch.agb)
        losses = [loss for loss in (lm_loss, agb_loss) if loss is not None]
        return ReoOutput(
            sum(losses) if losses else None, lm_loss, agb_loss, out.logits, agb, agb_std
        )

    def regress(
        self,
        head_visual: torch.Tensor,
        text_states: torch.Tensor,
        context_mask: torch.Tensor,
        spectral: torch.Tensor | None = None,
        reflectance: torch.Tensor | None = None,
    ) -> HeadOutput:
        """Regression head over visual tokens, the pooled, reverse-projected domain text and, with
        the spectral channel, the tokens of the patches' band statistics.

        Every input is a tensor with the batch first (or None), so what the head reads can be
        recorded per sample (stage 2 trains on exactly these inputs).

        Args:
            spectral: (B, F) band statistics; reflectance: (B, bands, 25, 25) (``spectral_conv``).
        """
        text = pool_sequence(text_states.float(), context_mask, self.config.head_text_tokens)
        text = self.reverse_projection(text.to(self.reverse_projection.weight.dtype))
        tokens = [head_visual.to(text.dtype), text]
        if self.spectral_encoder is not None:
            tokens.append(self._spectral_tokens(spectral, reflectance).to(text.dtype))
        return self.regression_head(torch.cat(tokens, dim=1))

    def _spectral_tokens(
        self, spectral: torch.Tensor | None, reflectance: torch.Tensor | None
    ) -> torch.Tensor:
        """(B, spectral_tokens, vision width) from the patches' spectral inputs."""
        if spectral is None:
            raise ValueError(
                "this model's head reads the patches' band statistics (spectral_tokens "
                f"{self.config.spectral_tokens}); make the batch with ReoProcessor.spectral inputs"
            )
        weight = self.spectral_encoder.project.weight
        reflectance = None if reflectance is None else reflectance.to(weight)
        return self.spectral_encoder(spectral.to(weight), reflectance)

    def to_agb(self, prediction: HeadOutput) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normalised head output -> Mg/ha, clipped to [0, agb_max]; std when the head has one."""
        cfg = self.config
        agb = (prediction.mean.float() * cfg.agb_std + cfg.agb_mean).clamp(0.0, cfg.agb_max)
        if prediction.log_variance is None:
            return agb, None
        return agb, torch.exp(0.5 * prediction.log_variance.float()) * cfg.agb_std

    def _agb_loss(self, prediction: HeadOutput, target_mg_ha: torch.Tensor) -> torch.Tensor | None:
        has_target = torch.isfinite(target_mg_ha)
        if not bool(has_target.any()):
            return None
        target = (target_mg_ha[has_target] - self.config.agb_mean) / self.config.agb_std
        mean = prediction.mean[has_target].float()
        if prediction.log_variance is None:
            return F.mse_loss(mean, target)
        variance = prediction.log_variance[has_target].float().exp()
        if self.config.gaussian_mean_loss == "mse":
            spread = F.gaussian_nll_loss(mean.detach(), target, variance, eps=GAUSSIAN_NLL_EPS)
            return F.mse_loss(mean, target) + spread
        return F.gaussian_nll_loss(mean, target, variance, eps=GAUSSIAN_NLL_EPS)

    # --- generation -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        batch: ReoBatch,
        max_new_tokens: int = 24,
        options: DecodeOptions | None = None,
        constraint: Constraint | None = None,
    ) -> GenerationOutput:
        """Answer left-padded prompts greedily; the regression head reads the answers' states.

        Args:
            options: which decoder (the lean one by default; ``hf`` is transformers' generate).
            constraint: restricts the tokens of each step (reo_core.model.constrained).
        """
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        options = options or DecodeOptions()
        image_embeds, head_visual = self.patch_embeds(batch)
        embeds = self.embed(batch.input_ids, image_embeds)
        if options.decoder == "hf":
            tokens, states = self._hf_generate(
                embeds, batch.attention_mask, max_new_tokens, constraint, options.min_new_tokens
            )
        else:
            decoder = LeanDecoder(
                self.llava, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id, options
            )
            decoded = decoder.decode(embeds, batch.attention_mask, max_new_tokens, constraint)
            tokens, states = decoded.tokens, decoded.states
        mask = answer_mask(tokens, states.shape[1], self.tokenizer.eos_token_id)
        prediction = self.regress(head_visual, states, mask, *self._head_spectral(batch))
        agb, agb_std = self.to_agb(prediction)
        texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return GenerationOutput(tokens, [t.strip() for t in texts], agb, agb_std)

    def _hf_generate(
        self,
        embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        max_new_tokens: int,
        constraint: Constraint | None,
        min_new_tokens: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """transformers' generate: (tokens (B, n), last-layer states (B, n, D)) of the answers.

        Step 0 of ``hidden_states`` holds the prompt (its last position is the ``ASSISTANT:``
        cue); step k >= 1 holds the state of the token generated at step k - 1, fed back as input.
        """
        generated = self.base.generate(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens or None,
            do_sample=False,
            output_hidden_states=True,
            return_dict_in_generate=True,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            logits_processor=None if constraint is None else [constraint],
        )
        steps = generated.hidden_states
        tokens = generated.sequences[:, -len(steps) :]
        states = torch.cat([step[-1][:, -1:] for step in steps], dim=1)  # (B, n, D)
        return tokens, states

    # --- training stages ------------------------------------------------------------------------
    def set_stage(self, stage: int) -> None:
        """Stage 1: only LoRA learns (cross-entropy), with any ``lora_full_modules`` and the
        spectral channel into the LLM. Stage 2: only reverse projection, the head's spectral
        channel and the head (MSE or NLL)."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        for name, parameter in self.named_parameters():
            is_lora = "lora_" in name or ".modules_to_save." in name
            stage1 = is_lora or name.startswith(PROMPT_MODULES)
            parameter.requires_grad_(stage1 if stage == 1 else name.startswith(HEAD_MODULES))


@contextmanager
def _encoder_depth(tower: nn.Module, depth: int | None) -> Iterator[None]:
    """Within the block, the vision tower's encoder runs only its first ``depth`` layers.

    Layers past the deepest one read cost time and give nothing; the tower's own forward (and its
    ``hidden_states``: embeddings, then one entry per layer run) is otherwise unchanged.
    """
    encoder = getattr(tower, "encoder", None) or getattr(
        getattr(tower, "vision_model", None), "encoder", None
    )
    layers = getattr(encoder, "layers", None)
    if depth is None or layers is None or depth >= len(layers):
        yield
        return
    encoder.layers = nn.ModuleList(list(layers)[:depth])
    try:
        yield
    finally:
        encoder.layers = layers


def _lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor | None:
    """Next-token cross-entropy over the assistant answers (labels != IGNORE_INDEX).

    Averaged over each dialogue's answer tokens, then over dialogues: every dialogue weighs the
    same, and a batch split across processes averages to exactly the loss of the whole batch.
    """
    shifted_labels = labels[:, 1:]
    counted = shifted_labels != IGNORE_INDEX  # (B, L-1)
    has_answer = counted.any(dim=1)
    if not bool(has_answer.any()):
        return None
    shifted_logits = logits[:, :-1].float()
    per_token = F.cross_entropy(
        shifted_logits.transpose(1, 2), shifted_labels.masked_fill(~counted, 0), reduction="none"
    )  # (B, L-1)
    per_dialogue = (per_token * counted).sum(dim=1) / counted.sum(dim=1).clamp(min=1)
    return per_dialogue[has_answer].mean()
