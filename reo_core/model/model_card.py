"""The model card (README.md) written into every checkpoint folder."""

from __future__ import annotations

from reo_core.model.config import ReoConfig


def model_card(config: ReoConfig, parameters: dict[str, int], training: str = "") -> str:
    """Markdown that says what the model reads, how it was built and what it must not be used
    for."""
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
{_facts_table(config, parameters)}

Files: `reo_config.json` (this model's configuration), `adapter_model.safetensors` (LoRA),
`heads.safetensors` (reverse projection, spectral channels and regression head), tokenizer and
image-processor files.
Load with `reo_core.model.checkpoint.load_checkpoint(folder)`.

{training}
{notes}
"""


def _facts_table(config: ReoConfig, parameters: dict[str, int]) -> str:
    """The rows of the card's table of facts (Markdown, one ``| fact | value |`` a line)."""
    statistics = config.statistics
    statistics_name = (
        statistics if isinstance(statistics, str) else statistics.get("name", "custom")
    )
    mean_by_mse = config.uncertainty == "gaussian" and config.gaussian_mean_loss == "mse"
    rows = {
        "modality": f"`{config.modality}`: images {', '.join(config.images)}",
        "Sentinel-2 bands": ", ".join(config.bands),
        "scaling statistics": statistics_name,
        "visual tokens": f"pool {config.visual_token_pool} x {config.visual_token_pool}; "
        f"head strategy `{config.token_strategy}`",
        "regression head": f"{config.head_depth} mixer layers; uncertainty `{config.uncertainty}`"
        f"{' (mean trained by MSE)' if mean_by_mse else ''}; "
        f"spectral tokens {config.spectral_tokens or 'none'}"
        f"{' (with convolution)' if config.spectral_conv else ''}",
        "LLM input": f"{config.llm_spectral_tokens or 'no'} spectral tokens"
        f"{' (with convolution)' if config.llm_spectral_conv else ''} after the image tokens",
        "LoRA": f"r={config.lora_r}, alpha={config.lora_alpha}, "
        f"targets {', '.join(config.lora_targets)}",
        "template version": config.template_version or "-",
        "parameters": f"{parameters.get('total', 0):,} in all; {parameters.get('lora', 0):,} LoRA; "
        f"{parameters.get('heads', 0):,} in the heads",
    }
    return "\n".join(f"| {fact} | {value} |" for fact, value in rows.items())
