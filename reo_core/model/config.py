"""REO-VLM configuration: one validated dataclass, saved as JSON beside every checkpoint."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from reo_core.errors import InputError, check_choice
from reo_core.landcover import CLASSES
from reo_core.sensors.composites import MODALITY_IMAGES, bands_needed

logger = logging.getLogger(__name__)

CONFIG_NAME = "reo_config.json"
# Vision layers feeding the regression head: the paper's table 5 by the names of its rows
# (reo_core.model.visual_tokens.select_layers says which layers each picks), then REO's own.
PAPER_TOKEN_STRATEGIES = ("last_layer", "half_layers", "half_layers_deep", "all_layers")
TOKEN_STRATEGIES = (*PAPER_TOKEN_STRATEGIES, "even_spread")
# Names saved by REO 1.0 checkpoints -> the strategy that selects the same layers (even depths).
LEGACY_TOKEN_STRATEGIES = {
    "last": "last_layer",
    "every2": "half_layers",
    "half": "even_spread",
    "half_deep": "half_layers_deep",
    "all": "all_layers",
}
UNCERTAINTY_MODES = ("none", "gaussian")
GAUSSIAN_MEAN_LOSSES = ("nll", "mse")
PROMPT_FORMATS = ("llava-1.5",)
FULL_MODULES = ("embed_tokens", "lm_head", "multi_modal_projector")
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# The model's card line, in ``extra`` (shown by the plugin beside the model's numbers):
# CARD_TRAINED_ON: what it was trained on, one line; CARD_CAVEAT: present only when its numbers are
# no estimates for real places, saying why. A model for real use states no caveat.
CARD_TRAINED_ON, CARD_CAVEAT = "trained_on", "caveat"


@dataclass
class ReoConfig:
    """Every hyperparameter of REO-VLM around its LLaVA base, with its default.

    The base model itself (vision tower, projector, LLM) keeps its own ``config.json``; this config
    says which base, what the model reads (modality, bands, statistics) and how the REO parts are
    built.
    """

    # --- base and inputs -----------------------------------------------------------------------
    base_model: str = "llava-hf/llava-1.5-7b-hf"  # hub id or local folder, llava-hf layout
    modality: str = "ms"  # rgb | ms | ms+sar: which composite images a patch becomes
    bands: tuple[str, ...] = ()  # Sentinel-2 bands the model reads; () = what the modality needs
    statistics: str | dict = "agbd-2019-2020"  # name of a shipped set, or the statistics themselves
    class_codes: tuple[int, ...] = tuple(CLASSES)  # land-cover classes the model may answer
    template_version: str = ""  # REO-Instruct template version it was trained with
    prompt_format: str = "llava-1.5"  # how dialogues become the LLM's text
    # --- visual tokens -------------------------------------------------------------------------
    visual_token_pool: int = 1  # LLM tokens per image: (grid / pool)^2; 1 = the paper's 576
    token_strategy: str = "half_layers"  # vision layers feeding the head (paper, table 5)
    head_grid: int = 2  # per selected layer and image: CLS + head_grid^2 pooled patch tokens
    # --- regression head -----------------------------------------------------------------------
    head_depth: int = 4  # MLP-Mixer-like layers
    head_width: int = 0  # channel width of the head; 0 = the vision encoder's width (paper)
    head_channel_hidden: int = 0  # hidden size of the per-token MLP; 0 = 2 x head width
    head_token_hidden: int = 256  # hidden size of the token-mixing MLP
    head_text_tokens: int = 4  # domain-text states are pooled to this many head tokens
    uncertainty: str = "none"  # none | gaussian (predicts a spread, trained by Gaussian NLL)
    # What trains a gaussian head's mean: "nll" (with the spread, by Gaussian NLL) or "mse" (the
    # paper's loss; NLL then trains only the spread, around the mean held fixed). NLL lets the head
    # give hard patches a wide spread instead of a better mean (issue 11: held-out RMSE 56.0 against
    # 50.3 for MSE, demo recipe).
    gaussian_mean_loss: str = "nll"
    # Spectral channel (beyond the paper; reo_core.model.spectral): the patch's full-precision band
    # statistics -> a linear layer -> this many extra head tokens. 0 = off, as in the paper.
    spectral_tokens: int = 0
    spectral_conv: bool = False  # also a small convolution over the reflectances (needs tokens)
    # The spectral channel into the LLM as well (beyond the paper): the same inputs -> a linear
    # layer -> this many LLM input tokens after the image tokens, learned in stage 1 with LoRA, so
    # the generated answers (land cover, counts) read the full-precision reflectance too, not only
    # the 8-bit composites. 0 = off, as in the paper.
    llm_spectral_tokens: int = 0
    llm_spectral_conv: bool = False  # the LLM's channel convolves the reflectances too
    agb_mean: float = 66.97  # target scaling: the head predicts (AGB - mean) / std (AGBD's stats)
    agb_std: float = 98.67
    agb_max: float = 500.0  # predictions are clipped to [0, agb_max] Mg/ha
    # --- LoRA (stage 1) ------------------------------------------------------------------------
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS  # module names inside the LLM only
    # Modules trained in full beside LoRA in stage 1 (peft's modules_to_save). Empty for pretrained
    # bases (the paper). Bases built here have random weights: their frozen random embeddings cap
    # what LoRA can learn, and their random projector must be aligned as LLaVA's own pretraining
    # aligns it, so the demo trains ("embed_tokens", "lm_head", "multi_modal_projector").
    lora_full_modules: tuple[str, ...] = ()
    # --- limits --------------------------------------------------------------------------------
    max_text_tokens: int = 256  # longest prompt + answer text, image tokens not counted
    extra: dict = field(default_factory=dict)  # free-form notes kept with the checkpoint

    def __post_init__(self) -> None:
        self.bands = tuple(self.bands) or bands_needed(self.modality)
        self.class_codes = tuple(int(c) for c in self.class_codes)
        self.lora_targets = tuple(self.lora_targets)
        self.lora_full_modules = tuple(self.lora_full_modules)
        self.validate()

    def validate(self) -> None:
        check_choice("modality", self.modality, tuple(MODALITY_IMAGES))
        if self.token_strategy in LEGACY_TOKEN_STRATEGIES:
            raise ValueError(
                f"token_strategy '{self.token_strategy}' is an old name: say "
                f"'{LEGACY_TOKEN_STRATEGIES[self.token_strategy]}' (same layers); "
                "the paper's best, "
                "'Half layers' (every second layer from the top), is 'half_layers'"
            )
        check_choice("token_strategy", self.token_strategy, TOKEN_STRATEGIES)
        check_choice("uncertainty", self.uncertainty, UNCERTAINTY_MODES)
        check_choice("gaussian_mean_loss", self.gaussian_mean_loss, GAUSSIAN_MEAN_LOSSES)
        check_choice("prompt_format", self.prompt_format, PROMPT_FORMATS)
        missing = [b for b in bands_needed(self.modality) if b not in self.bands]
        if missing:
            raise ValueError(
                f"modality '{self.modality}' needs bands {missing}, not in bands {list(self.bands)}"
            )
        unknown = [c for c in self.class_codes if c not in CLASSES]
        if unknown:
            raise ValueError(
                f"class_codes {unknown} are not CGLS-LC100 classes; allowed: {sorted(CLASSES)}"
            )
        for name in (
            "visual_token_pool",
            "head_grid",
            "head_depth",
            "head_token_hidden",
            "head_text_tokens",
            "lora_r",
            "lora_alpha",
            "max_text_tokens",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for prefix in ("", "llm_"):  # the head's spectral channel and the LLM's
            tokens, conv = f"{prefix}spectral_tokens", f"{prefix}spectral_conv"
            if getattr(self, tokens) < 0:
                raise ValueError(f"{tokens} must be >= 0 (0 = off), got {getattr(self, tokens)}")
            if getattr(self, conv) and not getattr(self, tokens):
                raise ValueError(f"{conv} needs {tokens} >= 1 (its summary feeds them)")
        for name in ("head_width", "head_channel_hidden"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 = automatic), got {getattr(self, name)}")
        unknown_full = [m for m in self.lora_full_modules if m not in FULL_MODULES]
        if unknown_full:
            raise ValueError(
                f"lora_full_modules {unknown_full} not allowed; "
                f"choose from {', '.join(FULL_MODULES)}"
            )
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.agb_std <= 0 or self.agb_max <= 0:
            raise ValueError(
                f"agb_std and agb_max must be > 0, got {self.agb_std} and {self.agb_max}"
            )

    @property
    def reads_spectral(self) -> bool:
        """Whether the head or the LLM reads the spectral channel's band statistics."""
        return bool(self.spectral_tokens or self.llm_spectral_tokens)

    @property
    def reads_reflectance(self) -> bool:
        """Whether a spectral channel convolves the reflectances."""
        return self.spectral_conv or self.llm_spectral_conv

    @property
    def images(self) -> tuple[str, ...]:
        """Names of the images one patch becomes, in the order the model sees them."""
        return MODALITY_IMAGES[self.modality]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ReoConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown REO config key(s) {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> ReoConfig:
        """The config saved in a model folder; a damaged or foreign file is an InputError."""
        path = Path(folder) / CONFIG_NAME
        if not path.is_file():
            raise InputError(f"{folder} is not a REO model folder: it has no {CONFIG_NAME}.")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(
                f"{path} is not valid JSON ({error}); the model folder is damaged: copy it again."
            ) from None
        if not isinstance(values, dict):
            raise InputError(
                f"{path} holds no JSON object; the model folder is damaged: copy it again."
            )
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(
                f"{path} has key(s) {unknown} that this REO does not know: "
                "the model was saved by a newer REO or the file was edited. "
                "Update REO, or remove those keys."
            )
        try:
            return cls.from_dict(migrate_saved(values, path))
        except (TypeError, ValueError) as error:  # InputError too: say which file
            raise InputError(f"{path} holds an invalid REO config: {error}.") from None


def migrate_saved(values: dict, source: Path | str = CONFIG_NAME) -> dict:
    """A config saved by an older REO, with old names turned into the names of today."""
    strategy = values.get("token_strategy")
    if strategy in LEGACY_TOKEN_STRATEGIES:
        renamed = LEGACY_TOKEN_STRATEGIES[strategy]
        logger.info(
            "%s: token_strategy '%s' is read as '%s' (same layers)", source, strategy, renamed
        )
        values = {**values, "token_strategy": renamed}
    return values
