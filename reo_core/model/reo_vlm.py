"""REO-VLM: a LLaVA base with visual token selection, reverse projection and a regression head.

One vision pass per batch feeds both the LLM (through the projector, tokens pooled to the
configured budget) and the regression head (hidden states of the selected layers). The LLM's
hidden states over the domain text (the assistant's answer, and the ``ASSISTANT:`` cue before it)
are pooled, mapped back to the vision width by the reverse projection, and read with the visual
tokens by the head. Generation uses the LLM's LM head with the KV cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reo_core.model.config import ReoConfig
from reo_core.model.processor import IGNORE_INDEX, ReoBatch
from reo_core.model.regression_head import HeadOutput, RegressionHead
from reo_core.model.visual_tokens import (
    head_tokens,
    pool_patch_tokens,
    pool_sequence,
    select_layers,
)

GAUSSIAN_NLL_EPS = 1e-6


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


class ReoVLM(nn.Module):
    """The whole model. ``base`` is a ``LlavaForConditionalGeneration``, possibly wrapped by peft."""

    def __init__(self, config: ReoConfig, base: nn.Module, tokenizer) -> None:
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
        self.regression_head = RegressionHead(
            num_tokens=len(self.head_layers) * tokens_per_layer + config.head_text_tokens,
            in_width=vision_width,
            width=width,
            depth=config.head_depth,
            channel_hidden=config.head_channel_hidden or 2 * width,
            token_hidden=config.head_token_hidden,
            uncertainty=config.uncertainty == "gaussian",
        )
        for module in (llava.model.vision_tower, llava.model.multi_modal_projector):
            module.requires_grad_(False)

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
    def tokens_per_image(self) -> int:
        if self.grid % self.config.visual_token_pool:
            raise ValueError(
                f"visual_token_pool {self.config.visual_token_pool} does not divide the {self.grid} x {self.grid} token grid"
            )
        return (self.grid // self.config.visual_token_pool) ** 2

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
                f"pixel_values must be ({expected}, 3, {size}, {size}) for {batch_size} patches, got {tuple(pixel_values.shape)}"
            )
        with torch.no_grad():  # the vision tower is frozen
            vision = llava.model.vision_tower(
                pixel_values, output_hidden_states=True, return_dict=True
            )
        hidden = vision.hidden_states  # embeddings + one entry per layer, each (N, 1 + G*G, Dv)
        feature = hidden[llava.config.vision_feature_layer]
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
        batch_size = batch.input_ids.shape[0]
        image_embeds, head_visual = self.encode_images(batch.pixel_values, batch_size)
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
            prediction = self.regress(head_visual, out.hidden_states[-1], batch.context_mask)
            agb, agb_std = self.to_agb(prediction)
            agb_loss = self._agb_loss(prediction, batch.agb)
        losses = [loss for loss in (lm_loss, agb_loss) if loss is not None]
        return ReoOutput(
            sum(losses) if losses else None, lm_loss, agb_loss, out.logits, agb, agb_std
        )

    def regress(
        self, head_visual: torch.Tensor, text_states: torch.Tensor, context_mask: torch.Tensor
    ) -> HeadOutput:
        """Regression head over visual tokens and the pooled, reverse-projected domain text."""
        text = pool_sequence(text_states.float(), context_mask, self.config.head_text_tokens)
        text = self.reverse_projection(text.to(self.reverse_projection.weight.dtype))
        tokens = torch.cat([head_visual.to(text.dtype), text], dim=1)
        return self.regression_head(tokens)

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
        return F.gaussian_nll_loss(mean, target, variance, eps=GAUSSIAN_NLL_EPS)

    # --- generation -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, batch: ReoBatch, max_new_tokens: int = 24) -> GenerationOutput:
        """Answer left-padded prompts; the regression head reads the answers' hidden states."""
        batch_size = batch.input_ids.shape[0]
        image_embeds, head_visual = self.encode_images(batch.pixel_values, batch_size)
        generated = self.base.generate(
            inputs_embeds=self.embed(batch.input_ids, image_embeds),
            attention_mask=batch.attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            output_hidden_states=True,
            return_dict_in_generate=True,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        tokens = (
            generated.sequences[:, -len(generated.hidden_states) :]
            if generated.sequences.shape[1]
            else generated.sequences
        )
        states, mask = self._answer_states(generated.hidden_states, tokens)
        prediction = self.regress(head_visual, states, mask)
        agb, agb_std = self.to_agb(prediction)
        texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return GenerationOutput(tokens, [t.strip() for t in texts], agb, agb_std)

    def _answer_states(
        self, step_states: tuple, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Last-layer states of the cue and of each generated token before the first EOS.

        Step 0 holds the prompt (its last position is the ``ASSISTANT:`` cue); step k >= 1 holds
        the state of the token generated at step k - 1, fed back as input.
        """
        cue = step_states[0][-1][:, -1:]  # (B, 1, D)
        fed = [step[-1][:, -1:] for step in step_states[1:]]  # states of tokens 0 .. n-2
        states = torch.cat([cue, *fed], dim=1)  # (B, n, D)
        is_eos = tokens[:, : states.shape[1] - 1] == self.tokenizer.eos_token_id
        before_eos = torch.cumsum(is_eos.long(), dim=1) == 0  # (B, n-1)
        cue_counts = before_eos.new_ones((tokens.shape[0], 1))  # even when EOS came first
        mask = torch.cat([cue_counts, before_eos], dim=1)
        return states, mask

    # --- training stages ------------------------------------------------------------------------
    def set_stage(self, stage: int) -> None:
        """Stage 1: only LoRA learns (cross-entropy), with any ``lora_full_modules``. Stage 2: only
        reverse projection and head (MSE or NLL)."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        for name, parameter in self.named_parameters():
            is_lora = "lora_" in name or ".modules_to_save." in name
            is_head = name.startswith(("reverse_projection.", "regression_head."))
            parameter.requires_grad_(is_lora if stage == 1 else is_head)


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
