"""A tokenizer trained offline, for bases built here (no hub: real bases ship their own)."""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from reo_core.landcover import CLASSES

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", IMAGE_TOKEN)
DEFAULT_VOCAB_SIZE = 1024

# Words every REO dialogue uses, so a tokenizer trained on little text still splits them sensibly.
BASE_CORPUS = [
    "USER: ASSISTANT: What is the land cover of this patch? How many ecological patches are there?",
    "Is there any human activity, cropland, agriculture or built-up area? Yes. No.",
    "Estimate the above-ground biomass in Mg/ha. This patch is mostly",
    " ".join(str(n) for n in range(0, 101)),
    *(c.name for c in CLASSES.values()),
    *(c.short_name for c in CLASSES.values()),
]


def build_tokenizer(
    corpus: list[str], vocab_size: int = DEFAULT_VOCAB_SIZE
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with LLaVA's special tokens, trained on ``corpus`` + REO words."""
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    model.train_from_iterator([*BASE_CORPUS, *corpus] * 4, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=model,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=[IMAGE_TOKEN],
        padding_side="right",
    )
