"""The model card (README.md) written into every checkpoint folder."""

from __future__ import annotations

from reo_core.model.config import ReoConfig


def model_card(config: ReoConfig, parameters: dict[str, int], training: str = "") -> str:
    """Markdown that says what the model reads, how it was built and what it must not be used for."""
    notes = config.extra.get("card_notes", "")
    return f"""---
library_name: peft
base_model: {config.base_model}
tags: [reo, earth-observation, biomass, sentinel-2, llava, lora]
---

# REO-VLM checkpoint

A REO-VLM (vision-language model for above-ground biomass and land cover) on the LLaVA base
`{config.base_model}` (referenced, not copied: it must be available where this model is loaded).

| | |
|---|---|
| modality | `{config.modality}`: images {", ".join(config.images)} |
| Sentinel-2 bands | {", ".join(config.bands)} |
| scaling statistics | {config.statistics if isinstance(config.statistics, str) else config.statistics.get("name", "custom")} |
| visual tokens | pool {config.visual_token_pool} x {config.visual_token_pool}; head strategy `{config.token_strategy}` |
| regression head | {config.head_depth} mixer layers; uncertainty `{config.uncertainty}`{" (mean trained by MSE)" if config.uncertainty == "gaussian" and config.gaussian_mean_loss == "mse" else ""}; spectral tokens {config.spectral_tokens or "none"}{" (with convolution)" if config.spectral_conv else ""} |
| LLM input | {config.llm_spectral_tokens or "no"} spectral tokens{" (with convolution)" if config.llm_spectral_conv else ""} after the image tokens |
| LoRA | r={config.lora_r}, alpha={config.lora_alpha}, targets {", ".join(config.lora_targets)} |
| template version | {config.template_version or "-"} |
| parameters | {parameters.get("total", 0):,} in all; {parameters.get("lora", 0):,} LoRA; {parameters.get("heads", 0):,} in the heads |

Files: `reo_config.json` (this model's configuration), `adapter_model.safetensors` (LoRA),
`heads.safetensors` (reverse projection, spectral channels and regression head), tokenizer and
image-processor files.
Load with `reo_core.model.checkpoint.load_checkpoint(folder)`.

{training}
{notes}
"""
